"""The real planner (optimizer.planner) as a backtest policy — a thin adapter, no second
policy. Filled in when the planner lands; until then backtests run the baselines only."""

from __future__ import annotations

from optimizer.backtest.prices import Market
from optimizer.backtest.replay import Policy
from optimizer.config import FleetConfig, FleetPolicy


def planner_policies(
    fleet: FleetConfig, market: Market, policy_sets: dict[str, FleetPolicy]
) -> tuple[dict[str, Policy], list[str]]:
    """(name → policy, notes): the planner with the fleet's own policy as "planner", plus
    one per policy set."""
    return {}, ["the planner is not available yet: only the baselines were run"]
