"""One backtest: the policies under test plus the baselines, over the same history.

`run_backtest` replays every policy through the same simulated executor and billing,
computes the hindsight optimum, and returns a `BacktestResult` with, per policy: total
cost, migrations, VM-epochs per offer, saving vs static, and the share of the optimum's
saving captured = (static − policy) / (static − optimum).

The "optimum" is the best schedule on snapshot times (an upper bound of the true
optimum: a policy's journaled actions may start between snapshots and can beat it by a
few charges); `bound` is a lower bound no schedule can beat (bound.py). The true optimum
lies between the two; `share_of_bound` = (static − policy) / (static − bound) is the
share figure that cannot exceed 100 %.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal

import numpy as np

from optimizer.backtest.baselines import (
    GreedyPolicy,
    ScheduledPolicy,
    StaticPolicy,
    hindsight_optimum,
)
from optimizer.backtest.billing import BillingModel, to_usd
from optimizer.backtest.bound import lower_bound
from optimizer.backtest.prices import Market, micros_to_usd
from optimizer.backtest.replay import FleetMatch, Policy, Replay, replay

#: times the optimum is re-planned around deploys that found no capacity in replay
OPTIMUM_REPAIRS = 4


@dataclass
class PolicyResult:
    name: str
    total: Decimal
    migrations: int
    vm_epochs: dict[str, int]  # VM-epochs per offer; VM-hours when billed per second
    failed_actions: dict[str, int]
    peak_reserve: Decimal
    cumulative: tuple[np.ndarray, np.ndarray]  # (POSIX seconds, cumulative micro-USD)
    seconds: float = 0.0
    saving_vs_static: Decimal = Decimal(0)
    share_of_optimum: float | None = None  # None when the optimum saves nothing
    share_of_bound: float | None = None  # None when the bound is not below static
    usage_unit: str = "epoch"  # what `vm_epochs` counts: "epoch" or "hour"

    def to_json(self) -> dict[str, object]:
        return {
            "policy": self.name,
            "total_usd": str(self.total),
            "migrations": self.migrations,
            "saving_vs_static_usd": str(self.saving_vs_static),
            "share_of_optimum_saving": self.share_of_optimum,
            "share_of_bound_saving": self.share_of_bound,
            f"vm_{self.usage_unit}s_per_offer": dict(sorted(self.vm_epochs.items())),
            "failed_actions": self.failed_actions,
            "peak_reserve_usd": str(self.peak_reserve),
            "seconds": round(self.seconds, 3),
        }


@dataclass
class BacktestResult:
    fleet: str
    start: datetime
    end: datetime
    steps: int
    offers: int
    matching_offers: int
    instances: int
    model: BillingModel
    policies: list[PolicyResult] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    bound: Decimal | None = None  # lower bound on any schedule's total (bound.py)

    def policy(self, name: str) -> PolicyResult:
        return next(p for p in self.policies if p.name == name)

    def to_json(self) -> dict[str, object]:
        return {
            "fleet": self.fleet,
            "start": self.start.isoformat(),
            "end": self.end.isoformat(),
            "snapshots": self.steps,
            "offers": self.offers,
            "matching_offers": self.matching_offers,
            "instances": self.instances,
            "price_model": self.model.price_model,
            "lead_time_seconds": self.model.lead_time_s,
            "disruption_cost_usd": str(micros_to_usd(self.model.disruption_cost_micros)),
            "lower_bound_usd": None if self.bound is None else str(self.bound),
            "policies": [p.to_json() for p in self.policies],
            "notes": self.notes,
        }


def _result(name: str, run: Replay, market: Market, seconds: float) -> PolicyResult:
    acct = run.account
    # per second there are no epochs: VM-hours (whole hours) instead
    used = (
        {o: n // 3600 for o, n in acct.vm_seconds.items()}
        if run.model.per_second
        else acct.vm_epochs
    )
    return PolicyResult(
        name=name,
        total=acct.total(),
        migrations=run.stats.migrations,
        vm_epochs={str(market.keys[o]): n for o, n in used.items() if n},
        failed_actions=dict(run.stats.failed),
        peak_reserve=micros_to_usd(acct.peak_reserve),
        cumulative=acct.cumulative(),
        seconds=seconds,
        usage_unit="hour" if run.model.per_second else "epoch",
    )


def run_backtest(
    market: Market,
    match: FleetMatch,
    model: BillingModel,
    policies: dict[str, Policy],
    *,
    fleet_name: str = "fleet",
    end: int | None = None,
) -> BacktestResult:
    """Replay `policies` (name → policy) and the baselines static, greedy and optimum over
    `market`; return every policy's figures. Baselines come first in the result."""
    end = int(market.times[-1]) if end is None else end
    res = BacktestResult(
        fleet=fleet_name,
        start=datetime.fromtimestamp(int(market.times[0]), UTC),
        end=datetime.fromtimestamp(end, UTC),
        steps=int(np.searchsorted(market.times, end)),
        offers=market.n_offers,
        matching_offers=int(match.mask.sum()),
        instances=match.instances,
        model=model,
        notes=list(match.notes),
    )
    runs: list[tuple[str, Policy]] = [("static", StaticPolicy()), ("greedy", GreedyPolicy())]
    runs += list(policies.items())
    for name, pol in runs:
        t0 = time.perf_counter()
        r = replay(market, match, pol, model, end)
        res.policies.append(_result(name, r, market, time.perf_counter() - t0))

    t0 = time.perf_counter()
    forbid: frozenset[tuple[int, int, int]] = frozenset()
    for _ in range(1 + OPTIMUM_REPAIRS):
        opt = hindsight_optimum(market, match, model, end, forbid)
        sched = ScheduledPolicy(market, opt)
        r = replay(market, match, sched, model, end)
        failed = sched.failed(r.aborted)
        if not failed:
            break
        # a deploy the program planned found no room (capacity taken by the VM's own
        # predecessor or another VM): forbid it and plan again
        forbid |= failed
    opt_res = _result("optimum", r, market, time.perf_counter() - t0)
    if opt_res.total != r.account.to_usd(opt.total_micros):
        res.notes.append(
            f"capacity binds: the optimum's schedule replayed to {opt_res.total} against "
            f"{r.account.to_usd(opt.total_micros)} planned; the figure shown is the replayed, "
            "feasible one (an upper bound on the true optimum)"
        )
    res.policies.insert(2, opt_res)

    res.bound = to_usd(lower_bound(market, match, model, end), model.scale(market))

    static = res.policy("static").total
    gap = static - opt_res.total
    bound_gap = static - res.bound
    for p in res.policies:
        p.saving_vs_static = static - p.total
        p.share_of_optimum = float(p.saving_vs_static / gap) if gap > 0 else None
        p.share_of_bound = float(p.saving_vs_static / bound_gap) if bound_gap > 0 else None
        if p.total < opt_res.total:
            res.notes.append(
                f"{p.name} cost {opt_res.total - p.total} less than the optimum schedule "
                "(moves started between snapshots, or capacity made the schedule a bound); "
                f"its share of the optimum's saving exceeds 100 %; the lower bound "
                f"{res.bound} holds"
            )
        if p.total < res.bound:  # cannot happen unless a VM ran for less than the run
            res.notes.append(f"{p.name} cost less than the lower bound {res.bound}")
    return res
