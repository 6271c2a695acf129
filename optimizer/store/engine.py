"""Opening the store: engine creation, SQLite tuning and schema versioning.

`open_store(url)` is what every command and the daemon call. It returns a SQLAlchemy
`Engine` whose schema is exactly the one this version of the code knows:

- an empty database is created at the newest revision automatically;
- an older schema raises `StoreError` asking for `fluence-optimizer db upgrade`
  (which calls `upgrade(url)`); upgrades are never implicit, so a downgrade of the
  package can't half-migrate a shared database;
- a schema newer than this code knows raises `StoreError` and is never touched.

SQLite (the default, one file) runs in WAL mode so readers never block the writer,
with a busy timeout and foreign keys on. PostgreSQL works with any
`postgresql+psycopg://` URL. Migrations are Alembic scripts shipped inside the package
(`optimizer/store/migrations/versions/`) and run programmatically: no alembic.ini.

Alembic itself (about 0.2 s of imports) is loaded only when a migration has to run or
the scripts can't be read cheaply: the common case, a database already at the newest
revision, is one `SELECT` of `alembic_version` compared with the `revision =` lines of
the packaged scripts.
"""

from __future__ import annotations

import contextlib
import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import DBAPIError, SQLAlchemyError

from optimizer.errors import StoreError
from optimizer.private_files import create_private_file, make_private_dir

if TYPE_CHECKING:
    from alembic.config import Config as AlembicConfig

MIGRATIONS_DIR = Path(__file__).parent / "migrations"
BUSY_TIMEOUT_MS = 10_000
APP_DIR = "fluence-optimizer"


def default_url() -> str:
    """`sqlite:///$STATE_DIRECTORY/optimizer.db` under systemd, else
    `sqlite:///~/.local/state/fluence-optimizer/optimizer.db` (expanded)."""
    state = os.environ.get("STATE_DIRECTORY")
    if state:
        # systemd may pass several directories separated by ':'; the first is ours
        base = Path(state.split(":")[0])
    else:
        xdg = os.environ.get("XDG_STATE_HOME")
        base = (Path(xdg) if xdg else Path.home() / ".local" / "state") / APP_DIR
    return f"sqlite:///{base / 'optimizer.db'}"


def safe_url(url: str | sa.URL) -> str:
    """The URL with any password masked, for messages and logs."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except SQLAlchemyError:
        return "<unparseable database URL>"


def create_engine(url: str | None = None) -> Engine:
    """Create an engine for `url` (default: `default_url()`) without touching the schema.

    For a SQLite file the parent directory is created (0700) and the file itself (0600,
    so SQLite's -wal and -shm files get that mode too), whatever the umask. Raise
    StoreError when the URL is invalid or the directory can't be created.
    """
    url = url or default_url()
    try:
        parsed = make_url(url)
    except SQLAlchemyError as err:
        raise StoreError(f"invalid database URL: {err}") from None
    kwargs: dict[str, Any] = {}
    if parsed.get_backend_name() == "sqlite":
        db = parsed.database
        if db and db != ":memory:" and not db.startswith("file:"):
            path = Path(db).expanduser()
            try:
                make_private_dir(path.parent)
            except OSError as err:
                raise StoreError(
                    f"cannot create database directory {path.parent}: {err.strerror}"
                ) from None
            try:
                create_private_file(path)
            except OSError as err:
                raise StoreError(f"cannot create database {path}: {err.strerror}") from None
            parsed = parsed.set(database=str(path))
        kwargs["connect_args"] = {"timeout": BUSY_TIMEOUT_MS / 1000}
    else:
        kwargs["pool_pre_ping"] = True
    try:
        engine = sa.create_engine(parsed, **kwargs)
    except (SQLAlchemyError, ImportError) as err:
        raise StoreError(f"cannot use database {safe_url(parsed)}: {err}") from None
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", _sqlite_on_connect)
        event.listen(engine, "begin", _sqlite_on_begin)
    return engine


def writing(engine: Engine) -> Engine:
    """The engine for a write transaction: on SQLite it starts with `BEGIN IMMEDIATE`, so
    the write lock is taken (waiting up to the busy timeout) before the first read and a
    concurrent writer can't invalidate what the transaction read. Same engine elsewhere."""
    if engine.dialect.name != "sqlite":
        return engine
    return engine.execution_options(sqlite_begin="IMMEDIATE")


def _sqlite_on_begin(conn: sa.Connection) -> None:
    # pysqlite's own transaction handling skips DDL and starts transactions late; with
    # isolation_level=None (set on connect) we emit BEGIN ourselves, so migrations are
    # atomic and a transaction's reads and writes see one snapshot.
    opts = conn.get_execution_options()
    if opts.get("isolation_level") == "AUTOCOMMIT":
        return
    conn.exec_driver_sql(f"BEGIN {opts.get('sqlite_begin', 'DEFERRED')}")


def _sqlite_on_connect(dbapi_connection: Any, _record: Any) -> None:
    dbapi_connection.isolation_level = None  # transactions are begun by _sqlite_on_begin
    cur = dbapi_connection.cursor()
    try:
        # auto_vacuum only takes effect before the first table exists: new files get it,
        # so retention can give pages back with `PRAGMA incremental_vacuum`.
        cur.execute("PRAGMA auto_vacuum=INCREMENTAL")
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA synchronous=NORMAL")  # safe in WAL mode; fsync at checkpoint
    finally:
        cur.close()


def alembic_config(engine: Engine | None = None) -> AlembicConfig:
    """An Alembic config pointing at the packaged migrations (no ini file needed)."""
    from alembic.config import Config as AlembicConfig

    cfg = AlembicConfig()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    if engine is not None:
        cfg.attributes["engine"] = writing(engine)  # migrations hold the write lock
    return cfg


# the literal assignments Alembic reads from each script (`revision = "0008"`,
# `down_revision = "0007"` or `= None`); anything else (a tuple of parents, a computed
# value) is left to Alembic
_REVISION_RE = re.compile(r"""^revision(?:\s*:\s*str)?\s*=\s*["']([^"']+)["']\s*$""", re.M)
_DOWN_RE = re.compile(
    r"""^down_revision(?:\s*:[^=]+)?\s*=\s*(?:["']([^"']+)["']|(None))\s*$""", re.M
)


def _scripts_graph() -> dict[str, str | None] | None:
    """{revision: its parent} read from the packaged scripts' text, without importing
    Alembic or the scripts; None when a script is not in the simple form above."""
    graph: dict[str, str | None] = {}
    for path in sorted((MIGRATIONS_DIR / "versions").glob("*.py")):
        if path.name.startswith("_"):
            continue
        text = path.read_text(encoding="utf-8")
        rev, down = _REVISION_RE.findall(text), _DOWN_RE.findall(text)
        if len(rev) != 1 or len(down) != 1 or rev[0] in graph:
            return None
        graph[rev[0]] = down[0][0] or None
    return graph or None


def head_revision() -> str:
    """The newest schema revision this code knows."""
    graph = _scripts_graph()
    if graph is not None:
        heads = sorted(set(graph) - {p for p in graph.values() if p is not None})
    else:
        from alembic.script import ScriptDirectory

        heads = list(ScriptDirectory.from_config(alembic_config()).get_heads())
    if len(heads) != 1:
        raise StoreError(f"the packaged migrations have {len(heads)} heads, expected 1")
    return heads[0]


def known_revisions() -> set[str]:
    graph = _scripts_graph()
    if graph is not None:
        return set(graph)
    from alembic.script import ScriptDirectory

    script = ScriptDirectory.from_config(alembic_config())
    return {rev.revision for rev in script.walk_revisions()}


VERSION_TABLE = "alembic_version"  # Alembic's default, which env.py keeps


def current_revision(engine: Engine) -> str | None:
    """The database's schema revision, or None for a database never migrated. (What
    Alembic's `MigrationContext.get_current_revision()` answers, read directly.)"""
    with store_errors(engine), engine.connect() as conn:
        if not sa.inspect(conn).has_table(VERSION_TABLE):
            return None
        rows = conn.execute(sa.text(f"SELECT version_num FROM {VERSION_TABLE}")).scalars().all()
    if len(rows) > 1:
        raise StoreError(
            f"database {safe_url(engine.url)} records {len(rows)} schema revisions "
            f"({', '.join(sorted(rows))}), expected one"
        )
    return rows[0] if rows else None


def upgrade(url: str | None = None, revision: str = "head") -> tuple[str | None, str]:
    """Migrate the database at `url` to `revision`; return (before, after).

    Raise StoreError when the database is newer than this code or can't be written.
    """
    from alembic import command

    engine = create_engine(url)
    try:
        before = current_revision(engine)
        _refuse_newer(before, engine)
        with store_errors(engine):
            command.upgrade(alembic_config(engine), revision)
        return before, current_revision(engine) or "base"
    finally:
        engine.dispose()


def _refuse_newer(rev: str | None, engine: Engine) -> None:
    if rev is not None and rev not in known_revisions():
        raise StoreError(
            f"database {safe_url(engine.url)} has schema revision {rev}, created by a newer "
            f"fluence-optimizer (this version knows up to {head_revision()}); "
            "upgrade fluence-optimizer or use another database"
        )


def open_store(url: str | None = None) -> Engine:
    """Given a database URL (None: the default SQLite file), return an Engine whose schema
    is current.

    An empty database is created at the newest revision. Raise StoreError when the
    database can't be opened or written, when its schema is older (run
    `fluence-optimizer db upgrade`), or when it is newer than this version knows.
    """
    engine = create_engine(url)
    try:
        rev = current_revision(engine)
        head = head_revision()
        if rev is None:
            from alembic import command

            try:
                with store_errors(engine):
                    command.upgrade(alembic_config(engine), "head")
            except StoreError:
                # another process may have created the schema at the same moment
                if current_revision(engine) != head:
                    raise
            rev = current_revision(engine)
        if rev == head:
            return engine
        _refuse_newer(rev, engine)
        raise StoreError(
            f"database schema is at {rev}, this version needs {head}: "
            "run `fluence-optimizer db upgrade`"
        )
    except BaseException:
        engine.dispose()
        raise


def describe_db_error(err: BaseException, engine: Engine | None = None) -> str:
    """One clear line for a database failure (read-only, disk full, locked, unreachable)."""
    where = f"database {safe_url(engine.url)}" if engine is not None else "database"
    orig = getattr(err, "orig", None) or err
    text = str(orig).strip().splitlines()[0] if str(orig).strip() else type(orig).__name__
    low = text.lower()
    if "readonly" in low or "read-only" in low or "read only" in low:
        return f"{where} is read-only: check file and directory permissions ({text})"
    if "disk is full" in low or "no space" in low or "could not extend file" in low:
        return f"{where}: the disk is full ({text})"
    if "database is locked" in low:
        return f"{where} is locked by another process for too long ({text})"
    if "unable to open database" in low:
        return f"cannot open {where}: check the path and permissions ({text})"
    return f"{where}: {text}"


@contextlib.contextmanager
def store_errors(engine: Engine | None = None) -> Iterator[None]:
    """Turn database driver failures inside the block into one-line StoreErrors."""
    try:
        yield
    except StoreError:
        raise
    except (DBAPIError, sa.exc.OperationalError) as err:
        raise StoreError(describe_db_error(err, engine)) from None
    except OSError as err:
        raise StoreError(describe_db_error(err, engine)) from None
