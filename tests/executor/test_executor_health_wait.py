"""`cutover_health_wait`: a migration's old VM goes only once the new VM has been seen
Active for the wait, the clock survives a restart, and a new VM that ends before the
cutover fails the move with the old VM left serving (simulator, in-process transport)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from optimizer.executor import journal as jr
from optimizer.store.engine import open_store
from optimizer.store.tables.journal import JournalAction
from tests.executor.conftest import World, fleet_cfg, make_world

MINUTE = timedelta(minutes=1)


def _world(tmp_path, db_url: str | None = None, **policy: Any) -> World:
    w = make_world(tmp_path, fleets=[fleet_cfg(instances=1, policy=policy)], db_url=db_url)
    w.sim.config.launching_after = timedelta(seconds=30)
    w.sim.config.active_after = timedelta(seconds=30)
    w.sim.add_offer(country="DE", price="1.00", capacity=5)
    w.run(hours=0.2, step=MINUTE)
    return w


def _moving(tmp_path, db_url: str | None = None, **policy: Any) -> tuple[World, Any]:
    """A fleet of one VM on a $1.00 offer, and an offer at half its price to move to:
    the world and the old VM."""
    w = _world(tmp_path, db_url, **policy)
    (old,) = w.fleet_vms()
    w.sim.add_offer(country="FR", price="0.50", capacity=5)
    return w, old


def _migration(w: World) -> JournalAction | None:
    rows = [
        r
        for r in jr.recent_actions(w.engine, "web", w.sim.now() - timedelta(days=1))
        if r.kind == "migrate"
    ]
    assert len(rows) <= 1
    return rows[0] if rows else None


def _tick_until(
    w: World, done: Callable[[JournalAction], bool], step: timedelta = MINUTE, ticks: int = 30
) -> JournalAction:
    """Tick every `step` until the migration's row satisfies `done`; that row."""
    for _ in range(ticks):
        w.tick()
        row = _migration(w)
        if row is not None and done(row):
            return row
        w.sim.advance(step)
    raise AssertionError(f"the migration never got there in {ticks} ticks")


def _until_cutover(w: World) -> JournalAction:
    """Tick every minute until the migration waits in cutover (its new VM seen Active)."""
    return _tick_until(w, lambda r: r.state == "cutover")


def _new_vm_id(row: JournalAction) -> str:
    return row.new_vm_ids.split(",")[0]


def _at(row: JournalAction) -> datetime:
    assert row.active_at is not None
    return row.active_at


def test_old_vm_is_deleted_only_once_the_new_one_was_active_for_the_wait(tmp_path) -> None:
    w, old = _moving(tmp_path, align_to_billing=False, cutover_health_wait="10m")
    row = _until_cutover(w)
    active_at = _at(row)
    assert active_at == w.sim.now()  # journaled on the tick that first saw it Active
    assert w.sim.vms[_new_vm_id(row)].status == "Active"
    while w.sim.now() < active_at + timedelta(minutes=9):
        w.sim.advance(MINUTE)
        w.tick()
        assert w.sim.vms[old.id].status == "Active"  # both run during the wait
        assert _migration(w).state == "cutover"  # type: ignore[union-attr]
    w.sim.advance(MINUTE)  # 10 minutes after Active: the first tick that may cut over
    w.tick()
    row = _migration(w)
    assert row is not None and row.state == "done"
    assert row.finished_at == active_at + timedelta(minutes=10)
    assert w.sim.vms[old.id].status == "Stopped"
    (vm,) = [v for v in w.fleet_vms() if v.status == "Active"]
    assert vm.price_per_epoch == Decimal("0.50")
    assert jr.savings(w.engine, w.sim.now())["web"].migrations == 1


def test_no_wait_cuts_over_on_the_tick_that_sees_the_new_vm_active(tmp_path) -> None:
    w, old = _moving(tmp_path, align_to_billing=False)
    row = _tick_until(w, lambda r: r.active_at is not None)
    assert row.state == "done"
    assert row.finished_at == row.active_at
    assert w.sim.vms[old.id].status == "Stopped"


def _old_vm_serves_until(w: World, old: Any, end: datetime) -> JournalAction:
    """Tick every minute until `end` with the old VM Active throughout; the migration,
    failed as a launch failure."""
    while w.sim.now() < end:
        w.sim.advance(MINUTE)
        w.tick()
        assert w.sim.vms[old.id].status == "Active"
    row = _migration(w)
    assert row is not None and row.state == "failed" and row.failure_cause == "launch"
    return row


def test_new_vm_ending_during_the_wait_fails_the_move_and_keeps_the_old_vm(tmp_path) -> None:
    w, old = _moving(tmp_path, align_to_billing=False, cutover_health_wait="10m")
    row = _until_cutover(w)
    new_id = _new_vm_id(row)
    w.sim.advance(timedelta(minutes=4))
    w.tick()
    w.sim.terminate(new_id)
    row = _old_vm_serves_until(w, old, w.sim.now() + timedelta(hours=1))
    assert "ended as Terminated before the cutover" in (row.error or "")
    assert w.sim.vms[new_id].status == "Stopped"  # owned: deleted, its reserve released
    assert old.id in jr.owned_ids(w.engine, "web")
    assert "web" not in jr.savings(w.engine, w.sim.now())


def test_aligned_migration_whose_new_vm_ends_before_billing_time_keeps_the_old_vm(
    tmp_path,
) -> None:
    w, old = _moving(tmp_path)  # align_to_billing: waits in cutover for the old VM's charge
    # ticks every 5 minutes (up to 2 days) until the new VM waits in cutover
    row = _tick_until(w, lambda r: r.state == "cutover", timedelta(minutes=5), 2 * 24 * 12)
    assert row.cutover_at is not None and w.sim.now() + w.runner.executor.tick < row.cutover_at
    w.sim.terminate(_new_vm_id(row))
    _old_vm_serves_until(w, old, row.cutover_at + timedelta(minutes=30))


def test_a_restart_during_the_wait_does_not_restart_it(tmp_path, db_url) -> None:
    w, old = _moving(tmp_path, db_url, align_to_billing=False, cutover_health_wait="10m")
    active_at = _at(_until_cutover(w))
    w.sim.advance(timedelta(minutes=6))
    w.tick()
    # restart: a new process opens the same database
    w.engine.dispose()
    w.engine = open_store(db_url)
    w.reconfigure(w.config)
    w.sim.advance(timedelta(minutes=3))
    w.tick()
    row = _migration(w)
    assert row is not None and row.state == "cutover" and row.active_at == active_at
    assert w.sim.vms[old.id].status == "Active"
    w.sim.advance(MINUTE)
    w.tick()
    row = _migration(w)
    assert row is not None and row.state == "done"
    assert row.finished_at == active_at + timedelta(minutes=10)
    assert w.sim.vms[old.id].status == "Stopped"
    w.engine.dispose()


def test_a_new_vm_held_out_of_active_past_its_cutover_is_deleted_and_the_old_vm_kept(
    tmp_path,
) -> None:
    """After the new VM went Active the API reports it in a status the optimizer does not
    know (a newer API's "Maintenance"): not serving, not ended. The cutover is held, but
    not for ever while both VMs are paid: `launch_timeout` (20 min) past the time the
    cutover was due (Active + the 10-min wait), the new VM is deleted and the move fails;
    the old VM is left running and owned."""
    w, old = _moving(tmp_path, align_to_billing=False, cutover_health_wait="10m")
    row = _until_cutover(w)
    new_id, due = _new_vm_id(row), _at(row) + timedelta(minutes=10)
    w.sim.report_status(new_id, "Maintenance")
    while w.sim.now() < due + timedelta(minutes=20):
        w.tick()
        assert w.sim.vms[new_id].status == "Maintenance"
        assert _migration(w).state == "cutover"  # type: ignore[union-attr]
        w.sim.advance(MINUTE)
    w.sim.advance(MINUTE)
    w.tick()
    row = _migration(w)  # type: ignore[assignment]
    assert row is not None and row.state == "failed" and row.failure_cause == "launch"
    assert "is Maintenance, not Active, 0:20:00 after its cutover was due" in (row.error or "")
    assert w.sim.vms[new_id].status == "Stopped"
    assert w.sim.vms[old.id].status == "Active"
    assert old.id in jr.owned_ids(w.engine, "web") and new_id not in jr.owned_ids(w.engine, "web")
