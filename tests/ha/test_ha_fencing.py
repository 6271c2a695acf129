"""Leader election and fencing in-process, on a real PostgreSQL (own schema per test):
a stale leader's journal write is refused; a terminated lock session (network partition)
is noticed and taken over; SQLite goes through the same code path."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

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

#: ends a lock session and waits (up to 5 s) until its backend has exited: a plain
#: pg_terminate_backend only signals it, so the advisory lock may still be held for a moment
#: after it returns, and a follower that tries at once can lose that race
TERMINATE = "SELECT pg_terminate_backend(:p, 5000)"


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
            c.execute(sa.text(TERMINATE), {"p": old.backend_pid})
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
            assert c.execute(sa.text(TERMINATE), {"p": a.backend_pid}).scalar()
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
    """The executor deletes and patches (and the reaper deletes disks and IPs) before
    journaling them: the daemon's client checks the term before every call that changes
    the account."""
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
            c.execute(sa.text(TERMINATE), {"p": old.backend_pid})
            c.commit()
        _acquire(new)
        assert old.term == 1 and new.term == 2  # the old one has not noticed yet
        calls_before = dict(sim.requests)
        with pytest.raises(LeadershipLost):
            client.delete_vms([vm_id])
        with pytest.raises(LeadershipLost):
            client.patch_vms([])
        with pytest.raises(LeadershipLost):  # the reaper's deletes, too
            client.delete_disks(["disk-1"])
        with pytest.raises(LeadershipLost):
            client.delete_public_ips(["ip-1"])
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


# -- the leader's other writes: snapshots, VM observations, retention, alert state -------


def _take_over(old: LeaderElector, new: LeaderElector, new_eng: Engine) -> None:
    """A newer term for `new` while `old` still believes it leads (it is paused): on
    PostgreSQL the old leader's lock session dies first, on SQLite the term simply moves."""
    if old.backend_pid is not None:
        with new_eng.connect() as c:
            c.execute(sa.text(TERMINATE), {"p": old.backend_pid})
            c.commit()
    _acquire(new)
    assert new.term is not None and old.term is not None and new.term > old.term


def _row_counts(engine: Engine) -> dict[str, int]:
    from optimizer.store.tables import metadata

    with engine.connect() as c:
        return {
            name: c.execute(sa.select(sa.func.count()).select_from(t)).scalar_one()
            for name, t in metadata().tables.items()
            if name not in ("leader", "alembic_version")
        }


def test_a_deposed_leader_writes_no_snapshot_vm_retention_or_alert_state(db_url: str) -> None:
    """Only the leader snapshots and keeps alert state, and those writes are fenced like
    the journal: once another replica holds a newer term, the paused old leader's
    snapshot, failed-poll record, VM observations, retention, alert state, delivery queue
    and plan cash are each refused (LeadershipLost) and nothing of them is written; the
    new leader's same writes go through."""
    from optimizer.alerts.delivery import deliver, enqueue
    from optimizer.alerts.model import Alert
    from optimizer.alerts.rules import PlanSummary
    from optimizer.alerts.sinks import build_sinks
    from optimizer.alerts.state import reconcile
    from optimizer.alerts.tick import save_plan_cash
    from optimizer.config import ApiConfig, parse_config
    from optimizer.fluence.client import build_client
    from optimizer.sim import SimClock, Simulator
    from optimizer.store.ingest import ingest_snapshot, ingest_vms, record_failed_snapshot
    from optimizer.store.retention import roll_up

    sim = Simulator(seed=3, clock=SimClock.stepped())
    sim.add_foreign_vm("db-primary")
    client = build_client(
        ApiConfig(base_url="http://127.0.0.1:9"), transport=sim.transport(), api_key=sim.api_key
    )
    vms = client.list_vms()
    alert = Alert(key="budget.forecast:web", severity="warning", title="t", text="x", level=0.5)
    sinks = build_sinks(
        parse_config({"alerts": {"sinks": [{"kind": "webhook", "url": "http://127.0.0.1:9/h"}]}})
    )
    a_eng, b_eng = open_store(db_url), open_store(db_url)
    old, new = LeaderElector(a_eng, holder="old:1"), LeaderElector(b_eng, holder="new:2")
    set_fence(a_eng, old.fence)
    set_fence(b_eng, new.fence)

    def writes(engine: Engine) -> list:
        now = sim.now()
        return [
            lambda: ingest_snapshot(engine, sim.offers_json(None), now),
            lambda: record_failed_snapshot(engine, now, 10, "API down"),
            lambda: ingest_vms(engine, vms, now),
            lambda: roll_up(engine, now, raw_days=0),
            lambda: reconcile(engine, [alert], {"budget.forecast"}, now, deliver_to=["hook"]),
            lambda: enqueue(engine, sinks, [alert.with_status("firing", now)], now),
            lambda: deliver(engine, sinks, now),
            lambda: save_plan_cash(engine, {"web": PlanSummary("web")}, now),
        ]

    try:
        assert old.tick()
        for write in writes(a_eng):
            write()  # the leader writes
        sim.advance(timedelta(minutes=15))
        _take_over(old, new, b_eng)
        before = _row_counts(a_eng)
        for write in writes(a_eng):
            with pytest.raises(LeadershipLost):
                write()
        assert _row_counts(a_eng) == before  # nothing of any refused write landed
        assert not old.is_leader
        for write in writes(b_eng):
            write()  # the new leader's go through
        after = _row_counts(b_eng)
        assert after["snapshot"] > before["snapshot"]
        assert after["alert_delivery"] > before["alert_delivery"]
    finally:
        set_fence(a_eng, None)
        set_fence(b_eng, None)
        old.close()
        new.close()
        a_eng.dispose()
        b_eng.dispose()
        client.close()


def test_only_the_leader_snapshots_and_a_new_leader_snapshots_on_its_first_tick(
    pg_url: str,
) -> None:
    """Followers write no snapshot. When the leader dies, the replica that takes over
    snapshots on the tick it becomes leader, so the price history's one longer interval is
    the rest of the dead leader's interval plus the takeover (one follower poll here). The
    old leader, paused past its election check and resuming after the takeover, writes
    neither a snapshot nor alert state."""
    import io

    from optimizer.daemon.leader import follower_poll
    from optimizer.daemon.service import open_daemon
    from optimizer.sim import SimClock, Simulator
    from tests.daemon.helpers import make_config

    sim = Simulator(seed=3, clock=SimClock.stepped())
    cfg = make_config(pg_url, mode="observe")

    def replica() -> contextlib.AbstractContextManager:
        return open_daemon(
            cfg, clock=sim.clock, transport=sim.transport(), api_key=sim.api_key,
            install_signals=False, log_stream=io.StringIO(), log_json=True, metrics=False,
        )  # fmt: skip

    eng = open_store(pg_url)

    def taken() -> list[datetime]:
        with eng.connect() as c:
            return [r[0] for r in c.execute(sa.text("SELECT taken_at FROM snapshot ORDER BY id"))]

    def alert_rows() -> int:
        with eng.connect() as c:
            return c.execute(sa.text("SELECT count(*) FROM alert_state")).scalar_one()

    t0 = sim.now()
    poll = follower_poll(cfg)
    try:
        with replica() as a, replica() as b:
            assert a.tick().snapshot and not b.tick().snapshot
            sim.advance(cfg.daemon.snapshot_interval)
            assert a.tick().snapshot and not b.tick().snapshot
            assert taken() == [t0, t0 + cfg.daemon.snapshot_interval]
            # the leader dies 7 minutes into its interval; one follower poll later the
            # other replica takes over and snapshots at once
            sim.advance(timedelta(minutes=7))
            with eng.connect() as c:
                c.execute(sa.text(TERMINATE), {"p": a.elector.backend_pid})
                c.commit()
            sim.advance(poll)
            took = b.tick()
            assert b.elector.is_leader and took.snapshot, took.summary()
            history = taken()
            assert history[-1] == sim.now()
            gap = history[-1] - history[-2]
            assert gap == timedelta(minutes=7) + poll <= cfg.daemon.snapshot_interval + poll
            # the old leader resumes inside its next tick (past its election check)
            alerts_before = alert_rows()
            sim.advance(a.cycle.next_due() - sim.now())
            stale = a.cycle.run(99)
            refused = {o.stage for o in stale.failures if isinstance(o.error, LeadershipLost)}
            assert "snapshot" in refused, stale.summary()
            assert taken() == history and alert_rows() == alerts_before
    finally:
        eng.dispose()
