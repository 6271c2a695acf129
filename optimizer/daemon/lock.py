"""Single-instance lock: one daemon per database.

- SQLite: an exclusive `fcntl.flock` on `<database>.lock` beside the database file. The
  kernel drops the lock when the process dies, so a crash never leaves a stale lock.
- PostgreSQL: a session-level advisory lock (`pg_try_advisory_lock`) held on a dedicated
  connection for the daemon's lifetime; PostgreSQL releases it when the session ends.

A second daemon on the same database gets `InstanceLocked` (exit 1) with a
message that says which database and what to do. The HA issue replaces this with leader
election on PostgreSQL.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from optimizer.errors import OptimizerError

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection, Engine

#: Advisory-lock key: the first 8 bytes of sha256("fluence-optimizer daemon"), as int64.
ADVISORY_KEY = 0x1F0E_5A3D_7C21_0B64


class InstanceLocked(OptimizerError):
    """Another daemon already runs on this database."""

    exit_code = 1


class InstanceLock:
    """Hold the single-instance lock for an engine's database. Use as a context manager
    or call `acquire()` / `release()`. `acquire()` raises InstanceLocked when taken."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._fd: int | None = None
        self._conn: Connection | None = None
        self._key = ADVISORY_KEY
        self.path: Path | None = None

    @property
    def held(self) -> bool:
        return self._fd is not None or self._conn is not None

    def describe(self) -> str:
        url = self.engine.url
        if url.get_backend_name() == "sqlite":
            return str(self.path or url.database or ":memory:")
        return url.render_as_string(hide_password=True)

    def acquire(self) -> InstanceLock:
        backend = self.engine.url.get_backend_name()
        if backend == "sqlite":
            self._acquire_file()
        elif backend == "postgresql":
            self._acquire_advisory()
        else:  # pragma: no cover - only SQLite and PostgreSQL are supported
            raise OptimizerError(f"no single-instance lock for database backend {backend!r}")
        return self

    def _acquire_file(self) -> None:
        database = self.engine.url.database
        if not database or database == ":memory:" or database.startswith("file::memory:"):
            return  # an in-memory database cannot be shared between processes
        self.path = Path(database).with_name(Path(database).name + ".lock")
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _read_pid(fd)
            os.close(fd)
            raise InstanceLocked(
                f"another fluence-optimizer daemon{holder} already uses the database "
                f"{database}; stop it first (only one daemon may run per database)",
                lock=str(self.path),
            ) from None
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        self._fd = fd

    def _acquire_advisory(self) -> None:
        import sqlalchemy as sa

        from optimizer.daemon.leader import lock_key

        conn = self.engine.connect()
        # the leader election's key: while a daemon replica leads, this lock is refused
        # (and while it is held, no replica can become leader)
        self._key = lock_key(conn.execute(sa.text("SELECT current_schema()")).scalar_one())
        got = conn.execute(sa.text("SELECT pg_try_advisory_lock(:k)"), {"k": self._key})
        ok = bool(got.scalar())
        conn.commit()
        if not ok:
            conn.close()
            raise InstanceLocked(
                "another fluence-optimizer daemon already holds the lock on the database "
                f"{self.describe()}; stop it first (only one daemon may run per database)"
            )
        self._conn = conn

    def release(self) -> None:
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None
        if self._conn is not None:
            import sqlalchemy as sa

            try:
                self._conn.execute(sa.text("SELECT pg_advisory_unlock(:k)"), {"k": self._key})
                self._conn.commit()
            finally:
                self._conn.close()
                self._conn = None

    def __enter__(self) -> InstanceLock:
        return self.acquire()

    def __exit__(self, *exc: Any) -> None:
        self.release()


def _read_pid(fd: int) -> str:
    try:
        raw = os.pread(fd, 32, 0).decode().strip()
    except OSError:
        return ""
    return f" (pid {raw})" if raw.isdigit() else ""
