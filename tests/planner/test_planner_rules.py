"""Planner rules on hand-built inputs (pure: no clock, no I/O)."""

from __future__ import annotations

from datetime import timedelta

from planner_helpers import NOW, D, fleet, market, offer, plan, vm

from optimizer.planner import (
    BudgetState,
    InFlight,
    LaunchStats,
    OwnedVm,
)
from optimizer.planner.capacity_mix import cheapest_mix


def test_cheaper_offer_gives_exactly_one_billing_aligned_migration() -> None:
    p = plan(
        fleet(),
        [vm("a", "1.00"), vm("b", "1.00", dc="DE-FRA-1")],
        market(offer("x", "0.50", dc="NL-AMS-1"), offer("y", "1.00")),
        launch=LaunchStats(lead_time=timedelta(minutes=10)),
    )
    migs = [a for a in p.actions if a.kind == "migrate"]
    assert len(migs) == 1  # max_migrations_per_epoch = 1
    m = migs[0]
    assert m.vm_id == "a" and m.offer.offer_key == "x"
    assert m.cutover_at == NOW + timedelta(hours=6) - timedelta(minutes=5)
    assert m.not_before == m.cutover_at - timedelta(minutes=10)
    assert m.constraints.basic_configuration == "cpu-2-ram-4gb-storage-25gb"
    assert m.constraints.datacenter.countries == ["NL"]
    assert m.cap == D("0.90") and m.constraints.max_total_price_per_epoch_usd == D("0.90")
    assert m.saving_per_epoch == D("0.50")
    verdict_b = next(v for v in p.verdicts if v.vm_id == "b")
    assert verdict_b.decision == "stay" and "max_migrations_per_epoch" in verdict_b.reason


def test_small_price_drop_does_not_move() -> None:
    p = plan(fleet(), [vm("a", "1.00"), vm("b", "1.00")], market(offer("x", "0.95")))
    assert not p.actions
    assert all("margin" in v.reason for v in p.verdicts)


def test_unaligned_migration_pays_for_unused_old_epoch() -> None:
    f = fleet(policy={"align_to_billing": False, "payback_epochs": 1})
    # 20 h of the old VM's paid epoch left: overlap ≈ 0.83 > one epoch of 0.5 saving
    p = plan(f, [vm("a", "1.00", billing_in_h=20)], market(offer("x", "0.50")))
    assert not [a for a in p.actions if a.kind == "migrate"]
    assert "pays back" in p.verdicts[0].reason


def test_cooldown_blocks_recently_created_vm() -> None:
    p = plan(fleet(instances=1), [vm("a", "1.00", age_h=10)], market(offer("x", "0.10")))
    assert not p.actions and "cooldown" in p.verdicts[0].reason


def test_recent_migrations_use_up_the_epoch_limit() -> None:
    inf = InFlight(recent_migrations=(NOW - timedelta(hours=3),))
    p = plan(fleet(instances=1), [vm("a", "1.00")], market(offer("x", "0.10")), in_flight=inf)
    assert not p.actions


def test_terminated_vm_is_finalized_and_replaced() -> None:
    p = plan(
        fleet(), [vm("a", "1.00"), vm("b", "1.00", status="Terminated")], market(offer("x", "0.95"))
    )
    kinds = sorted(a.kind for a in p.actions)
    assert kinds == ["deploy", "finalize"]
    assert next(a for a in p.actions if a.kind == "finalize").vm_id == "b"
    assert p.deposits_needed == D("1.90")


def test_stuck_launch_is_replaced_in_another_datacenter() -> None:
    p = plan(
        fleet(instances=1),
        [vm("a", "1.00", status="Launching", age_h=1)],
        market(offer("x", "0.90", dc="FR-PAR-1"), offer("y", "0.95", dc="DE-FRA-1")),
    )
    (a,) = p.actions
    assert a.kind == "replace_stuck" and a.vm_id == "a" and a.offer.datacenter == "DE-FRA-1"


def test_scale_down_removes_dearest_first_and_respects_do_not_disrupt() -> None:
    f = fleet(instances=2, policy={"do_not_disrupt": ["web-c"]})
    p = plan(f, [vm("a", "1.00"), vm("b", "2.00"), vm("c", "3.00")], market())
    deleted = sorted(a.vm_id for a in p.actions if a.kind == "delete")
    assert deleted == ["b"]


def test_diversification_spreads_deploys() -> None:
    f = fleet(instances=4, diversification={"max_per_datacenter": 2, "min_countries": 2})
    m = market(
        offer("a", "0.10", dc="FR-PAR-1"),
        offer("b", "0.11", dc="FR-PAR-2"),
        offer("c", "0.50", dc="DE-FRA-1"),
    )
    p = plan(f, [], m)
    dcs = sorted(a.offer.datacenter for a in p.actions)
    assert len(dcs) == 4
    assert max(dcs.count(d) for d in set(dcs)) <= 2
    assert len({d[:2] for d in dcs}) >= 2


def test_capacity_target_usescheapest_mix() -> None:
    f = fleet(
        instances=None,
        capacity={"vcpu": 8},
        constraints={
            "configurations": ["cpu-2-ram-4gb-storage-25gb", "cpu-8-ram-16gb-storage-25gb"]
        },
    )
    m = market(offer("s", "0.30"), offer("l", "1.00", cfg="cpu-8-ram-16gb-storage-25gb"))
    p = plan(f, [], m)
    assert [a.offer.offer_key for a in p.actions] == ["l"]
    assert cheapest_mix({"a": (2, 4, D("0.2")), "b": (8, 16, D("1"))}, 8, 0) == {"a": 4}


def test_budget_cap_limits_deploys_and_says_so() -> None:
    p = plan(
        fleet(instances=5),
        [],
        market(offer("x", "1.00")),
        budget=BudgetState(cap_per_epoch=D("2.50"), spend_per_epoch=D("0")),
    )
    assert len(p.actions) == 2
    assert p.budget_limited and "budget cap" in p.notes[0]


def test_client_side_filters_and_shadowed_offers() -> None:
    f = fleet(instances=1, constraints={"exclude_datacenters": ["FR-PAR-1"]})
    # the excluded offer is cheaper and indistinguishable to the API → target would be unsafe
    m = market(
        offer("bad", "0.10", dc="FR-PAR-1"),
        offer("ok", "0.20", dc="FR-PAR-2"),
        offer("de", "0.30", dc="DE-FRA-1"),
    )
    p = plan(f, [], m)
    assert [a.offer.offer_key for a in p.actions] == ["de"]


def test_plan_is_deterministic() -> None:
    args = (fleet(instances=3), [vm("a", "1.00")], market(offer("x", "0.2"), offer("y", "0.2")))
    assert plan(*args) == plan(*args)


def test_maintenance_window_gates_cutover_time() -> None:
    # billing in 6 h → cutover 17:55 UTC; window 02:00-05:00 → the VM stays and says why
    f = fleet(instances=1, policy={"maintenance_windows": [{"start": "02:00", "end": "05:00"}]})
    p = plan(f, [vm("a", "1.00")], market(offer("x", "0.10")))
    assert not p.actions and "maintenance windows" in p.verdicts[0].reason
    # billing at 03:00 next day → cutover 02:55 is inside the window
    p = plan(f, [vm("a", "1.00", billing_in_h=15)], market(offer("x", "0.10")))
    assert [a.kind for a in p.actions] == ["migrate"]


def test_in_flight_actions_block_their_vms_and_size_changes() -> None:
    inf = InFlight(busy=frozenset({"a"}), new_vm_ids=frozenset({"n"}), migrations=1, scaling=0)
    vms = [vm("a", "1.00"), vm("b", "1.00"), vm("n", "0.10", status="Launching", age_h=0.1)]
    p = plan(fleet(policy={"max_surge": 1}), vms, market(offer("x", "0.10")), in_flight=inf)
    assert not p.actions  # a is busy, surge used up by the running migration, size is 2
    decisions = {v.vm_id: v.decision for v in p.verdicts}
    assert decisions["a"] == "busy" and decisions["n"] == "busy"
    assert "max_surge" in next(v.reason for v in p.verdicts if v.vm_id == "b")


def test_old_vm_terminated_during_its_migration_is_replaced_by_that_migration_only() -> None:
    """The provider terminated `a` while its migration was under way: the migration's new
    VM is its replacement. No second replacement, and no finalize (the cutover deletes it)."""
    inf = InFlight(busy=frozenset({"a"}), migrations=1)
    vms = [vm("a", "1.00", status="Terminated"), vm("b", "1.00")]
    p = plan(fleet(policy={"max_surge": 2}), vms, market(offer("x", "1.00")), in_flight=inf)
    assert not p.actions
    assert next(v for v in p.verdicts if v.vm_id == "a").decision == "busy"


def test_fleet_above_its_size_has_no_room_to_surge() -> None:
    """Three VMs for a fleet of two (a deploy finished while another was on its way) while
    a deploy is still open: a migration would make four running VMs, above size + surge."""
    vms = [vm("a", "1.00"), vm("b", "1.00"), vm("c", "1.00")]
    inf = InFlight(scaling=1)
    p = plan(fleet(policy={"max_surge": 1}), vms, market(offer("x", "0.10")), in_flight=inf)
    assert not p.actions
    assert all("above the fleet's size" in v.reason for v in p.verdicts)


def test_min_reliability_avoids_flaky_datacenters_and_ties_go_to_reliable() -> None:
    from optimizer.planner import Trends

    t = Trends(reliability={"FR-PAR-1": 0.2, "DE-FRA-1": 0.9, "NL-AMS-1": 0.99})
    m = market(
        offer("fr", "0.10", dc="FR-PAR-1"),
        offer("de", "0.20", dc="DE-FRA-1"),
        offer("nl", "0.20", dc="NL-AMS-1"),
    )
    p = plan(fleet(instances=1, policy={"min_reliability": 0.5}), [], m, trends=t)
    assert [a.offer.offer_key for a in p.actions] == ["nl"]


def test_additional_storage_is_priced_into_targets_and_caps() -> None:
    from dataclasses import replace

    f = fleet(instances=1, constraints={"additional_storage": {"type": "SSD", "size_gib": 100}})
    cheap_no_price = replace(offer("a", "0.10"), storage_type="SSD")
    priced = replace(offer("b", "0.20"), storage_type="SSD", storage_gib_price=D("0.001"))
    p = plan(f, [], market(cheap_no_price, priced))
    (a,) = p.actions
    assert a.offer.offer_key == "b" and a.expected_price == D("0.300")
    assert a.constraints.max_total_price_per_epoch_usd == D("0.300")
    assert a.constraints.additional_resources.storage[0].supply == 100


def _dip_trends(forecast: str | None = None, slope: float | None = None):
    from optimizer.planner import Trends

    key = ("cpu-2-ram-4gb-storage-25gb", "NL")
    return Trends(
        forecast={key: D(forecast)} if forecast else {},
        slope={key: slope} if slope is not None else {},
    )


def test_price_under_forecast_starts_now_when_that_pays() -> None:
    # 2 h of the old epoch left: starting now wastes ~0.08, repaid well within 3 epochs
    vms = [vm("a", "1.00", billing_in_h=2)]
    m = market(offer("x", "0.50", dc="NL-AMS-1"))
    p = plan(fleet(instances=1), vms, m, trends=_dip_trends("0.80"))
    mig = next(a for a in p.actions if a.kind == "migrate")
    assert mig.not_before == NOW and "under the forecast" in mig.reason
    # no dip signal: the same move waits for the billing boundary
    p = plan(fleet(instances=1), vms, m, trends=_dip_trends("0.40", slope=-0.01))
    mig = next(a for a in p.actions if a.kind == "migrate")
    assert mig.not_before > NOW and "before its next charge" in mig.reason


def test_rising_prices_start_now_or_wait_without_committing() -> None:
    # 20 h left: starting now wastes ~0.83 of the old epoch, more than 1 epoch of saving
    f = fleet(instances=1, policy={"payback_epochs": 1})
    m = market(offer("x", "0.50", dc="NL-AMS-1"))
    p = plan(f, [vm("a", "1.00", billing_in_h=20)], m, trends=_dip_trends(slope=0.02))
    assert not p.actions  # the dip may be gone at the boundary: re-decide next time
    assert "rise" in p.verdicts[0].reason and "does not pay yet" in p.verdicts[0].reason
    # without the signal the move is planned for the billing boundary
    p = plan(f, [vm("a", "1.00", billing_in_h=20)], m, trends=_dip_trends(slope=-0.02))
    mig = next(a for a in p.actions if a.kind == "migrate")
    assert mig.not_before == NOW + timedelta(hours=20, minutes=-15)


def test_capacity_fleet_reasons_compare_per_vcpu_not_per_vm() -> None:
    """Issue 20: a cpu-8 VM at $0.91079 was told "the best allowed offer ($0.46176) is not
    cheaper by the required margin" — a cpu-4 offer, half the VM. The reason now compares
    per vCPU and names the best offer that could actually replace the VM."""
    f = fleet(
        instances=None,
        capacity={"vcpu": 8},
        constraints={
            "configurations": ["cpu-4-ram-8gb-storage-25gb", "cpu-8-ram-16gb-storage-25gb"]
        },
    )
    m = market(
        offer("small", "0.46176", cfg="cpu-4-ram-8gb-storage-25gb"),
        offer("large", "0.91079", cfg="cpu-8-ram-16gb-storage-25gb", dc="DE-FRA-1"),
    )
    p = plan(f, [vm("a", "0.91079", cfg=(8, 16))], m)
    assert not p.actions
    (v,) = p.verdicts
    assert v.decision == "stay"
    assert "($0.46176)" not in v.reason
    assert "$0.11385/vCPU" in v.reason  # 0.91079 / 8
    assert "at least as large (cpu-8-ram-16gb-storage-25gb, $0.91079) is not cheaper" in v.reason
    # per vCPU the VM is already on the cheapest offer: 0.46176 / 4 = 0.11544 > 0.11385
    assert "the cheapest allowed offer is cpu-8-ram-16gb-storage-25gb at $0.11385/vCPU" in v.reason
    assert "compared per vCPU" in v.reason

    m = market(  # now the small offer is cheaper per vCPU: said, and why it is no target
        offer("small", "0.40", cfg="cpu-4-ram-8gb-storage-25gb"),
        offer("large", "0.91079", cfg="cpu-8-ram-16gb-storage-25gb", dc="DE-FRA-1"),
    )
    (v,) = plan(f, [vm("a", "0.91079", cfg=(8, 16))], m).verdicts
    assert "cpu-4-ram-8gb-storage-25gb at $0.10000/vCPU, but a smaller VM cannot replace" in (
        v.reason
    )


def _levels(**by_key: tuple[str, str]):
    """Trends whose offer levels are given per offer key as (median, half-width)."""
    from optimizer.planner import Trends

    return Trends(levels={k: (D(m), D(h)) for k, (m, h) in by_key.items()})


def mvm(id: str, price: str, offer_key: str = "a0") -> OwnedVm:
    """A VM whose offer is known (the backtest knows it)."""
    from dataclasses import replace

    return replace(vm(id, price), offer_key=offer_key)


def test_market_priced_vm_does_not_chase_a_dip() -> None:
    """A VM paying its offer's market price: the target is 20 % cheaper right now, but its
    level over the last epoch is the VM's own — a dip that would not last. It stays; the
    same VM on deal pricing (it would keep the dip's price) moves."""
    vms = [mvm("a", "1.00")]
    m = market(offer("x", "0.80", dc="NL-AMS-1"))
    levels = _levels(a0=("1.00", "0"), x=("1.00", "0"))
    p = plan(fleet(instances=1, policy={"price_model": "market"}), vms, m, trends=levels)
    assert not p.actions
    assert "level $1.00 ± 0" in p.verdicts[0].reason
    p = plan(fleet(instances=1), vms, m, trends=levels)
    assert [a.kind for a in p.actions] == ["migrate"]


def test_per_second_billing_judges_on_levels_whatever_the_price_model_says() -> None:
    """Per-second billing holds no price: a VM pays the price of the moment, so a fleet left
    at the default `price_model = "deal"` is judged as market-priced there — the 20 % dip
    that would not last is not chased (on epoch deals the same fleet moves)."""
    from optimizer.billing import PER_SECOND

    vms = [mvm("a", "1.00")]
    m = market(offer("x", "0.80", dc="NL-AMS-1"))
    levels = _levels(a0=("1.00", "0"), x=("1.00", "0"))
    p = plan(fleet(instances=1), vms, m, trends=levels, billing=PER_SECOND)
    assert not p.actions
    assert "level $" in p.verdicts[0].reason
    assert [a.kind for a in plan(fleet(instances=1), vms, m, trends=levels).actions] == ["migrate"]


def test_market_priced_move_must_pay_back_under_the_levels_uncertainty() -> None:
    """Levels 1.00 vs 0.80: a 20 % saving when both are certain → move; with ±0.15 on
    each the robust saving is 0.20 − sqrt(2)·0.15 = −0.012 → stay (it may save nothing)."""
    vms = [mvm("a", "1.00")]
    m = market(offer("x", "0.80", dc="NL-AMS-1"))
    f = fleet(instances=1, policy={"price_model": "market"})
    sure = _levels(a0=("1.00", "0"), x=("0.80", "0"))
    p = plan(f, vms, m, trends=sure)
    (mig,) = p.actions
    assert mig.saving_per_epoch == D("0.20") and mig.not_before > NOW  # billing-aligned
    unsure = _levels(a0=("1.00", "0.15"), x=("0.80", "0.15"))
    p = plan(f, vms, m, trends=unsure)
    assert not p.actions
    assert "robust saving $-0.012132/epoch" in p.verdicts[0].reason


def test_market_priced_vm_is_judged_by_the_better_level_not_the_lower_price() -> None:
    """Two groups: x is cheaper right now (a dip, level 0.95), y a little dearer but at
    level 0.70. The move goes to y."""
    vms = [mvm("a", "1.00")]
    m = market(offer("x", "0.60", dc="NL-AMS-1"), offer("y", "0.70", dc="DE-FRA-1"))
    levels = _levels(a0=("1.00", "0"), x=("0.95", "0"), y=("0.70", "0"))
    p = plan(fleet(instances=1, policy={"price_model": "market"}), vms, m, trends=levels)
    (mig,) = p.actions
    assert mig.offer.offer_key == "y"


def test_market_priced_move_never_starts_early_for_a_dip() -> None:
    """The dip signal (under the forecast) starts a deal-priced move now; a market-priced
    VM would not keep that price, so its move waits for the billing boundary."""
    from dataclasses import replace

    vms = [vm("a", "1.00", billing_in_h=2)]
    m = market(offer("x", "0.50", dc="NL-AMS-1"))
    t = replace(_dip_trends("0.80"), levels=_levels(x=("0.50", "0")).levels)
    p = plan(fleet(instances=1, policy={"price_model": "market"}), vms, m, trends=t)
    (mig,) = p.actions
    assert mig.not_before > NOW and "before its next charge" in mig.reason


def test_market_priced_vm_without_an_offer_key_is_matched_to_its_offer() -> None:
    """Live, the API does not say which offer a VM runs on: the one listed offer in its
    datacenter with its hardware and price is taken. Its level (0.70; 1.00 is a spike)
    makes a move to x (level 0.80) not worth it; read as certain at 1.00 it would be."""
    m = market(offer("mine", "1.00"), offer("other", "0.90"), offer("x", "0.80", dc="NL-AMS-1"))
    levels = _levels(mine=("0.70", "0"), other=("0.90", "0"), x=("0.80", "0"))
    f = fleet(instances=1, policy={"price_model": "market"})
    p = plan(f, [vm("a", "1.00")], m, trends=levels)
    assert not p.actions
    p = plan(f, [vm("a", "1.00")], m, trends=_levels(other=("0.90", "0"), x=("0.80", "0")))
    assert [a.offer.offer_key for a in p.actions] == ["x"]


def _week(trends, **by_key: str):
    """`trends` with week levels given per offer key."""
    from dataclasses import replace

    return replace(trends, week_levels={k: D(v) for k, v in by_key.items()})


def test_a_move_off_an_offer_no_longer_listed_is_judged_at_the_targets_week_level() -> None:
    """The VM's offer a0 has no level (it left the market): its price of 1.00 is one no
    deploy can get again, so a move is for good. Target x is at 0.85 today but 1.02 over
    the week: a low day the week does not bear out — it stays, and says why. With x at
    0.88 over the week too, it moves, and the saving counted is the week's 0.12."""
    vms = [mvm("a", "1.00")]
    m = market(offer("x", "0.85", dc="NL-AMS-1"))
    f = fleet(instances=1, policy={"price_model": "market"})
    day = _levels(x=("0.85", "0"))
    p = plan(f, vms, m, trends=_week(day, x="1.02"))
    assert not p.actions
    assert "no longer listed, so the move is for good" in p.verdicts[0].reason
    assert "level $1.02 ± 0" in p.verdicts[0].reason
    (mig,) = plan(f, vms, m, trends=_week(day, x="0.88")).actions
    assert mig.offer.offer_key == "x" and mig.saving_per_epoch == D("0.12")


def test_a_vm_whose_offer_is_still_listed_is_judged_on_the_day_alone() -> None:
    """The same target, but the VM's offer a0 is still listed (it has a level): it could
    move back, so the week is not asked for and the move goes ahead."""
    vms = [mvm("a", "1.00")]
    m = market(offer("x", "0.85", dc="NL-AMS-1"))
    f = fleet(instances=1, policy={"price_model": "market"})
    trends = _week(_levels(a0=("1.00", "0"), x=("0.85", "0")), x="1.02", a0="1.00")
    (mig,) = plan(f, vms, m, trends=trends).actions
    assert mig.saving_per_epoch == D("0.15") and "no longer listed" not in mig.reason
