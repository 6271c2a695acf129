"""Pure fleet planning: inputs → Plan. No I/O, no clock reads (`now` is an argument).

    plan_fleet(fleet, vms, market, trends, budget, launch, now=..., mode=..., in_flight=...)

`market_view` adapts wire models (Offer, Vm) into planner inputs.
"""

from optimizer.planner.inputs import (
    Action,
    BudgetState,
    InFlight,
    LaunchStats,
    MarketOffer,
    MarketView,
    OwnedVm,
    Plan,
    Trends,
    VmVerdict,
)
from optimizer.planner.plan import plan_fleet

__all__ = [
    "Action",
    "BudgetState",
    "InFlight",
    "LaunchStats",
    "MarketOffer",
    "MarketView",
    "OwnedVm",
    "Plan",
    "Trends",
    "VmVerdict",
    "plan_fleet",
]
