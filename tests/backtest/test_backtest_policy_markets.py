"""The default policy on the synthetic markets of issue 16, through the real planner:
it must not lose money where nothing can be won (figures for every market and both price
models are printed by tests/benchmarks/bench_policy_quality.py; this guards the rule)."""

from __future__ import annotations

import pytest
from bt_helpers import make_fleet

from optimizer.backtest.billing import BillingModel
from optimizer.backtest.planner_policy import planner_policies
from optimizer.backtest.prices import Market
from optimizer.backtest.replay import match_fleet
from optimizer.backtest.run import run_backtest
from optimizer.backtest.synthetic import scenario_history


@pytest.mark.parametrize(
    ("kind", "instances", "configuration", "countries"),
    [
        ("flat-dips", 3, "cpu-4-ram-8gb-storage-25gb", ["DE", "FR", "NL", "PL"]),
    ],
)
def test_market_priced_fleet_does_not_pay_for_chasing_dips(
    kind: str, instances: int, configuration: str, countries: list[str]
) -> None:
    """15 days, VMs billed at their offer's market price. Greedy, which moves on every
    cheaper tick, ends above static (there is money to lose here); the default policy
    ends at most 0.1 % above static (the planner before issue 16: 6.7 % above, 3 moves)."""
    market = Market.build(scenario_history(kind, days=15))
    fleet = make_fleet(instances)
    fleet.constraints.configurations = [configuration]
    fleet.constraints.countries = countries
    match = match_fleet(market, fleet)
    pols, _ = planner_policies(fleet, market, {})
    res = run_backtest(market, match, BillingModel(price_model="market"), pols)
    static = res.policy("static").total
    assert res.policy("greedy").total > static
    assert res.policy("planner").total <= static * 1001 / 1000


def test_a_vm_on_an_offer_no_longer_listed_is_not_moved_onto_a_low_spell() -> None:
    """The simulator's market, seed 11, 90 days billed per second, 3 × cpu-4 in DE/FR/NL/PL:
    the offer the fleet starts on leaves the market on day 29, and its VMs keep a price
    no deploy can get again; no move pays in hindsight (the optimum is static). The NL
    offers later sit 3–6 % under it for a day at a time, then rise past it. Judged on
    their day's level alone the default moved 12 times and ended 2.36 % above static;
    judged, for a move that cannot be undone, at the higher of the day's and the week's
    level, it ends at most 0.1 % above."""
    from optimizer.backtest.synthetic import hourly, simulator_history

    market = Market.build(hourly(simulator_history(seed=11, days=90)))
    fleet = make_fleet(3)
    fleet.constraints.configurations = ["cpu-4-ram-8gb-storage-25gb"]
    fleet.constraints.countries = ["DE", "FR", "NL", "PL"]
    pols, _ = planner_policies(fleet, market, {})
    res = run_backtest(
        market, match_fleet(market, fleet), BillingModel(price_model="per-second"), pols
    )
    static = res.policy("static").total
    assert res.policy("optimum").total == static
    assert res.policy("greedy").total > static
    assert res.policy("planner").total <= static * 1001 / 1000
