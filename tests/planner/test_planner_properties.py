"""Property tests (hypothesis) of the planner's invariants on random fleets and markets."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from optimizer.config import FleetConfig
from optimizer.planner import BudgetState, MarketOffer, MarketView, OwnedVm, plan_fleet
from optimizer.planner.matching import why_not

NOW = datetime(2026, 5, 4, 9, 30, tzinfo=UTC)
DCS = ["DE-FRA-1", "DE-BER-1", "FR-PAR-1", "FR-PAR-2", "NL-AMS-1", "US-NYC-1"]
SLUGS = ["cpu-2-ram-4gb-storage-25gb", "cpu-4-ram-8gb-storage-25gb"]
STATUSES = ["Active", "Active", "Active", "New", "Launching", "Terminated", "SmallBalance"]

cents = st.integers(min_value=5, max_value=200).map(lambda c: Decimal(c) / 100)


@st.composite
def offers(draw):
    n = draw(st.integers(0, 14))
    out = []
    for i in range(n):
        slug = draw(st.sampled_from(SLUGS))
        dc = draw(st.sampled_from(DCS))
        out.append(
            MarketOffer(
                offer_key=f"o{i:02d}",
                configuration=slug,
                vcpu=int(slug.split("-")[1]),
                ram_gb=int(slug.split("-")[3][:-2]),
                country=dc[:2],
                datacenter=dc,
                price=draw(cents),
                capacity=draw(st.integers(0, 4)),
                tier=draw(st.integers(1, 4)),
                cpu_manufacturer=draw(st.sampled_from(["AMD", "Intel"])),
            )
        )
    return out


@st.composite
def vms(draw):
    n = draw(st.integers(0, 7))
    out = []
    for i in range(n):
        dc = draw(st.sampled_from(DCS))
        out.append(
            OwnedVm(
                id=f"0x{i:04x}",
                name=f"web-t{i}",
                status=draw(st.sampled_from(STATUSES)),
                price=draw(cents),
                datacenter=dc,
                country=dc[:2],
                vcpu=2,
                ram_gb=4,
                created_at=NOW - timedelta(hours=draw(st.integers(0, 200))),
                next_billing_at=NOW + timedelta(minutes=draw(st.integers(1, 1439))),
            )
        )
    return out


@st.composite
def fleets(draw):
    data = {
        "name": "web",
        "instances": draw(st.integers(0, 6)),
        "os_image": "https://images.example/u.img",
        "ssh_keys": ["k"],
        "policy": {
            "max_unavailable": draw(st.integers(0, 2)),
            "max_migrations_per_epoch": draw(st.integers(0, 3)),
            "max_surge": draw(st.integers(0, 3)),
            "cooldown_epochs": draw(st.sampled_from([0, 1, 2])),
            "align_to_billing": draw(st.booleans()),
            "min_savings_pct": draw(st.sampled_from([0, 5, 10])),
            "min_savings_usd_per_epoch": "0.01",
        },
        "constraints": {},
        "diversification": {},
    }
    if draw(st.booleans()):
        data["constraints"]["min_tier"] = draw(st.integers(1, 4))
    if draw(st.booleans()):
        data["constraints"]["exclude_datacenters"] = [draw(st.sampled_from(DCS))]
    if draw(st.booleans()):
        data["diversification"]["max_per_datacenter"] = draw(st.integers(1, 3))
    return FleetConfig.model_validate(data)


budgets = st.one_of(
    st.just(BudgetState()),
    st.builds(
        lambda cap, spend: BudgetState(cap_per_epoch=cap, spend_per_epoch=spend),
        cents.map(lambda c: c * 5),
        cents,
    ),
)

common = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _counted(vs):
    return [v for v in vs if v.status not in ("Terminated", "Stopped")]


@common
@given(fleets(), vms(), offers(), budgets)
def test_plan_invariants(fleet, owned, market_offers, budget) -> None:
    market = MarketView(offers=tuple(market_offers), taken_at=NOW)
    plan = plan_fleet(fleet, owned, market, None, budget, now=NOW, mode="act")
    ids = {v.id for v in owned}
    # never names a VM it was not given (foreign VMs are never in the input)
    assert all(a.vm_id is None or a.vm_id in ids for a in plan.actions)
    # every target satisfies the fleet's constraints, client-side filters included
    assert all(why_not(a.offer, fleet) is None for a in plan.actions if a.offer is not None)
    # never above the budget cap (when the account was within it to begin with)
    if budget.cap_per_epoch is not None and budget.spend_per_epoch <= budget.cap_per_epoch:
        delta = sum((a.expected_price or 0 for a in plan.actions if a.deploys), Decimal(0))
        delta -= sum(
            (
                a.old_price or 0
                for a in plan.actions
                if a.kind in ("migrate", "delete", "replace_stuck")
            ),
            Decimal(0),
        )
        assert budget.spend_per_epoch + delta <= budget.cap_per_epoch
    # never below the minimum by its own removals
    counted = _counted(owned)
    minimum = min(len(counted), max(fleet.instances - fleet.policy.max_unavailable, 0))
    deletes = sum(1 for a in plan.actions if a.kind == "delete")
    assert len(counted) - deletes >= minimum
    # migration limits
    migs = [a for a in plan.actions if a.kind == "migrate"]
    assert len(migs) <= min(fleet.policy.max_migrations_per_epoch, fleet.policy.max_surge)
    for a in migs:
        assert a.expected_price <= a.cap < a.old_price
        assert a.constraints.max_total_price_per_epoch_usd == a.cap
    # each VM gets at most one action
    touched = [a.vm_id for a in plan.actions if a.vm_id]
    assert len(touched) == len(set(touched))
    # deposits are two epochs of every new VM
    assert plan.deposits_needed == 2 * sum(
        (a.expected_price for a in plan.actions if a.deploys), Decimal(0)
    )


@common
@given(fleets(), vms(), offers(), budgets, st.randoms(use_true_random=False))
def test_plan_is_deterministic_and_order_independent(
    fleet, owned, market_offers, budget, rnd: random.Random
) -> None:
    a = plan_fleet(fleet, owned, MarketView(tuple(market_offers), NOW), None, budget, now=NOW)
    shuffled_vms, shuffled_offers = list(owned), list(market_offers)
    rnd.shuffle(shuffled_vms)
    rnd.shuffle(shuffled_offers)
    b = plan_fleet(
        fleet, shuffled_vms, MarketView(tuple(shuffled_offers), NOW), None, budget, now=NOW
    )
    assert a == b


@common
@given(fleets(), offers())
def test_fast_candidate_scan_equals_the_reference(fleet, market_offers) -> None:
    from optimizer.planner.matching import candidates, market_candidates

    view = MarketView(tuple(market_offers), NOW)
    assert market_candidates(view, fleet) == candidates(market_offers, fleet)
