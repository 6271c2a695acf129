"""The cycle over the simulator: stages in order for several fleets sharing one tick.
Real simulator (in-process transport), real store, real planner and executor."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from optimizer.cycle import Cycle, Runtime
from optimizer.executor import journal as jr
from tests.executor.conftest import fleet_cfg, make_world


def test_two_fleets_compete_for_one_free_slot_and_the_second_sees_it_taken(tmp_path) -> None:
    """The cheapest offer has room for one VM. Both fleets want one VM; they are planned in
    the same tick from the same snapshot. The first fleet takes the slot; the second must
    see that capacity as taken and go to the next offer, instead of aiming at the slot too
    (its deploy would then find no room and be aborted)."""
    w = make_world(
        tmp_path,
        fleets=[fleet_cfg(name="a", instances=1), fleet_cfg(name="b", instances=1)],
    )
    w.sim.add_offer(country="DE", price="0.30", capacity=1)
    w.sim.add_offer(country="FR", price="0.40", capacity=5)
    cycle = Cycle(Runtime(config=w.config, client=w.client, engine=w.engine, clock=w.sim.clock))

    first = cycle.run(1, force=True)
    assert first.planned and not first.degraded, first.summary()
    targets = {
        r.fleet: r.target_datacenter
        for r in jr.recent_actions(w.engine, None, w.sim.now() - timedelta(hours=1))
    }
    assert targets["a"] is not None and targets["b"] is not None
    assert targets["a"] != targets["b"], targets

    for tick in range(2, 6):  # let both VMs come up
        w.sim.advance(timedelta(minutes=5))
        cycle.run(tick)
    rows = jr.recent_actions(w.engine, None, w.sim.now() - timedelta(hours=1))
    assert sorted((r.fleet, r.state) for r in rows) == [("a", "done"), ("b", "done")]
    prices = {v.vm_name.split("-")[0]: v.price_per_epoch for v in w.client.list_vms()}
    assert prices == {"a": Decimal("0.30"), "b": Decimal("0.40")}
