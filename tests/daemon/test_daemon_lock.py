"""Single-instance lock: a second daemon on the same database is refused."""

from __future__ import annotations

import subprocess
import sys

import pytest

from optimizer.daemon.lock import InstanceLock, InstanceLocked
from optimizer.store.engine import create_engine


def test_second_lock_on_same_database_is_refused_with_clear_message(db_url: str) -> None:
    """Two engines on one database (SQLite file or PostgreSQL): the second acquire fails."""
    e1, e2 = create_engine(db_url), create_engine(db_url)
    try:
        with InstanceLock(e1):
            with pytest.raises(InstanceLocked) as exc:
                InstanceLock(e2).acquire()
            msg = str(exc.value)
            assert "another fluence-optimizer daemon" in msg
            assert "only one daemon may run per database" in msg
        # released: now the second one gets it
        with InstanceLock(e2) as lock:
            assert lock.held
    finally:
        e1.dispose()
        e2.dispose()


def test_lock_is_held_against_another_process_and_freed_when_it_dies(tmp_path) -> None:
    """flock is per open file: another process is refused, and a killed holder frees it."""
    db = tmp_path / "optimizer.db"
    code = (
        "import sys,time\n"
        "from optimizer.daemon.lock import InstanceLock\n"
        "from optimizer.store.engine import create_engine\n"
        f"InstanceLock(create_engine('sqlite:///{db}')).acquire()\n"
        "print('locked', flush=True)\n"
        "time.sleep(60)\n"
    )
    with subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True) as proc:
        _check(proc, db, tmp_path)


def _check(proc: subprocess.Popen, db, tmp_path) -> None:
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "locked"
        engine = create_engine(f"sqlite:///{db}")
        with pytest.raises(InstanceLocked, match=rf"pid {proc.pid}"):
            InstanceLock(engine).acquire()
        proc.kill()
        proc.wait(10)
        with InstanceLock(engine) as lock:
            assert lock.held and lock.path == tmp_path / "optimizer.db.lock"
        engine.dispose()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
