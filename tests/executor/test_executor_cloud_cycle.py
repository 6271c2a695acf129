"""Issue 15's done-when on the cloud generation, planner included: the daemon's cycle in
act mode against the cloud simulator over loopback HTTP, a fleet of 2 with max_surge = 1.
The fleet lands on the cheapest allowed price points; when others become much cheaper it
moves there, never running more than 3 VMs at once; afterwards no disk or IP it created
is left without its VM, and the user's own VMs, disks and IPs were never terminated,
deleted or renamed. The first create's answer is lost: it is found by name, not resent.
Observable behaviour only: which clusters, how many VMs, what bills.

(The cloud API reports whether a cluster can host a configuration, not how many: a price
point has room for one more VM as the planner sees it, so a fleet of 2 may spread over
the two cheapest.)"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from optimizer.cycle import Cycle, Runtime
from optimizer.executor import journal as jr
from optimizer.sim import SimClock, Simulator, start_server
from optimizer.sim.cloud import CloudConfig
from optimizer.store.engine import open_store
from tests.executor.cloud_helpers import SLUG, act_config, cloud_client

pytestmark = pytest.mark.http


@pytest.fixture
def sim() -> Simulator:
    s = Simulator(
        seed=21,
        clock=SimClock.stepped(datetime(2026, 11, 2, tzinfo=UTC)),
        cloud=CloudConfig(failure_rate=0.0),
    )
    s.cloud.set_balance("100000")
    return s


def _clusters(sim: Simulator) -> list[str]:
    conf = sim.cloud.catalog.configuration(SLUG)
    assert conf is not None
    return [c.id for c in sim.cloud.catalog.clusters if conf.id in c.configurations]


@pytest.fixture
def cycle(sim: Simulator, tmp_path: Any) -> Iterator[Cycle]:
    cfg = act_config(snapshot_interval="5m", plan_interval="5m", reaper_grace="5m")
    engine = open_store(f"sqlite:///{tmp_path / 'o.db'}")
    with start_server(sim, api="cloud") as srv:
        api = cloud_client(sim, srv)
        yield Cycle(Runtime(config=cfg, client=api, engine=engine, clock=sim.clock))
        api.close()


def test_fleet_of_two_lands_cheapest_moves_when_much_cheaper_and_leaves_nothing(
    sim: Simulator, cycle: Cycle
) -> None:
    clusters = _clusters(sim)
    assert len(clusters) >= 5
    for cid in clusters:
        sim.cloud.set_price(cid, SLUG, "1.00")
    cheap, cheaper, other = clusters[:2], clusters[2:4], clusters[4]
    for cid in cheap:
        sim.cloud.set_price(cid, SLUG, "0.10")
    foreign = sim.cloud.add_foreign_vm("web-handmade", cluster_id=other, configuration=SLUG)
    f_disk = sim.cloud.add_foreign_storage("data-disk", cluster_id=other)
    f_ip = sim.cloud.add_foreign_public_ip("spare-ip", cluster_id=other)
    engine = cycle.rt.engine

    def ours() -> list[Any]:
        owned = set(jr.owned_ids(engine, "web"))
        return [
            v
            for v in sim.cloud.vms.values()
            if v.id in owned and v.status not in ("failed", "terminated")
        ]

    most = 0

    def run(ticks: int) -> None:
        nonlocal most
        for t in range(ticks):
            cycle.run(t, force=True)
            most = max(most, len(ours()))
            sim.advance(timedelta(minutes=5))

    sim.faults.force_next("cloud.create_vm", "lost_response")  # found again by name
    run(12)
    first = ours()
    rows = jr.recent_actions(engine, "web", sim.now() - timedelta(days=1))
    assert sorted((r.kind, r.state) for r in rows) == [("deploy", "done")] * 2
    assert len(first) == 2 and {v.cluster_id for v in first} <= set(cheap)
    assert all(v.status == "launched" for v in first)

    for cid in cheaper:
        sim.cloud.set_price(cid, SLUG, "0.01")
    run(48)
    moved = ours()
    assert len(moved) == 2 and {v.cluster_id for v in moved} <= set(cheaper)
    assert all(v.status == "launched" for v in moved)
    assert most <= 3
    assert all(sim.cloud.vms[v.id].status == "terminated" for v in first)
    rows = jr.recent_actions(engine, "web", sim.now() - timedelta(days=1))
    assert (
        sorted((r.kind, r.state) for r in rows if r.kind == "migrate") == [("migrate", "done")] * 2
    )

    created = [v for v in sim.cloud.vms.values() if v.id != foreign.id]
    assert len(created) == 4  # 2 deploys + 2 migrations; the lost answer was not resent
    assert len(sim.cloud.storages) == len(sim.cloud.public_ips) == 4 + 2  # + the user's 2
    mine = jr.resource_ids(engine)
    assert mine and not {o.id for o in sim.cloud.orphans()} & mine
    assert {o.id for o in sim.cloud.orphans()} == {f_disk.id, f_ip.id}
    vm = sim.cloud.vms[foreign.id]
    assert (vm.status, vm.name) == ("launched", "web-handmade")
    assert sim.cloud.storages[f_disk.id].status == "ready"
    assert sim.cloud.public_ips[f_ip.id].status == "ready"
