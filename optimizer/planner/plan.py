"""`plan_fleet`: the pure decision of what one fleet should do next.

Given the fleet's config, the VMs it owns, the market, trends, budget, launch statistics,
what the executor is already doing, and `now`, return a `Plan`. No I/O, no clock reads;
the same inputs always give the same plan. The decisions are made in phases, in this
order (each in `optimizer.planner.phases`, over one `PlanState`):

1. Provider-terminated VMs are finalized (DELETE releases the reserve); they no longer count.
2. VMs stuck in New/Launching past `launch_timeout` are replaced in another datacenter.
3. Size: deploy up to `instances` (or the `capacity` target, cheapest mix of allowed
   configurations), within diversification limits and the budget cap; scale down by
   removing the dearest VMs first (inside maintenance windows), never below the target.
   Over the budget cap, the dearest VMs above the fleet's minimum are removed.
4. Migrations: per healthy VM, the best allowed offer cheaper by the required margin,
   when the economics clear, within cooldown, per-epoch, surge and window limits.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime

from optimizer.billing import EPOCH_DEAL, BillingModel
from optimizer.config import FleetConfig, Mode
from optimizer.planner import phases
from optimizer.planner.inputs import (
    BudgetState,
    InFlight,
    LaunchStats,
    MarketView,
    OwnedVm,
    Plan,
    Trends,
)


def plan_fleet(
    fleet: FleetConfig,
    vms: Sequence[OwnedVm],
    market: MarketView,
    trends: Trends | None = None,
    budget: BudgetState | None = None,
    launch: LaunchStats | None = None,
    *,
    now: datetime,
    mode: Mode = "recommend",
    in_flight: InFlight | None = None,
    taken: Mapping[str, int] | None = None,
    billing: BillingModel = EPOCH_DEAL,
) -> Plan:
    """Plan one fleet. `vms` must be the fleet's OWNED VMs only (created or adopted); the
    plan never names any other VM. `budget.spend_per_epoch` is the whole account's running
    cost; the cap is never exceeded by planned deploys (in every mode, so a recommendation
    shows what `act` would do). `taken`: offer key → instances other fleets' plans already
    claim this tick (so fleets do not all aim at the last free slot). `billing`: how the
    provider charges (the API edge's `FluenceApi.billing`; default the seeds' epoch deals).
    Deterministic for equal inputs."""
    st = phases.start(
        fleet,
        vms,
        market,
        now=now,
        trends=trends,
        budget=budget,
        launch=launch,
        in_flight=in_flight,
        taken=taken,
        billing=billing,
    )
    phases.count_members(st)
    phases.finalize_terminated(st)
    phases.replace_stuck(st)
    phases.size(st)
    phases.trim_to_budget(st)
    phases.migrate(st)
    return phases.finish(st, mode)
