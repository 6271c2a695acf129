"""Per-second billing (the cloud API generation): the account bills every second a VM
exists at its offer's price of the moment, and the hindsight optimum is exact — equal to
a brute-force program over every start second, on traces whose prices change between any
two billing points (there are none: every snapshot is a price change)."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd
import pytest
from bt_helpers import make_fleet, make_market

from optimizer.backtest.baselines import (
    GreedyPolicy,
    ScheduledPolicy,
    StaticPolicy,
    hindsight_optimum,
)
from optimizer.backtest.billing import Account, BillingModel
from optimizer.backtest.bound import lower_bound
from optimizer.backtest.prices import Market, from_frame
from optimizer.backtest.replay import Migrate, StepView, match_fleet, replay
from optimizer.backtest.run import run_backtest

T0 = datetime(2026, 3, 1, tzinfo=UTC)
PER_SECOND = "per-second"


def _market(
    times: list[int],
    prices: dict[str, list[float | None]],
    capacity: dict[str, list[int]] | None = None,
) -> Market:
    """Hourly price points at the given seconds after T0 (None = not listed)."""
    rows = [
        {
            "ts": T0 + timedelta(seconds=t),
            "offer_key": k,
            "configuration": "cpu-2-ram-4gb-storage-25gb",
            "country": "DE",
            "datacenter": f"DE-X-{k}",
            "price_usd": p,
            "capacity": capacity[k][i] if capacity else -1,
            "price_unit": "hour",
        }
        for k, series in prices.items()
        for i, (t, p) in enumerate(zip(times, series, strict=True))
        if p is not None
    ]
    return Market.build(from_frame(pd.DataFrame(rows), "test"))


def _price_per_second(market: Market) -> np.ndarray:
    """(seconds from the first snapshot to the last, offers): the price of each second,
    -1 where the offer is not listed at that second's snapshot (independent of the
    integral the program uses)."""
    t0, end = int(market.times[0]), int(market.times[-1])
    rows = np.searchsorted(market.times, np.arange(t0, end), side="right") - 1
    return market.ffill_price[rows], market.price[rows], market.capacity[rows]


def brute_force(market: Market, model: BillingModel) -> int:
    """The cheapest single-VM schedule over every start second: g[τ] = cheapest way to
    have paid everything before a segment starting at second τ; a segment on o from τ
    until its successor at τ' costs the sum of o's price over the seconds τ .. τ'+lead."""
    ff, listed, cap = _price_per_second(market)
    n, n_offers = ff.shape
    lead, D = model.lead_time_s, model.disruption_cost_micros * market.period_s
    ok = (listed >= 0) & ((cap < 0) | (cap >= 1))
    cum = np.vstack([np.zeros(n_offers, dtype=np.int64), np.cumsum(np.maximum(ff, 0), axis=0)])
    INF = float("inf")
    g = [INF] * n
    g[0] = 0
    best = INF
    for tau in range(n):
        if g[tau] == INF:
            continue
        for o in range(n_offers):
            if not ok[tau, o]:
                continue
            best = min(best, g[tau] + int(cum[n, o] - cum[tau, o]))
            for nxt in range(tau + 1, n):
                if not ok[nxt].any():
                    continue
                stop = min(nxt + lead, n)
                g[nxt] = min(g[nxt], g[tau] + int(cum[stop, o] - cum[tau, o]) + D)
    assert best < INF
    return int(best)


def _random_trace(seed: int) -> tuple[Market, BillingModel]:
    rng = random.Random(seed)
    steps = rng.randint(4, 7)
    times = [0]
    for _ in range(steps - 1):
        times.append(times[-1] + rng.randint(2, 9))  # irregular snapshots
    prices: dict[str, list[float | None]] = {}
    for o in range(3):
        series: list[float | None] = [round(rng.uniform(0.2, 1.0), 2) for _ in times]
        if o and rng.random() < 0.5:
            series[rng.randrange(1, steps)] = None
        prices[f"o{o}"] = series
    capacity = {k: [rng.choice((0, 1, 3, -1)) for _ in times] for k in prices}
    capacity["o0"] = [1] * steps  # one offer always has room
    model = BillingModel(
        price_model=PER_SECOND,
        lead_time_s=rng.choice((1, 3, 5, 11)),  # shorter and longer than a snapshot gap
        disruption_cost_micros=rng.choice((0, 0, 50_000)),
    )
    return _market(times, prices, capacity), model


@pytest.mark.parametrize("seed", range(40))
def test_optimum_equals_brute_force_over_every_second(seed: int) -> None:
    """Random traces: 4–7 irregular snapshots 2–9 s apart (a price change at each, some
    offers unlisted or without room at times), lead time 1–11 s, disruption cost 0 or
    0.05 USD. The program's total equals the brute force over every start second; its
    schedule, replayed through the executor (moves journaled to their second), costs
    exactly that; and it is the lower bound too (one VM: exact)."""
    market, model = _random_trace(seed)
    match = match_fleet(market, make_fleet(1))
    opt = hindsight_optimum(market, match, model)
    assert opt.total_micros == brute_force(market, model)
    run = replay(market, match, ScheduledPolicy(market, opt), model)
    assert not run.stats.failed
    assert run.account.total_micros == opt.total_micros
    assert lower_bound(market, match, model) == opt.total_micros


class RandomMover:
    """Migrates its VM at random seconds (journaled between snapshots) to random offers."""

    name = "random"

    def __init__(self, seed: int, n_offers: int) -> None:
        self.rng = random.Random(seed)
        self.n = n_offers

    def decide(self, view: StepView) -> list:  # type: ignore[type-arg]
        from optimizer.backtest.replay import Deploy

        if not view.vms:
            return [Deploy(1)]
        acts = []
        gap = 1 + int(view.market.market.times[-1] - view.now) if view.step else 1
        for v in view.vms:
            if v.being_replaced or self.rng.random() < 0.4:
                continue
            only = np.zeros(self.n, dtype=bool)
            only[self.rng.randrange(self.n)] = True
            at = view.now + self.rng.randrange(max(gap, 1))
            acts.append(Migrate(v.id, offers=only, not_before=at))
        return acts


@pytest.mark.parametrize("seed", range(20))
def test_no_policy_beats_the_optimum(seed: int) -> None:
    """Static, greedy and random movers acting at any second never cost less."""
    market, model = _random_trace(seed)
    match = match_fleet(market, make_fleet(1))
    opt = hindsight_optimum(market, match, model).total_micros
    for pol in (StaticPolicy(), GreedyPolicy(), *(RandomMover(seed * 10 + i, 3) for i in range(5))):
        assert replay(market, match, pol, model).account.total_micros >= opt, pol.name


def test_account_bills_each_second_at_the_price_of_the_moment() -> None:
    """A VM deployed at 0:30 on an offer at 0.36/h, repriced to 0.72/h at 1:00, deleted at
    1:15: 30 min × 0.36 + 15 min × 0.72 = 0.36 USD; nothing up front, no reserve, nothing
    after its delete."""
    market = _market([0, 3600, 7200], {"a": [0.36, 0.72, 0.72]})
    t0 = int(market.times[0])
    acct = Account(market, BillingModel(price_model=PER_SECOND))
    acct.advance(t0 + 1800)
    vm = acct.deploy(0, 0, t0 + 1800)
    assert acct.total_micros == 0 and acct.peak_reserve == 0
    acct.schedule_delete(vm.id, t0 + 4500)
    acct.advance(t0 + 5000)
    acct.finish(t0 + 7200)
    assert str(acct.total()) == "0.360000000"


def test_a_fleet_without_capacity_limits_costs_n_times_one_and_meets_its_bound() -> None:
    market, model = _random_trace(5)
    market.capacity[:] = -1
    one = hindsight_optimum(market, match_fleet(market, make_fleet(1)), model)
    three = match_fleet(market, make_fleet(3))
    opt = hindsight_optimum(market, three, model)
    assert opt.total_micros == 3 * one.total_micros == lower_bound(market, three, model)


@pytest.mark.parametrize("seed", range(8))
def test_with_binding_capacity_the_fleet_optimum_is_feasible_and_above_the_bound(
    seed: int,
) -> None:
    """Three VMs competing for offers with one or two free slots: the reported optimum is
    a schedule the executor carried out, between the bound and static (the fleet always
    fits: offer o0 has room for all three)."""
    market, model = _random_trace(100 + seed)
    market.capacity[:, 0] = 3
    res = run_backtest(market, match_fleet(market, make_fleet(3)), model, {})
    opt, static = res.policy("optimum"), res.policy("static")
    assert not opt.failed_actions
    assert res.bound is not None
    assert res.bound <= opt.total <= static.total


def test_per_second_backtest_on_an_epoch_market_uses_its_prices_per_day() -> None:
    """An epoch-priced history billed per second: 1.20/epoch for 12 h is 0.60."""
    market = make_market({"a": [1.2, 1.2, 1.2]}, step=timedelta(hours=6))
    res = run_backtest(
        market, match_fleet(market, make_fleet(1)), BillingModel(price_model=PER_SECOND), {}
    )
    assert str(res.policy("static").total) == "0.600000000"
    assert res.policy("optimum").total == res.policy("static").total == res.bound
