"""The hindsight optimum: on small hand-made traces it equals a brute-force search over
every make-before-break schedule, simulated with the same billing; and no policy beats it."""

from __future__ import annotations

import itertools
import random
from datetime import timedelta

import pytest
from bt_helpers import make_fleet, make_market

from optimizer.backtest.baselines import ScheduledPolicy, hindsight_optimum
from optimizer.backtest.billing import Account, BillingModel
from optimizer.backtest.prices import Market
from optimizer.backtest.replay import match_fleet, replay
from optimizer.backtest.run import run_backtest


def brute_force(market: Market, model: BillingModel) -> int:
    """Cheapest total (micro-USD) over all single-VM schedules: deploy at step 0, then any
    set of later migration steps, any offer per segment; infeasible schedules skipped."""
    steps = market.n_steps - 1  # decisions before the last snapshot (the run's end)
    end = int(market.times[-1])
    best = None
    for k in range(steps):
        for moves in itertools.combinations(range(1, steps), k):
            starts = (0, *moves)
            for offers in itertools.product(range(market.n_offers), repeat=len(starts)):
                acct = Account(market, model)
                ok, cur = True, None
                for s in range(steps):
                    t = int(market.times[s])
                    acct.advance(t)
                    if s in starts:
                        o = offers[starts.index(s)]
                        if not acct.can_deploy(o, s):
                            ok = False
                            break
                        new = acct.deploy(o, s, t, replaces=cur.id if cur else None)
                        if cur is not None:
                            acct.schedule_delete(cur.id, new.active_at)
                        cur = new
                if not ok:
                    continue
                acct.finish(end)
                if best is None or acct.total_micros < best:
                    best = acct.total_micros
    assert best is not None
    return best


def _random_market(seed: int, n_steps: int = 6, n_offers: int = 3, holes: bool = True):  # type: ignore[no-untyped-def]
    rng = random.Random(seed)
    prices = {}
    for o in range(n_offers):
        series = [round(rng.uniform(0.2, 1.0), 2) for _ in range(n_steps)]
        if holes and rng.random() < 0.5:
            series[rng.randrange(1, n_steps)] = None
        prices[f"o{o}"] = series
    prices["o0"] = [p if p is not None else 0.9 for p in prices["o0"]]  # always one offer
    return make_market(prices, step=timedelta(hours=rng.choice((6, 10, 16))))


@pytest.mark.parametrize("price_model", ["deal", "market"])
@pytest.mark.parametrize("seed", range(12))
def test_optimum_equals_brute_force(seed: int, price_model: str) -> None:
    """Random 6-snapshot traces of 3 offers (some unlisted at times), lead time 1 h,
    disruption cost 0 or 0.05: the program's total equals the brute-force minimum over
    every schedule on snapshot times, and replaying its schedule through the executor costs
    exactly that. Prices change at every snapshot, 6–16 h apart, so between billing times
    (24 h): under `market` a VM's later charges sample prices its deploy never saw.
    (Schedules starting between snapshots can do better: test_backtest_bound.py.)"""
    market = _random_market(seed)
    model = BillingModel(
        price_model=price_model,  # type: ignore[arg-type]
        lead_time_s=3600,
        disruption_cost_micros=50_000 if seed % 2 else 0,
    )
    match = match_fleet(market, make_fleet(1))
    opt = hindsight_optimum(market, match, model)
    assert opt.total_micros == brute_force(market, model)
    run = replay(market, match, ScheduledPolicy(market, opt), model)
    assert run.account.total_micros == opt.total_micros


def test_optimum_moves_when_it_pays_and_stays_when_it_does_not() -> None:
    """Hand-made: b drops to 0.10 for the rest of the run from snapshot 1 → one migration.
    With a disruption cost larger than the saving → no migration."""
    market = make_market({"a": [0.5] * 10, "b": [0.9] + [0.1] * 9}, step=timedelta(hours=12))
    match = match_fleet(market, make_fleet(1))
    opt = hindsight_optimum(market, match, BillingModel(lead_time_s=600))
    assert [(s.step, s.offer) for s in opt.schedules[0]] == [(0, 0), (1, 1)]
    # run is 4.5 days: a pays one epoch (0.50), b from 12 h: charges at 12h, 36h, 60h, 84h
    assert opt.total_micros == 500_000 + 4 * 100_000
    costly = BillingModel(lead_time_s=600, disruption_cost_micros=2_000_000)
    assert hindsight_optimum(market, match, costly).migrations == 0


def test_identical_vms_without_capacity_limits_cost_n_times_one() -> None:
    market = _random_market(3, n_steps=8)
    model = BillingModel(lead_time_s=1800)
    one = hindsight_optimum(market, match_fleet(market, make_fleet(1)), model)
    four = hindsight_optimum(market, match_fleet(market, make_fleet(4)), model)
    assert four.total_micros == 4 * one.total_micros


@pytest.mark.parametrize("price_model", ["deal", "market"])
@pytest.mark.parametrize("seed", range(6))
def test_with_tight_capacity_the_optimum_is_a_feasible_bound(seed: int, price_model: str) -> None:
    """Capacity 1 on some snapshots: a re-deploy on the VM's own offer needs room for two
    (make-before-break), which the per-VM program does not see. After the repair loop the
    reported optimum is a schedule the executor really carried out (no failed deploys),
    never below the brute-force minimum and never above static's cost. (Known limit: it
    can be above the true minimum — seed 4 is such a case.)"""
    rng = random.Random(100 + seed)
    n = 6
    prices = {f"o{o}": [round(rng.uniform(0.2, 1.0), 2) for _ in range(n)] for o in range(2)}
    capacity = {k: [rng.choice((1, 1, 2, 5)) for _ in range(n)] for k in prices}
    market = make_market(prices, step=timedelta(hours=10), capacity=capacity)
    model = BillingModel(price_model=price_model, lead_time_s=3600)  # type: ignore[arg-type]
    match = match_fleet(market, make_fleet(1))
    res = run_backtest(market, match, model, {})
    opt = res.policy("optimum")
    assert opt.failed_actions == {}
    assert opt.total * 1_000_000 >= brute_force(market, model)
    assert opt.total <= res.policy("static").total
    assert res.bound is not None and res.bound <= opt.total


@pytest.mark.parametrize("price_model", ["deal", "market"])
@pytest.mark.parametrize("seed", range(4))
def test_two_vms_sharing_scarce_capacity_get_a_feasible_schedule(
    seed: int, price_model: str
) -> None:
    """Two VMs, capacity 1–3 per offer: the VM-by-VM program (with blocking deploys under
    both price models) gives a schedule the executor carries out with at most the repair
    loop's help, between the lower bound and static."""
    rng = random.Random(200 + seed)
    n = 12
    prices = {f"o{o}": [round(rng.uniform(0.2, 1.0), 2) for _ in range(n)] for o in range(3)}
    capacity = {k: [rng.choice((1, 2, 2, 3)) for _ in range(n)] for k in prices}
    market = make_market(prices, step=timedelta(hours=8), capacity=capacity)
    model = BillingModel(price_model=price_model, lead_time_s=1800)  # type: ignore[arg-type]
    res = run_backtest(market, match_fleet(market, make_fleet(2)), model, {})
    opt = res.policy("optimum")
    assert opt.failed_actions == {}
    assert res.bound is not None and res.bound <= opt.total <= res.policy("static").total


@pytest.mark.parametrize("price_model", ["deal", "market"])
@pytest.mark.parametrize("seed", range(5))
def test_no_baseline_beats_the_optimum(seed: int, price_model: str) -> None:
    """Static and greedy, replayed under the same rules, never cost less than the optimum;
    the optimum's share of its own saving is 100 %."""
    market = _random_market(seed, n_steps=40, n_offers=5)
    model = BillingModel(price_model=price_model, lead_time_s=1200)  # type: ignore[arg-type]
    res = run_backtest(market, match_fleet(market, make_fleet(3)), model, {})
    opt = res.policy("optimum").total
    assert res.policy("static").total >= opt
    assert res.policy("greedy").total >= opt
    if res.policy("optimum").share_of_optimum is not None:
        assert res.policy("optimum").share_of_optimum == 1.0


def test_baselines_respect_max_per_datacenter() -> None:
    """max_per_datacenter = 1 and 2 VMs: static and the optimum never put both VMs in the
    cheap datacenter, though it has room for both; without the limit they do."""
    market = make_market(
        {"a": [0.2] * 12, "b": [0.5] * 12, "c": [0.6] * 6 + [0.3] * 6},
        step=timedelta(hours=12),
    )
    model = BillingModel(lead_time_s=600)
    fleet = make_fleet(2)
    fleet.diversification.max_per_datacenter = 1
    res = run_backtest(market, match_fleet(market, fleet), model, {})
    assert res.policy("static").vm_epochs == {"a": 6, "b": 6}
    opt = res.policy("optimum")
    assert opt.failed_actions == {} and opt.vm_epochs["a"] == 6
    assert opt.total < res.policy("static").total  # it moves the second VM from b to c
    free = run_backtest(market, match_fleet(market, make_fleet(2)), model, {})
    assert free.policy("static").vm_epochs == {"a": 12}
