"""Issue 19, findings 1 and 5: a name or an id is not proof of ownership.

1. After a lost deploy answer, a VM carrying the deploy's name is claimed only when it is
   the only one, nobody owns it, and the API says it was created after the deploy was
   sent (less CLAIM_CLOCK_SKEW). Otherwise the action fails, an alert is raised and the
   VM is left alone. The attack end to end runs against the simulator over loopback HTTP.
5. Ownership records the VM's createdAt; a VM listed under an owned id with another
   createdAt is another VM and is never acted on, and an owned VM missing from
   RELEASE_AFTER_ABSENT_TICKS lists in a row is released.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from optimizer.alerts.tick import run_alerts
from optimizer.config import parse_config
from optimizer.executor import journal as jr
from optimizer.executor.executor import CLAIM_CLOCK_SKEW
from optimizer.sim import start_server
from optimizer.sim.clock import SimClock
from optimizer.sim.simulator import SimConfig, Simulator
from optimizer.store.tables.journal import JournalAction
from tests.executor.conftest import World, fleet_cfg, make_world

LONG_AGO = datetime(2025, 5, 1, 9, 0, tzinfo=UTC)


def _scripted_sim() -> Simulator:
    sim = Simulator(
        seed=5, offers=1, config=SimConfig(termination_rate=0.0), clock=SimClock.stepped()
    )
    sim.market.target_offers = 0
    for o in list(sim.market.offers):
        sim.remove_offer(o.key)
    return sim


def _resize(w: World, instances: int, *extra: dict) -> None:
    w.reconfigure(
        parse_config(
            {
                "mode": "act",
                "fleets": [fleet_cfg(instances=instances), *extra],
                "daemon": {"snapshot_interval": "5m"},
            }
        )
    )


def _deploy_action(w: World) -> JournalAction:
    rows = [a for a in jr.open_actions(w.engine, "web") if a.kind == "deploy"]
    assert len(rows) == 1, rows
    return rows[0]


def _action(w: World, action_id: int | None) -> JournalAction:
    with jr.session(w.engine) as s:
        row = s.get(JournalAction, action_id)
        assert row is not None
        return row


def _lose_next_deploy_answer(w: World) -> JournalAction:
    """Scale 2 → 3 and make the deploy's answer a 5xx: nothing is created, the action
    waits in `deploying` for a VM with its name."""
    w.sim.faults.force_next("deploy", "server_error")
    _resize(w, 3)
    w.tick()
    row = _deploy_action(w)
    assert row.state == "deploying" and ("deploy", "server_error") in w.sim.faults.log
    return row


@pytest.fixture
def http_world(tmp_path) -> Iterator[World]:
    """A fleet of 2 on the simulator served over loopback HTTP, settled and Active."""
    sim = _scripted_sim()
    with start_server(sim) as server:
        w = make_world(tmp_path, sim=sim, http_base=server.url)
        w.sim.add_offer(country="DE", price="0.30", capacity=10)
        w.run(hours=0.5)
        yield w
        w.client.close()
        w.engine.dispose()


@pytest.fixture
def w(tmp_path) -> Iterator[World]:
    """The same world on the in-process transport (faster, for the variants)."""
    w = make_world(tmp_path, sim=_scripted_sim())
    w.sim.add_offer(country="DE", price="0.30", capacity=10)
    w.run(hours=0.5)
    yield w
    w.engine.dispose()


def test_old_foreign_vm_named_after_a_lost_deploy_is_not_claimed_nor_deleted(
    http_world: World,
) -> None:
    """The reported attack: the deploy answer is lost, a VM named `web-<token>` created in
    2025 appears; it used to be recorded as created and deleted after `instances = 1`."""
    w = http_world
    row = _lose_next_deploy_answer(w)
    lookalike = w.sim.add_foreign_vm(jr.vm_name("web", row.token))
    lookalike.created_at = LONG_AGO
    w.sim.advance(timedelta(minutes=5))
    w.tick()

    done = _action(w, row.id)
    assert (done.state, done.failure_cause) == ("failed", "claim")
    assert "created at 2025-05-01" in (done.error or "") and lookalike.id in (done.error or "")
    assert lookalike.id not in jr.owned_ids(w.engine)
    # the failure is alerted
    result = run_alerts(w.engine, w.config, w.sim.now(), sinks=[])
    texts = [a.text for a in result.notified if a.key == f"migration.failed:{row.id}"]
    assert texts and "not claimed, left alone" in texts[0]
    # and the fleet shrinking to one never touches it
    _resize(w, 1)
    w.run(hours=2)
    assert w.sim.vms[lookalike.id].status == "Active"
    ours = [v for v in w.sim.vms.values() if not v.foreign and v.running]
    assert len(ours) == 1 and ours[0].id in jr.owned_ids(w.engine, "web")


def test_vm_created_after_the_deploy_within_the_skew_allowance_is_claimed(w: World) -> None:
    """The deploy did happen (answer lost after it took effect) and the API's clock runs
    a little behind ours: still recognized as the deploy's VM."""
    w.sim.faults.force_next("deploy", "lost_response")
    _resize(w, 3)
    w.tick()
    row = _deploy_action(w)
    assert row.state == "deploying" and row.deploy_started_at is not None
    (vm,) = [v for v in w.sim.vms.values() if v.name == jr.vm_name("web", row.token)]
    vm.created_at = row.deploy_started_at - CLAIM_CLOCK_SKEW + timedelta(seconds=30)
    w.sim.advance(timedelta(minutes=5))
    w.tick()
    assert _action(w, row.id).state in ("launching", "done")
    owned = jr.owned_ids(w.engine, "web")
    assert vm.id in owned and owned[vm.id].vm_created_at == vm.created_at


def test_two_vms_with_the_deploys_name_are_both_left_alone(w: World) -> None:
    """Our deploy took effect, and a second VM carries the same name: which one is ours
    cannot be told, so neither is claimed (both reported), none is deleted."""
    w.sim.faults.force_next("deploy", "lost_response")
    _resize(w, 3)
    w.tick()
    row = _deploy_action(w)
    twin = w.sim.add_foreign_vm(jr.vm_name("web", row.token))
    w.sim.advance(timedelta(minutes=5))
    w.tick()
    done = _action(w, row.id)
    assert (done.state, done.failure_cause) == ("failed", "claim")
    assert "2 VMs are named" in (done.error or "")
    named = [v for v in w.sim.vms.values() if v.name == jr.vm_name("web", row.token)]
    assert len(named) == 2 and not {v.id for v in named} & set(jr.owned_ids(w.engine))
    _resize(w, 0)
    w.run(hours=1)
    assert all(w.sim.vms[v.id].status == "Active" for v in named)
    assert w.sim.vms[twin.id].status == "Active"


def test_vm_owned_by_another_fleet_is_not_claimed(w: World) -> None:
    batch = fleet_cfg(name="batch", instances=0)
    row = _lose_next_deploy_answer(w)
    other = w.sim.add_foreign_vm(jr.vm_name("web", row.token))
    _resize(w, 3, batch)
    jr.adopt(w.engine, "batch", w.client.list_vms(), [other.id], w.sim.now())
    w.sim.advance(timedelta(minutes=5))
    w.tick()
    done = _action(w, row.id)
    assert (done.state, done.failure_cause) == ("failed", "claim")
    assert "already owned by fleet batch" in (done.error or "")
    assert jr.owned_ids(w.engine)[other.id].fleet == "batch"


def test_an_owned_id_that_now_names_another_vm_is_never_acted_on(w: World) -> None:
    """Finding 5: the API hands an owned VM's id to another VM (other createdAt, other
    name). The daemon releases ownership instead of migrating or deleting it."""
    victim = next(v for v in w.sim.vms.values() if v.running and not v.foreign)
    owned = jr.owned_ids(w.engine, "web")[victim.id]
    assert owned.vm_created_at == victim.created_at  # recorded once the VM was listed
    deletes = w.sim.requests.get("delete_vms", 0)
    with w.sim._lock:
        victim.name, victim.foreign = "db-primary", True
        victim.created_at = w.sim.now()
        victim.ports = []
    _resize(w, 0)  # scale-down would delete every owned VM
    w.run(hours=1)
    assert w.sim.vms[victim.id].status == "Active" and w.sim.vms[victim.id].ports == []
    assert victim.id not in jr.owned_ids(w.engine)
    ours = [v for v in w.sim.vms.values() if not v.foreign]
    assert all(v.status == "Stopped" for v in ours)  # the real fleet VM was scaled down
    assert w.sim.requests.get("delete_vms", 0) == deletes + 1


def test_a_vanished_vm_is_released_after_the_stated_number_of_lists(w: World) -> None:
    """Finding 5: a fleet VM vanishes from the list (deleted by hand); after
    RELEASE_AFTER_ABSENT_TICKS lists without it the ownership is released, so nothing
    later listed under that id counts as owned; it was never DELETEd."""
    gone = next(v for v in w.sim.vms.values() if v.running and not v.foreign)
    with w.sim._lock:
        gone.status = "Stopped"
        gone.hidden_after = w.sim.now()
    for n in range(1, jr.RELEASE_AFTER_ABSENT_TICKS):
        w.tick()
        w.sim.advance(timedelta(minutes=5))
        row = jr.owned_ids(w.engine, "web").get(gone.id)
        assert row is not None and row.absent_ticks == n  # a lagging list is tolerated
    w.tick()
    assert gone.id not in jr.owned_ids(w.engine)
    assert w.sim.requests.get("delete_vms", 0) == 0
