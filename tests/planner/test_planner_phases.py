"""Each planning phase on its own, over a `PlanState` (pure: no clock, no I/O)."""

from __future__ import annotations

from datetime import time

from planner_helpers import NOW, D, fleet, market, offer, vm

from optimizer.planner import BudgetState, InFlight, plan_fleet
from optimizer.planner import phases as ph
from optimizer.planner.state import PlanState

#: a maintenance window that never contains NOW (12:00 UTC)
NIGHT = [{"start": time(2), "end": time(4)}]


def state(f, vms, m, **kw) -> PlanState:
    """The state after `start` and `count_members`, as every later phase sees it."""
    st = ph.start(f, vms, m, now=NOW, **kw)
    ph.count_members(st)
    return st


def test_start_prices_additional_storage_and_drops_offers_that_cannot_price_it() -> None:
    f = fleet(constraints={"additional_storage": {"type": "SSD", "size_gib": 10}})
    m = market(offer("x", "1.00", storage_gib_price=D("0.01")), offer("y", "0.50"))
    st = ph.start(f, [], m, now=NOW)
    assert [(o.offer_key, o.price) for o in st.market.offers] == [("x", D("1.10"))]


def test_start_sets_the_budget_left_and_what_other_fleets_took() -> None:
    st = ph.start(
        fleet(),
        [],
        market(offer("x", "1.00")),
        now=NOW,
        budget=BudgetState(cap_per_epoch=D(5), spend_per_epoch=D("3.5")),
        taken={"x": 2},
    )
    assert st.budget_left == D("1.5")
    assert st.used["x"] == 2


def test_count_members_counts_what_makes_up_the_fleet() -> None:
    vms = [
        vm("a", "1"),
        vm("b", "1", status="Terminated"),
        vm("c", "1", status="Stopped"),
        vm("d", "1"),  # launched by an unfinished action: not counted yet
        vm("e", "1", status="Stopped"),  # old VM of an open migration: keeps its place
    ]
    st = state(fleet(), vms, market(), in_flight=InFlight(new_vm_ids={"d"}, busy={"e"}))
    assert [v.id for v in st.counted] == ["a", "e"]
    assert {k: v.decision for k, v in st.verdicts.items()} == {
        "c": "stay",
        "d": "busy",
        "e": "busy",
    }
    assert st.per_dc["FR-PAR-1"] == 1  # only "a" occupies a datacenter slot


def test_finalize_terminated_deletes_provider_terminated_vms_no_action_is_busy_with() -> None:
    vms = [vm("a", "1", status="Terminated"), vm("b", "1", status="Terminated")]
    st = state(fleet(), vms, market(), in_flight=InFlight(busy={"b"}))
    ph.finalize_terminated(st)
    assert [(a.kind, a.vm_id) for a in st.actions] == [("finalize", "a")]


def test_replace_stuck_moves_a_launch_past_its_timeout_to_another_datacenter() -> None:
    vms = [
        vm("a", "1", status="Launching", age_h=1),  # past the 20 min default timeout
        vm("b", "1", status="New", age_h=0.1),  # still within it
    ]
    m = market(offer("x", "0.90"), offer("y", "0.95", dc="DE-FRA-1"))
    st = state(fleet(), vms, m)
    ph.replace_stuck(st)
    assert [(a.kind, a.vm_id, a.offer.offer_key) for a in st.actions] == [
        ("replace_stuck", "a", "y")
    ]
    assert st.verdicts["a"].decision == "replace"


def test_size_to_instances_deploys_what_is_missing_within_the_budget() -> None:
    st = state(
        fleet(instances=3),
        [vm("a", "1")],
        market(offer("x", "1.00")),
        budget=BudgetState(cap_per_epoch=D(2), spend_per_epoch=D(1)),
    )
    ph.size(st)
    assert [a.kind for a in st.actions] == ["deploy"]
    assert (st.target, st.minimum, st.budget_limited) == (3, 3, True)
    assert "leaves room for 2 of 3 VMs" in st.notes[0]


def test_size_to_instances_scale_down_waits_for_a_maintenance_window() -> None:
    f = fleet(instances=1, policy={"maintenance_windows": NIGHT})
    st = state(f, [vm("a", "1"), vm("b", "2")], market())
    ph.size(st)
    assert not st.actions
    assert st.excess == 1
    assert "waits for a maintenance window" in st.notes[0]


def test_size_waits_while_earlier_size_changes_run() -> None:
    st = state(fleet(instances=3), [], market(offer("x", "1")), in_flight=InFlight(scaling=1))
    ph.size(st)
    assert not st.actions
    assert st.notes == ["size changes wait: earlier deploys or deletions are still in progress"]


def test_size_to_capacity_adds_the_cheapest_mix() -> None:
    big = "cpu-8-ram-16gb-storage-25gb"
    small = "cpu-2-ram-4gb-storage-25gb"
    f = fleet(
        instances=None,
        capacity={"vcpu": 8},
        constraints={"configurations": [small, big]},
    )
    st = state(f, [], market(offer("s", "0.20", cfg=small), offer("b", "1.00", cfg=big)))
    ph.size(st)
    assert [a.offer.offer_key for a in st.actions] == ["s"] * 4
    assert st.target == st.minimum == 4


def test_trim_to_budget_removes_the_dearest_down_to_the_minimum() -> None:
    f = fleet(instances=2)
    vms = [vm("a", "1"), vm("b", "3"), vm("c", "2")]
    st = state(f, vms, market(), budget=BudgetState(cap_per_epoch=D(1), spend_per_epoch=D(6)))
    st.minimum = 2
    ph.trim_to_budget(st)
    assert [(a.kind, a.vm_id) for a in st.actions] == [("delete", "b")]
    assert st.budget_limited  # still over the cap at the minimum
    assert "at its minimum" in st.notes[0]


def test_migrate_takes_the_best_saving_first_within_the_per_epoch_limit() -> None:
    vms = [vm("a", "1.00"), vm("b", "1.20")]
    st = state(fleet(), vms, market(offer("x", "0.50", cap=5, dc="NL-AMS-1")))
    ph.migrate(st)
    assert [(a.kind, a.vm_id) for a in st.actions] == [("migrate", "b")]
    assert "max_migrations_per_epoch 1 reached" in st.verdicts["a"].reason


def test_migrate_leaves_alone_vms_an_earlier_phase_decided() -> None:
    st = state(fleet(), [vm("a", "1.00")], market(offer("x", "0.50", dc="NL-AMS-1")))
    st.verdict(st.counted[0], "delete", "decided earlier")
    ph.migrate(st)
    assert not st.actions


def test_finish_totals_cost_and_deposits() -> None:
    st = state(fleet(instances=2), [vm("a", "1.00")], market(offer("x", "0.80")))
    ph.size(st)
    p = ph.finish(st, "recommend")
    assert p.cost_per_epoch_now == D("1.00")
    assert p.cost_per_epoch_planned == D("1.80")
    assert p.deposits_needed == D("1.60")  # two epochs of the new VM's price
    assert [v.decision for v in p.verdicts] == ["stay"]


def test_plan_fleet_is_the_phases_in_order() -> None:
    f = fleet(instances=3, diversification={"max_per_datacenter": 2})
    vms = [
        vm("a", "1.00"),
        vm("b", "1.00", status="Terminated"),
        vm("c", "1.00", status="Launching", age_h=2, dc="DE-FRA-1"),
    ]
    m = market(offer("x", "0.50", dc="NL-AMS-1"), offer("y", "0.70"), offer("z", "0.90"))
    st = ph.start(f, vms, m, now=NOW)
    for phase in (
        ph.count_members,
        ph.finalize_terminated,
        ph.replace_stuck,
        ph.size,
        ph.trim_to_budget,
        ph.migrate,
    ):
        phase(st)
    by_hand = ph.finish(st, "act")
    planned = plan_fleet(f, vms, m, now=NOW, mode="act")
    assert planned == by_hand
    kinds = [a.kind for a in planned.actions]
    assert kinds == ["finalize", "replace_stuck", "deploy", "migrate"]
