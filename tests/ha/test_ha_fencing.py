"""Leader election and fencing in-process, on a real PostgreSQL (own schema per test):
a stale leader's journal write is refused; a terminated lock session (network partition)
is noticed and taken over; SQLite goes through the same code path."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from optimizer.daemon.leader import LeaderElector, read_leader
from optimizer.errors import LeadershipLost
from optimizer.executor import journal as jr
from optimizer.store.engine import open_store
from optimizer.store.fencing import set_fence
from optimizer.store.tables.journal import JournalAction

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)


def _action(token: str) -> JournalAction:
    return JournalAction(
        fleet="web",
        kind="deploy",
        state="planned",
        token=token,
        created_at=NOW,
        updated_at=NOW,
    )


def _write(engine: Engine, token: str) -> JournalAction:
    """One journal write through the journal's own session (the executor's path)."""
    row = _action(token)
    with jr.session(engine) as s:
        s.add(row)
        s.commit()
    return row


def _acquire(elector: LeaderElector) -> None:
    deadline = time.monotonic() + 5
    while not elector.tick():
        assert time.monotonic() < deadline, "the follower never acquired the free lock"
        time.sleep(0.05)


def _tokens(engine: Engine) -> list[tuple[str, int | None]]:
    with engine.connect() as c:
        return [
            (r[0], r[1])
            for r in c.execute(
                sa.text("SELECT token, fencing_token FROM journal_action ORDER BY id")
            )
        ]


@pytest.fixture
def engines(pg_url: str) -> Iterator[tuple[Engine, Engine]]:
    """Two replicas' engines on one PostgreSQL schema."""
    a, b = open_store(pg_url), open_store(pg_url)
    yield a, b
    a.dispose()
    b.dispose()


def test_only_one_of_two_electors_leads(engines: tuple[Engine, Engine]) -> None:
    a_eng, b_eng = engines
    a, b = LeaderElector(a_eng, holder="a:1"), LeaderElector(b_eng, holder="b:2")
    try:
        assert a.tick() is True
        assert b.tick() is False
        assert a.tick() is True  # renewal keeps it
        info = read_leader(b_eng)
        assert (info.term, info.holder, info.lock_held) == (a.term, "a:1", True)
        a.close()  # clean shutdown releases the lock at once
        assert read_leader(b_eng).lock_held is False
        assert b.tick() is True
        assert b.term == (a_term := info.term) + 1 and a_term >= 1
    finally:
        a.close()
        b.close()


def test_stale_leader_journal_write_is_refused(engines: tuple[Engine, Engine]) -> None:
    a_eng, b_eng = engines
    old, new = LeaderElector(a_eng, holder="old:1"), LeaderElector(b_eng, holder="new:2")
    set_fence(a_eng, old.fence)
    set_fence(b_eng, new.fence)
    try:
        assert old.tick()
        row = _write(a_eng, "t-old-1")
        assert row.fencing_token == old.term
        old_term = old.term
        # the old leader "pauses": its lock session dies, a follower takes over
        with b_eng.connect() as c:
            c.execute(sa.text("SELECT pg_terminate_backend(:p)"), {"p": old.backend_pid})
            c.commit()
        deadline = time.monotonic() + 5
        while not new.tick():
            assert time.monotonic() < deadline, "follower never acquired the free lock"
            time.sleep(0.05)
        assert new.term == old_term + 1
        # the old leader resumes WITHOUT ticking first: still believes it leads
        assert old.term == old_term
        with pytest.raises(LeadershipLost, match="refused"):
            _write(a_eng, "t-old-2")
        assert not old.is_leader  # it stepped down on the refusal
        with pytest.raises(LeadershipLost):
            _write(a_eng, "t-old-3")
        _write(b_eng, "t-new-1")
        assert _tokens(b_eng) == [("t-old-1", old_term), ("t-new-1", old_term + 1)]
    finally:
        set_fence(a_eng, None)
        set_fence(b_eng, None)
        old.close()
        new.close()


def test_partition_of_lock_connection_steps_down_and_follower_takes_over(
    engines: tuple[Engine, Engine],
) -> None:
    a_eng, b_eng = engines
    a, b = LeaderElector(a_eng, holder="a:1"), LeaderElector(b_eng, holder="b:2")
    try:
        assert a.tick() and not b.tick()
        first = a.term
        with b_eng.connect() as c:
            assert c.execute(
                sa.text("SELECT pg_terminate_backend(:p)"), {"p": a.backend_pid}
            ).scalar()
            c.commit()
        t0 = time.monotonic()
        took = b.tick()
        while not took and time.monotonic() - t0 < 5:
            time.sleep(0.02)
            took = b.tick()
        assert took, "the follower did not take over after the leader's session died"
        # next tick of the partitioned leader: it notices and stays a follower
        assert a.tick() is False
        assert not a.is_leader and b.term == first + 1
        assert read_leader(a_eng).holder == "b:2"
    finally:
        a.close()
        b.close()


def test_sqlite_uses_the_same_term_row(tmp_path) -> None:
    eng = open_store(f"sqlite:///{tmp_path / 'o.db'}")
    e = LeaderElector(eng, holder="solo:1")
    set_fence(eng, e.fence)
    try:
        assert e.tick() and e.term == 1
        assert _write(eng, "t1").fencing_token == 1
        # someone bumps the term behind its back (e.g. a second elector after a restart)
        other = LeaderElector(eng, holder="solo:2")
        assert other.tick() and other.term == 2
        with pytest.raises(LeadershipLost):
            _write(eng, "t2")
        assert e.tick() is True and e.term == 3  # renew failed → stepped down → re-acquired
        assert read_leader(eng).lock_held is None
    finally:
        set_fence(eng, None)
        e.close()
        eng.dispose()


def test_stale_leader_cannot_change_the_account_through_the_client(
    engines: tuple[Engine, Engine],
) -> None:
    """The executor deletes and patches before journaling them: the daemon's client checks
    the term before every call that changes the account."""
    from optimizer.config import ApiConfig
    from optimizer.daemon.leader import FencedClient
    from optimizer.fluence.client import build_client
    from optimizer.sim import SimClock, Simulator

    sim = Simulator(seed=3, clock=SimClock.stepped())
    raw = build_client(ApiConfig(), transport=sim.transport(), api_key=sim.api_key)
    a_eng, b_eng = engines
    old, new = LeaderElector(a_eng, holder="old:1"), LeaderElector(b_eng, holder="new:2")
    try:
        assert old.tick()
        client = FencedClient(raw, old)
        vm_id = sim.add_foreign_vm("victim").id
        assert client.list_vms() is not None  # reads are never fenced
        # the old leader pauses; its session dies; the follower takes over
        with b_eng.connect() as c:
            c.execute(sa.text("SELECT pg_terminate_backend(:p)"), {"p": old.backend_pid})
            c.commit()
        _acquire(new)
        assert old.term == 1 and new.term == 2  # the old one has not noticed yet
        calls_before = dict(sim.requests)
        with pytest.raises(LeadershipLost):
            client.delete_vms([vm_id])
        with pytest.raises(LeadershipLost):
            client.patch_vms([])
        assert dict(sim.requests) == calls_before  # nothing reached the API
        assert any(v.id == vm_id and v.status == "Active" for v in client.list_vms())
    finally:
        old.close()
        new.close()
        raw.close()


def test_instance_lock_on_postgresql_is_refused_while_a_replica_leads(
    engines: tuple[Engine, Engine],
) -> None:
    """`fleets apply` takes the InstanceLock: on PostgreSQL it is the leader lock, so it
    never journals alongside a leading daemon, and no replica leads while it runs."""
    from optimizer.daemon.lock import InstanceLock, InstanceLocked

    a_eng, b_eng = engines
    leader = LeaderElector(a_eng, holder="a:1")
    try:
        assert leader.tick()
        with pytest.raises(InstanceLocked):
            InstanceLock(b_eng).acquire()
        leader.close()
        with InstanceLock(b_eng):
            blocked = LeaderElector(a_eng, holder="a:2")
            assert blocked.tick() is False
            blocked.close()
        follower = LeaderElector(a_eng, holder="a:3")
        assert follower.tick()
        follower.close()
    finally:
        leader.close()
