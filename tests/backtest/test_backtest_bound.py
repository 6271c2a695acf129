"""The lower bound: no schedule a policy can carry out costs less, at any start times.

The oracle is exhaustive enumeration with the billing account itself: one VM, every
schedule of up to two migrations whose starts lie anywhere on a fine time grid (not only
on snapshots), every offer per segment, on small traces whose prices change between
billing times (epoch 4 h, snapshots 1–2.5 h apart)."""

from __future__ import annotations

import itertools
import random
from datetime import timedelta

import pytest
from bt_helpers import T0, make_fleet
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from optimizer.backtest.baselines import hindsight_optimum
from optimizer.backtest.billing import Account, BillingModel
from optimizer.backtest.bound import lower_bound
from optimizer.backtest.planner_policy import PlannerPolicy
from optimizer.backtest.prices import Market, from_frame
from optimizer.backtest.replay import match_fleet
from optimizer.backtest.run import run_backtest

GRID_S = 1800  # enumeration grid: every 30 min
EPOCH_S = 4 * 3600


def _market(seed: int, n_offers: int = 2, span_h: float = 11.0) -> Market:
    """Snapshots at irregular multiples of 30 min, prices drawn per snapshot; offer 0 is
    always listed, others sometimes not."""
    import pandas as pd

    rng = random.Random(seed)
    t, times = 0.0, []
    while t < span_h:
        times.append(t)
        t += rng.choice((1.0, 1.5, 2.0, 2.5))
    times.append(span_h)
    rows = []
    for o in range(n_offers):
        for h in times:
            if o and rng.random() < 0.15:
                continue
            rows.append(
                {
                    "ts": T0 + timedelta(hours=h),
                    "offer_key": f"o{o}",
                    "configuration": "cpu-2-ram-4gb-storage-25gb",
                    "country": "DE",
                    "datacenter": f"DE-X-{o}",
                    "price_usd": round(rng.uniform(0.2, 1.0), 2),
                    "capacity": -1,
                }
            )
    return Market.build(from_frame(pd.DataFrame(rows), "test"))


def _cost(
    market: Market, model: BillingModel, starts: tuple[int, ...], offers: tuple[int, ...]
) -> int | None:
    """Total micro-USD of one VM deployed at starts[0] on offers[0], migrated (make-before-
    break) at each later start; None when a deploy is impossible."""
    end = int(market.times[-1])
    acct = Account(market, model)
    cur = None
    for t, o in zip(starts, offers, strict=True):
        acct.advance(t)
        row = market.step_at(t)
        if not acct.can_deploy(o, row):
            return None
        new = acct.deploy(o, row, t, replaces=cur.id if cur else None)
        if cur is not None:
            acct.schedule_delete(cur.id, new.active_at)
        cur = new
    acct.finish(end)
    return acct.total_micros


def brute_force_any_time(market: Market, model: BillingModel, max_moves: int = 2) -> int:
    """Cheapest one-VM schedule with at most `max_moves` migrations starting anywhere on
    the 30-min grid (first deploy at the first snapshot)."""
    t0, end = int(market.times[0]), int(market.times[-1])
    grid = list(range(t0 + GRID_S, end, GRID_S))
    best: int | None = None
    for k in range(max_moves + 1):
        for moves in itertools.combinations(grid, k):
            for offers in itertools.product(range(market.n_offers), repeat=k + 1):
                c = _cost(market, model, (t0, *moves), offers)
                if c is not None and (best is None or c < best):
                    best = c
    assert best is not None
    return best


@pytest.mark.parametrize("price_model", ["deal", "market"])
@pytest.mark.parametrize("seed", range(10))
def test_bound_is_below_every_schedule_at_any_time(seed: int, price_model: str) -> None:
    market = _market(seed)
    model = BillingModel(
        price_model=price_model,  # type: ignore[arg-type]
        lead_time_s=3600,
        epoch_s=EPOCH_S,
        disruption_cost_micros=30_000 if seed % 2 else 0,
    )
    match = match_fleet(market, make_fleet(1))
    bound = lower_bound(market, match, model)
    anytime = brute_force_any_time(market, model)
    opt = hindsight_optimum(market, match, model)
    assert 0 < bound <= min(anytime, opt.total_micros)
    if opt.migrations <= 2:  # the snapshot-time schedule is among those enumerated
        assert anytime <= opt.total_micros


def test_a_start_between_snapshots_can_beat_the_snapshot_optimum() -> None:
    """Why the bound exists: on some of these traces a schedule starting between snapshots
    costs less than the best schedule on snapshot times (the snapshot-time optimum is an
    upper bound of the true one, not the optimum)."""
    gaps = []
    for seed in range(10):
        market = _market(seed)
        for pm in ("deal", "market"):
            model = BillingModel(price_model=pm, lead_time_s=3600, epoch_s=EPOCH_S)  # type: ignore[arg-type]
            match = match_fleet(market, make_fleet(1))
            opt = hindsight_optimum(market, match, model)
            if opt.migrations <= 2:
                gaps.append(opt.total_micros - brute_force_any_time(market, model))
    assert min(gaps) >= 0
    assert max(gaps) > 0


def test_bound_equals_the_cost_when_nothing_can_be_won() -> None:
    """One offer at a constant price: every schedule costs the same charges as staying."""
    market = _market(3, n_offers=1)
    import numpy as np

    market.price[market.price >= 0] = 400_000
    market._ffill = None
    model = BillingModel(lead_time_s=3600, epoch_s=EPOCH_S)
    match = match_fleet(market, make_fleet(2))
    end, t0 = int(market.times[-1]), int(market.times[0])
    assert lower_bound(market, match, model) == 2 * 400_000 * int(np.ceil((end - t0) / EPOCH_S))


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    seed=st.integers(0, 10_000),
    price_model=st.sampled_from(["deal", "market"]),
    instances=st.integers(1, 3),
)
def test_no_policy_run_costs_less_than_the_bound(
    seed: int, price_model: str, instances: int
) -> None:
    """Random small hourly-ish traces (3 offers, 3 days, epoch 24 h, lead 10 min): static,
    greedy, the replayed optimum schedule and the default planner all cost at least the
    bound, and the bound is not above the snapshot-time optimum."""
    rng = random.Random(seed)
    from bt_helpers import make_market

    steps = 3 * 24 // 2
    prices: dict[str, list[float | None]] = {}
    for o in range(3):
        level = rng.uniform(0.2, 1.0)
        series: list[float | None] = []
        for _ in range(steps):
            if rng.random() < 0.2:
                level = rng.uniform(0.2, 1.0)
            series.append(None if o and rng.random() < 0.05 else round(level, 3))
        prices[f"o{o}"] = series
    market = make_market(prices, step=timedelta(hours=rng.choice((1, 2, 3))))
    model = BillingModel(price_model=price_model, lead_time_s=600)  # type: ignore[arg-type]
    fleet = make_fleet(instances)
    match = match_fleet(market, fleet)
    res = run_backtest(market, match, model, {"planner": PlannerPolicy("planner", fleet, market)})
    bound = lower_bound(market, match, model)
    for p in res.policies:
        assert p.total * 1_000_000 >= bound, p.name
    assert res.bound is not None and res.bound * 1_000_000 == bound
