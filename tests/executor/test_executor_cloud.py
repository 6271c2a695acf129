"""The executor and the reaper on the cloud generation, against the cloud simulator over
loopback HTTP, act mode, a fleet of 2: deploys land where the action pins them, one
migration at a time (max_surge = 1) never runs more than 3 VMs, and no disk or IP of
ours is left without its VM; foreign VMs, disks and IPs are never terminated, deleted
or renamed. A deploy whose answer is lost is recovered by name (VM, disk and IP) without
a second create; a failed launch is terminated and its disk and IP deleted. The executor
does not know which generation it drives: the same calls as on marketplace-v3.

The actions are scripted here (journaled as the planner would journal them): the
planner's side of the cloud generation (whole-VM prices per 24 h) is tested with it."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from optimizer.config import Config
from optimizer.executor import FleetRunner
from optimizer.executor import journal as jr
from optimizer.executor.reaper import foreign_orphans, reap
from optimizer.fluence.api import FluenceApi
from optimizer.fluence.models import Constraints
from optimizer.planner.inputs import Action, Plan
from optimizer.sim import SimClock, Simulator, start_server
from optimizer.sim.cloud import CloudConfig
from optimizer.store.engine import open_store
from tests.cli_run import run_main
from tests.executor.cloud_helpers import (
    SLUG,
    act_config,
    cloud_client,
    cloud_toml,
)

pytestmark = pytest.mark.http

GRACE = timedelta(minutes=5)


@dataclass
class CloudWorld:
    sim: Simulator
    api: FluenceApi
    engine: Any
    config: Config
    runner: FleetRunner
    url: str = ""  # the simulator's cloud face
    db: str = ""  # the store's URL

    def submit(self, *actions: Action) -> None:
        """Journal `actions` as one plan of fleet "web" (what the planner would do)."""
        plan = Plan(
            fleet="web",
            mode="act",
            now=self.sim.now(),
            actions=actions,
            verdicts=(),
            target_instances=2,
            healthy_instances=0,
            cost_per_epoch_now=Decimal(0),
            cost_per_epoch_planned=Decimal(0),
            deposits_needed=Decimal(0),
            reserves_held=Decimal(0),
        )
        self.runner.executor.submit(plan)

    def tick(self) -> None:
        """One act-mode cycle after planning: VM list, advance every action, reap."""
        self.sim.sync()
        vms = self.api.list_vms()
        self.runner.advance(vms)
        reap(self.api, self.engine, self.sim.now(), vms, GRACE)

    def ours(self) -> list[Any]:
        """The fleet's VMs that still bill (not failed or terminated)."""
        owned = set(jr.owned_ids(self.engine, "web"))
        return [
            v
            for v in self.sim.cloud.vms.values()
            if v.id in owned and v.status not in ("failed", "terminated")
        ]


@pytest.fixture
def world(tmp_path: Any) -> Iterator[CloudWorld]:
    start = datetime(2026, 11, 2, tzinfo=UTC)
    sim = Simulator(seed=21, clock=SimClock.stepped(start), cloud=CloudConfig(failure_rate=0.0))
    conf = sim.cloud.catalog.configuration(SLUG)
    assert conf is not None
    clusters = [c.id for c in sim.cloud.catalog.clusters if conf.id in c.configurations]
    assert len(clusters) >= 3
    for cid in clusters:  # every cluster dear but the first
        sim.cloud.set_price(cid, SLUG, "1.00")
        sim.cloud.set_capacity(cid, SLUG, 10)
    sim.cloud.set_price(clusters[0], SLUG, "0.10")
    sim.cloud.set_balance("100000")
    cfg = act_config(snapshot_interval="5m", reaper_grace="5m")
    engine = open_store(f"sqlite:///{tmp_path / 'opt.db'}")
    with start_server(sim, api="cloud") as srv:
        api = cloud_client(sim, srv)
        runner = FleetRunner(api, engine, sim.clock, cfg)
        yield CloudWorld(sim, api, engine, cfg, runner, srv.url, f"sqlite:///{tmp_path / 'opt.db'}")
        api.close()


def _clusters(world: CloudWorld) -> list[str]:
    conf = world.sim.cloud.catalog.configuration(SLUG)
    assert conf is not None
    return [c.id for c in world.sim.cloud.catalog.clusters if conf.id in c.configurations]


def _run(world: CloudWorld, minutes: int, step: int = 5) -> int:
    """Tick every `step` minutes; the most billing fleet VMs seen at once."""
    most = 0
    for _ in range(minutes // step):
        world.tick()
        most = max(most, len(world.ours()))
        world.sim.advance(timedelta(minutes=step))
    return most


def _at(cluster: str, world: CloudWorld) -> Constraints:
    conf = world.sim.cloud.catalog.configuration(SLUG)
    assert conf is not None
    return Constraints(basic_configuration=SLUG, cluster_id=cluster, configuration_id=conf.id)


def _deploy(world: CloudWorld, cluster: str) -> Action:
    return Action(kind="deploy", fleet="web", reason="test", constraints=_at(cluster, world))


def _migrate(world: CloudWorld, vm_id: str, cluster: str) -> Action:
    return Action(
        kind="migrate", fleet="web", reason="test", vm_id=vm_id, constraints=_at(cluster, world)
    )


def test_fleet_deploys_migrates_one_at_a_time_and_leaves_nothing_billing(
    world: CloudWorld,
) -> None:
    sim = world.sim
    first, second, third = _clusters(world)[:3]
    # the user's own things, one named like a fleet VM; a foreign leftover disk and IP
    foreign_vm = sim.cloud.add_foreign_vm("web-handmade", cluster_id=third, configuration=SLUG)
    gone = sim.cloud.add_foreign_vm("old-box", cluster_id=third, configuration=SLUG)
    sim.cloud.provider_terminate(gone.id)
    f_disk = sim.cloud.add_foreign_storage("data-disk", cluster_id=third)
    f_ip = sim.cloud.add_foreign_public_ip("spare-ip", cluster_id=third)
    foreign_ids = {foreign_vm.id, gone.id, f_disk.id, f_ip.id}
    foreign_ids |= {x for x in (gone.boot_disk, gone.public_ip, foreign_vm.boot_disk) if x}

    world.submit(_deploy(world, first), _deploy(world, first))
    most = _run(world, 30)
    landed = world.ours()
    assert len(landed) == 2 and {v.cluster_id for v in landed} == {first}
    assert all(v.status == "launched" for v in landed)
    for v in landed:  # VM, boot disk and IP named alike, all journaled
        assert sim.cloud.storages[v.boot_disk or ""].name == v.name
        assert sim.cloud.public_ips[v.public_ip or ""].name == v.name
        assert sim.cloud.storages[v.boot_disk or ""].volume_gb == 25
    assert {r.resource_id for r in jr.live_resources(world.engine)} == {
        x for v in landed for x in (v.boot_disk, v.public_ip)
    }

    for old in landed:  # max_surge = 1: one migration at a time
        world.submit(_migrate(world, old.id, second))
        most = max(most, _run(world, 30))
    moved = world.ours()
    assert len(moved) == 2 and {v.cluster_id for v in moved} == {second}
    assert most <= 3
    assert all(sim.cloud.vms[v.id].status == "terminated" for v in landed)

    # nothing of ours bills without its VM; the user's leftovers are reported, untouched
    orphans = {o.id for o in sim.cloud.orphans()}
    ours = jr.resource_ids(world.engine)
    assert not orphans & ours
    assert orphans == {f_disk.id, f_ip.id, gone.boot_disk, gone.public_ip}
    assert not ours & foreign_ids
    assert {r.vm_id for r in jr.live_resources(world.engine)} == {v.id for v in moved}
    vm = sim.cloud.vms[foreign_vm.id]
    assert (vm.status, vm.name) == ("launched", "web-handmade")
    assert all(sim.cloud.storages[i].status == "ready" for i in (f_disk.id, gone.boot_disk))
    assert all(sim.cloud.public_ips[i].status == "ready" for i in (f_ip.id, gone.public_ip))
    report = foreign_orphans(
        world.api.list_disks(), world.api.list_public_ips(), world.api.list_vms(), ours
    )
    assert {o.id for o in report} == orphans
    assert all(o.monthly_usd is not None and o.monthly_usd > 0 for o in report)


def test_lost_deploy_answer_is_recovered_by_name_without_a_second_create(
    world: CloudWorld,
) -> None:
    sim = world.sim
    first = _clusters(world)[0]
    sim.faults.force_next("cloud.create_vm", "lost_response", times=2)
    world.submit(_deploy(world, first), _deploy(world, first))
    _run(world, 60)
    vms = world.ours()
    assert len(vms) == 2
    created = [v for v in sim.cloud.vms.values() if v.name.startswith("web-")]
    assert len(created) == 2  # no second create for either lost answer
    assert len(sim.cloud.storages) == len(sim.cloud.public_ips) == 2
    rows = jr.live_resources(world.engine)
    assert {(r.kind, r.resource_id, r.vm_id) for r in rows} == {
        (kind, rid, v.id) for v in vms for kind, rid in (("disk", v.boot_disk), ("ip", v.public_ip))
    }
    assert all(r.name == sim.cloud.vms[r.vm_id or ""].name for r in rows)


def test_a_failed_launch_is_terminated_and_its_disk_and_ip_deleted(world: CloudWorld) -> None:
    sim = world.sim
    first = _clusters(world)[0]
    world.submit(_deploy(world, first), _deploy(world, first))
    world.tick()
    world.sim.advance(timedelta(seconds=30))
    (victim, _) = world.ours()
    sim.cloud.fail_vm(victim.id)
    _run(world, 30)
    assert sim.cloud.vms[victim.id].status == "terminated"
    assert sim.cloud.storages[victim.boot_disk or ""].status in ("removing", "removed")
    assert sim.cloud.public_ips[victim.public_ip or ""].status in ("removing", "removed")
    assert len(world.ours()) == 1 and sim.cloud.orphans() == []
    failed = [
        r
        for r in jr.recent_actions(world.engine, "web", sim.now() - timedelta(days=1))
        if r.state == "failed"
    ]
    assert failed and failed[0].failure_cause == "launch"


def test_account_cap_counts_cloud_vms_and_speaks_hours(world: CloudWorld) -> None:
    """A foreign VM at $1.00/h costs $24 per 24 h: with an account cap of $25 per 24 h a
    deploy of ours (whole price about $3 per 24 h) would go over it, so it is aborted
    before any create, in the API's unit ("$…/h"). The budget's run rate and the store
    count the same VM at 24 × its hourly price."""
    from optimizer.alerts.tick import load_budget
    from optimizer.store.ingest import ingest_vms

    sim = world.sim
    first, _, third = _clusters(world)[:3]
    sim.cloud.add_foreign_vm("own-box", cluster_id=third, configuration=SLUG)
    budget = world.config.budget.model_copy(update={"max_usd_per_epoch": Decimal(25)})
    capped = world.config.model_copy(update={"budget": budget})
    world.runner.config = world.runner.executor.config = capped
    world.submit(_deploy(world, first))
    _run(world, 10)
    assert world.ours() == []
    (row,) = jr.recent_actions(world.engine, "web", sim.now() - timedelta(days=1))
    assert row.state == "aborted"
    # the foreign VM's $1.00/h + our whole VM's $0.107375/h, above $25 / 24 h
    assert row.error == (
        "estimate $0.107375/h would take spend to $1.107375, above the budget cap $1.041667"
    )

    ingest_vms(world.engine, world.api.list_vms(), sim.now())
    report, _ = load_budget(world.engine, capped, sim.now(), with_trend=False)
    assert report.total.run_rate == Decimal("24.00")


def test_savings_alert_on_cloud_speaks_hours(world: CloudWorld) -> None:
    """The planner's saving on the cloud generation reaches the `savings.available` alert
    in the API's unit ("$…/h"), from the plan's billing model; marketplace-v3 wording is
    the epoch's."""
    from optimizer.alerts.rules import PlanSummary, plan_alerts
    from optimizer.alerts.tick import summarize_plan

    sim = world.sim
    first, second = _clusters(world)[:2]
    world.submit(_deploy(world, first), _deploy(world, first))
    _run(world, 30)
    sim.cloud.set_price(first, SLUG, "1.00")
    sim.cloud.set_price(second, SLUG, "0.10")
    sim.sync()
    plan = world.runner.plan(
        world.config.fleets[0],
        offers=world.api.list_offers(),
        vms=world.api.list_vms(),
        now=sim.now(),
    )
    summary = summarize_plan(plan)
    assert summary.billing is world.api.billing and summary.savings_per_epoch > 0
    (alert,) = plan_alerts({"web": summary}, "recommend")
    hourly = summary.savings_per_epoch / 24
    assert alert.title == f"Fleet web could save ${hourly:.4f}/h"
    assert alert.text.startswith(f"the plan would save ${hourly:.4f}/h (about $")
    v3 = PlanSummary(fleet="web", savings_per_epoch=Decimal("1234.5"))
    (alert,) = plan_alerts({"web": v3}, "recommend")
    assert alert.title == "Fleet web could save $1,234.50/epoch"


def test_price_spike_filter_holds_whole_vm_prices_against_the_hourly_cap(
    world: CloudWorld,
) -> None:
    """The price-spike alert's segment median over a fleet's allowed offers: on the cloud
    generation the cap (`max_price_per_hour_usd`, per VM, disk and IP included) is held
    against each offer's whole price per 24 h, as the planner holds it, not against the
    VM's hourly price (which every offer would pass). Past epochs and the market now alike."""
    from optimizer.alerts.tick import _PAST_MEDIANS, segment_medians
    from optimizer.store.ingest import ingest_snapshot

    sim = world.sim
    fleet = world.config.fleets[0]
    constraints = fleet.constraints.model_copy(update={"max_price_per_hour_usd": Decimal("0.5")})
    capped = world.config.model_copy(
        update={"fleets": [fleet.model_copy(update={"constraints": constraints})]}
    )
    for _ in range(3):  # yesterday and today, the same market: 0.10 on one cluster, 1.00 else
        sim.sync()
        ingest_snapshot(world.engine, world.api.offers_answer(), sim.now())
        sim.advance(timedelta(hours=12))
    _PAST_MEDIANS.clear()
    (series,) = segment_medians(world.engine, capped, sim.now(), 2).values()
    assert [v for _, v in series] == [pytest.approx(0.10), pytest.approx(0.10)]
    uncapped = segment_medians(world.engine, world.config, sim.now(), 2)["web"]
    assert [v for _, v in uncapped] == [pytest.approx(1.00), pytest.approx(1.00)]


def test_fleets_status_on_cloud_speaks_hours(
    world: CloudWorld, tmp_path: Any, capsys: Any, monkeypatch: Any
) -> None:
    """`fleets status` on the cloud generation: owned VMs priced per hour (they have no
    price per epoch there), the saving of completed migrations per hour; `--json` keeps
    its per-epoch keys, filled from the hourly price."""

    sim = world.sim
    first, second = _clusters(world)[:2]
    world.submit(_deploy(world, second))  # $1.00/h
    _run(world, 30)
    (old,) = world.ours()
    # to the $0.10/h cluster; the planner would say what the old VM cost as a whole
    world.submit(replace(_migrate(world, old.id, first), old_price=Decimal("25.77")))
    _run(world, 30)
    cfg = cloud_toml(tmp_path / "c.toml", world.url, world.db, mode="act", instances=1)
    monkeypatch.setenv("FLUENCE_API_KEY", sim.api_key)
    code, text, _ = run_main(capsys, "-c", str(cfg), "fleets", "status")
    assert code == 0
    code, js, _ = run_main(capsys, "-c", str(cfg), "fleets", "status", "--json")
    assert code == 0
    assert "1 migration(s), saving $" in text and "/h, realized" in text
    assert "USD/h" in text and "$0.100000" in text  # the first cluster's $0.10/h VM
    assert "/epoch" not in text
    (fleet,) = json.loads(js)
    (vm,) = [v for v in fleet["vms"] if v.get("status")]
    assert Decimal(vm["price_per_epoch_usd"]) == Decimal("2.40")


def _one_vm_then_fleet_cap(world: CloudWorld, cap: Decimal) -> Config:
    """One VM of fleet `web` running in the cheapest cluster; then the fleet's budget cap
    set to `cap` per 24 h for the planner and the executor. Returns that config."""
    world.submit(_deploy(world, _clusters(world)[0]))
    _run(world, 30)
    assert len(world.ours()) == 1
    fleet = world.config.fleets[0]
    budget = fleet.budget.model_copy(update={"max_usd_per_epoch": cap})
    capped = world.config.model_copy(
        update={"fleets": [fleet.model_copy(update={"budget": budget})]}
    )
    world.runner.config = world.runner.executor.config = capped
    return capped


def test_fleet_budget_counts_its_cloud_vms_whole(world: CloudWorld) -> None:
    """A fleet's budget cap on the cloud generation counts each of its VMs per VM, boot
    disk and IP included (the planner's `priced_vms`), like the VM a deploy would add:
    one VM at $0.107375/h whole ($2.577 per 24 h) leaves no room under $5 per 24 h for a
    second one, though the VMs alone ($2.40 + $2.577) would fit."""
    sim = world.sim
    fleet = world.config.fleets[0]
    capped = _one_vm_then_fleet_cap(world, Decimal(5)).fleets[0]

    def plan_at(now: datetime) -> Plan:
        return world.runner.plan(
            capped, offers=world.api.list_offers(), vms=world.api.list_vms(), now=now
        )

    plan = plan_at(sim.now())
    assert [a.kind for a in plan.actions] == []
    budget = fleet.budget.model_copy(update={"max_usd_per_epoch": Decimal("5.16")})
    capped = fleet.model_copy(update={"budget": budget})
    world.runner.config = world.config.model_copy(update={"fleets": [capped]})
    assert [a.kind for a in plan_at(sim.now() + timedelta(seconds=1)).actions] == ["deploy"]


def test_executor_cap_check_counts_the_fleets_vms_whole(world: CloudWorld) -> None:
    """The executor's last check before a create counts the fleet's VMs as its last plan
    priced them, boot disk and IP included: with one VM at $2.577 per 24 h whole ($2.40
    alone) under a fleet cap of $5, a deploy journaled before the cap was lowered (its
    estimate: $2.577) is aborted; counting the running VM alone it would have fitted."""
    sim = world.sim
    capped = _one_vm_then_fleet_cap(world, Decimal(5))
    plan = world.runner.plan(
        capped.fleets[0], offers=world.api.list_offers(), vms=world.api.list_vms(), now=sim.now()
    )
    assert not plan.actions  # the planner counts the VM whole too
    world.submit(_deploy(world, _clusters(world)[0]))
    _run(world, 10)
    assert len(world.ours()) == 1
    row = jr.recent_actions(world.engine, "web", sim.now() - timedelta(days=1))[-1]
    assert row.state == "aborted"
    assert row.error == "estimate $0.107375/h would exceed the fleet budget $0.208333"


def test_budget_and_spike_alerts_on_cloud_speak_hours(world: CloudWorld) -> None:
    """On the cloud generation the per-24 h cap alert and the price-spike alert word rates
    per hour (the configured generation's billing model when no plan ran this tick)."""
    from optimizer.alerts.rules import RuleInputs, evaluate_rules
    from optimizer.alerts.tick import _billing, load_budget
    from optimizer.store.ingest import ingest_vms

    sim = world.sim
    world.submit(_deploy(world, _clusters(world)[0]), _deploy(world, _clusters(world)[0]))
    _run(world, 30)
    ingest_vms(world.engine, world.api.list_vms(), sim.now())
    budget = world.config.budget.model_copy(update={"max_usd_per_epoch": Decimal(4)})
    capped = world.config.model_copy(update={"budget": budget})
    report, _ = load_budget(world.engine, capped, sim.now(), with_trend=False)
    billing = _billing(capped, None)
    assert billing is world.api.billing
    day = sim.now() - timedelta(days=2)
    medians = {"web": [(day, 0.10), (sim.now(), 0.20)]}
    inputs = RuleInputs(budget=report, segment_medians=medians, billing=billing)
    alerts = {a.key: a for a in evaluate_rules(inputs, capped)[0]}
    (cap,) = [a for k, a in alerts.items() if k.startswith("budget.epoch:")]  # the account's
    # two VMs at $0.10/h (the VMs alone: the store's price of a VM) above $4 / 24 h
    assert cap.title.startswith("Per-24 h cost above the cap")
    assert cap.text == "running VMs cost $0.2000/h, above the cap $0.1667/h"
    spike = alerts["price.spike:web"]
    assert "rose from $0.1000 to $0.2000/h since" in spike.text
