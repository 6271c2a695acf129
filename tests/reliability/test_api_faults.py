"""API faults the fleet executor must survive (plan → journal → steps against the simulator).

Client-level handling is tested where the client lives and is not repeated here:
bursts of 5xx / 429 with Retry-After / timeouts / resets / malformed JSON / wrong shapes
→ tests/fluence/test_client_retry.py, test_client_errors.py, test_client_http.py;
VMs stuck in Launching → tests/executor/test_executor_sim.py
(test_stuck_launch_times_out_and_is_deleted). These tests cover what those do not: the
same faults hitting a fleet in the middle of its work, and the mutating calls whose
effect and answer disagree.
"""

from __future__ import annotations

from collections import Counter
from datetime import timedelta

import pytest

from optimizer.executor import journal as jr
from optimizer.sim.faults import KINDS
from optimizer.sim.simulator import DEPOSIT_EPOCHS  # noqa: F401  (documented billing rule)
from tests.executor.conftest import World, fleet_cfg, make_world


def _names(w: World) -> Counter[str]:
    return Counter(v.name for v in _ours(w))


def _running(w: World) -> list:
    return [v for v in _ours(w) if v.running]


def _ours(w: World) -> list:
    return [v for v in w.sim.vms.values() if v.name.startswith("web-") and not v.foreign]


def _assert_healthy(w: World, instances: int) -> None:
    """Exactly `instances` Active fleet VMs, all owned, no name deployed twice."""
    running = _running(w)
    assert len(running) == instances, [(v.name, v.status) for v in running]
    assert all(v.status == "Active" for v in running)
    assert {v.id for v in running} <= set(jr.owned_ids(w.engine, "web"))
    assert max(_names(w).values()) == 1, _names(w)


@pytest.fixture
def w(tmp_path) -> World:
    world = make_world(tmp_path, fleets=[fleet_cfg(instances=2)])
    world.sim.add_offer(country="DE", price="0.30", capacity=5)
    world.sim.add_offer(country="FR", price="0.40", capacity=5)
    return world


@pytest.mark.parametrize("kind", ["lost_response", "malformed", "wrong_shape"])
def test_deploy_that_took_effect_but_whose_answer_was_lost_is_not_repeated(
    w: World, kind: str
) -> None:
    """The deploy happened; its answer was lost or garbage. The executor finds the VM by
    its journaled name and never deploys a second one."""
    w.sim.faults.force_next("deploy", kind)
    w.run(hours=1)
    _assert_healthy(w, 2)
    assert ("deploy", kind) in w.sim.faults.log


@pytest.mark.parametrize("kind", ["timeout", "reset", "server_error"])
def test_deploy_that_failed_before_taking_effect_is_retried_once(w: World, kind: str) -> None:
    """Nothing was created: after the grace period the same name is deployed again."""
    w.sim.faults.force_next("deploy", kind)
    w.run(hours=1)
    _assert_healthy(w, 2)


def test_deploy_creating_fewer_vms_than_asked_is_completed_by_the_next_plan(w: World) -> None:
    """The provider ran out: a deploy came back without a VM. The action fails instead of
    waiting forever and the next plan deploys what is still missing."""
    orig = w.sim.deploy
    calls = {"n": 0}

    def short_deploy(req, *, foreign=False):  # type: ignore[no-untyped-def]
        calls["n"] += 1
        if calls["n"] == 1 and not foreign:
            return []  # accepted, nothing created
        return orig(req, foreign=foreign)

    w.sim.deploy = short_deploy  # type: ignore[method-assign]
    w.run(hours=1.5)
    _assert_healthy(w, 2)
    assert calls["n"] >= 3


def test_delete_that_times_out_after_taking_effect_finishes_the_migration(w: World) -> None:
    """Cutover DELETE takes effect but the answer is lost: the old VM is gone, the action
    ends, and nothing deletes anything else (the foreign VM survives)."""
    foreign = w.sim.add_foreign_vm("web-lookalike")
    w.run(hours=0.5)
    before = {v.id for v in _running(w)}
    cheap = w.sim.add_offer(country="NL", price="0.10", capacity=5)
    w.sim.faults.force_next("delete_vms", "lost_response", times=2)
    w.run(hours=50)
    assert ("delete_vms", "lost_response") in w.sim.faults.log
    _assert_healthy(w, 2)
    running = _running(w)
    assert not before & {v.id for v in running}  # both migrated
    assert all(v.offer is not None and v.offer.key == cheap.key for v in running)
    assert w.sim.vms[foreign.id].status == "Active"
    # the old VM being gone before its action finished did not look like a missing VM:
    # 2 initial deploys + 2 migrations, no extra deploy followed by a scale-down
    assert len(_ours(w)) == 4, sorted((v.name, v.status) for v in _ours(w))


def test_vm_vanishing_from_the_list_is_replaced_and_never_deleted_blindly(w: World) -> None:
    """A fleet VM disappears from GET /vms/v3 (provider-side cleanup): the fleet is
    brought back to size and nothing is DELETEd. The vanished id stays owned while a
    lagging list may still bring it back, and is released after
    RELEASE_AFTER_ABSENT_TICKS lists without it (so a reused id is not owned: issue 19)."""
    w.run(hours=0.5)
    gone = _running(w)[0]
    with w.sim._lock:
        gone.status = "Stopped"
        gone.hidden_after = w.sim.now()  # vanished from the list at once
    w.tick()
    assert gone.id in jr.owned_ids(w.engine, "web")
    w.run(hours=1)
    _assert_healthy(w, 2)
    assert w.sim.requests.get("delete_vms", 0) == 0
    assert gone.id not in jr.owned_ids(w.engine, "web")


def test_vm_stuck_in_launching_is_deleted_and_replaced_elsewhere(tmp_path) -> None:
    """A new VM never leaves Launching: deleted after launch_timeout, fleet filled elsewhere
    (complements tests/executor: here the stuck VM is one of several)."""
    w = make_world(tmp_path, fleets=[fleet_cfg(instances=2, policy={"launch_timeout": "15m"})])
    w.sim.config.active_after = timedelta(hours=6)
    slow = w.sim.add_offer(country="DE", price="0.30", capacity=1)
    w.run(hours=0.1)
    w.sim.config.active_after = timedelta(minutes=3)
    w.sim.add_offer(country="FR", price="0.40", capacity=5)
    w.run(hours=1.5)
    _assert_healthy(w, 2)
    stuck = [v for v in w.sim.vms.values() if v.offer is not None and v.offer.key == slow.key]
    assert stuck and all(v.status == "Stopped" for v in stuck)


@pytest.mark.parametrize("kind", [k for k in KINDS if k != "lost_response"])
def test_bursts_of_every_fault_on_reads_delay_but_never_break_the_fleet(
    w: World, kind: str
) -> None:
    """Three consecutive faults of one kind on the VM list and offers (more than the
    client retries): the tick fails, the next ones converge."""
    for ep in ("offers", "list_vms", "estimate"):
        w.sim.faults.force_next(ep, kind, times=3)
    for _ in range(20):
        try:
            w.tick()
        except Exception as err:  # noqa: BLE001 - only our own errors may escape a tick
            from optimizer.errors import OptimizerError

            assert isinstance(err, OptimizerError), repr(err)
        w.sim.advance(timedelta(minutes=5))
    _assert_healthy(w, 2)
