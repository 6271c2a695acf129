"""Alert rules: pure functions from conditions to `Alert`s. No I/O, no clock reads.

`evaluate_rules(inputs, config)` returns every alert whose condition holds now and the
set of rule families it could evaluate. State (`optimizer.alerts.state`) then fires the
new ones, keeps the ongoing ones quiet and resolves the ones that cleared — but only
for families that were evaluated: a rule whose inputs are missing this tick (the
planner did not run) neither fires nor resolves anything.

Families and keys (stable while the condition lasts):

| key | when |
|---|---|
| `budget.actual:<scope>` | this month's spend ≥ a threshold × `monthly_usd` |
| `budget.forecast:<scope>` | the month's forecast ≥ a threshold × `monthly_usd` |
| `budget.epoch:<scope>` | the running VMs cost more per epoch than `max_usd_per_epoch` |
| `vm.balance:<vm id>` | a VM is SmallBalance (warning) or InsufficientFunds (critical) |
| `vm.terminated:<vm id>` | the provider terminated a VM (until it is deleted) |
| `fleet.unsatisfiable:<fleet>` | no offer satisfies the fleet's constraints and cap |
| `price.spike:<fleet>` | segment median up > `price_spike_pct` % in `price_spike_epochs` |
| `snapshot.failing:api` | more than `snapshot_failures` consecutive snapshots failed |
| `migration.failed:<action>` | a migration failed (one-shot event) |
| `savings.available:<fleet>` | recommend mode: the plan would save money, nothing was done |
| `balance.runway:account` | the balance lasts < `runway_hours`, or nears the creation floor |
| `resources.orphaned:account` | detached disks or IPs we did not create bill (with $/month) |

`<scope>` is a fleet name or `total`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING

from optimizer.alerts.model import Alert, Severity
from optimizer.billing import EPOCH_DEAL, BillingModel
from optimizer.budget import FLOOR_HOURS, TOTAL, BudgetReport, Runway, ScopeBudget
from optimizer.config import Config
from optimizer.fluence.status import VmStatus
from optimizer.money import fmt_usd

if TYPE_CHECKING:
    from optimizer.executor.reaper import Orphan

DAYS_PER_MONTH = Decimal("30.4")


@dataclass(frozen=True)
class PlanSummary:
    """What the alert rules need from one fleet's plan."""

    fleet: str
    savings_per_epoch: Decimal = Decimal(0)
    deposit_needed: Decimal = Decimal(0)
    unsatisfiable: str | None = None  # why the fleet cannot be satisfied, or None
    actions: int = 0
    #: how the API charges (the plan's): savings are worded in its unit
    billing: BillingModel = EPOCH_DEAL


@dataclass(frozen=True)
class FailedAction:
    """A migration (or other action) the executor gave up on."""

    action_id: str
    fleet: str | None
    kind: str
    error: str
    at: datetime | None = None


@dataclass
class RuleInputs:
    """Everything the rules look at. None means "not known this tick" (family skipped)."""

    budget: BudgetReport | None = None
    plans: Mapping[str, PlanSummary] | None = None
    snapshot_failures: int | None = None  # consecutive failed snapshots, newest first
    last_snapshot_error: str | None = None
    # fleet → [(epoch start, segment median price USD)], oldest first
    segment_medians: Mapping[str, Sequence[tuple[datetime, float]]] | None = None
    failed_actions: Sequence[FailedAction] | None = None
    #: the balance runway from fresh account facts (None: no balance known this tick)
    runway: Runway | None = None
    #: foreign disks and IPs billing without a live VM (None: not listed this tick)
    orphans: Sequence[Orphan] | None = None
    extra: list[Alert] = field(default_factory=list)
    #: how the API charges: rates are worded in its unit ("/epoch" or "/h")
    billing: BillingModel = EPOCH_DEAL


def _pct(x: Decimal | float) -> str:
    return f"{float(x) * 100:.0f} %"


def _threshold_severity(t: float) -> Severity:
    """Under 80 % of the budget is information, from 80 % a warning, from 100 % critical."""
    return "critical" if t >= 1 else "warning" if t >= 0.8 else "info"


def budget_alerts(report: BudgetReport, billing: BillingModel = EPOCH_DEAL) -> list[Alert]:
    """Threshold and cap alerts for every fleet and the total (rates in `billing`'s unit)."""
    out: list[Alert] = []
    scopes: list[ScopeBudget] = [*report.fleets, report.total]
    for s in scopes:
        fleet = None if s.scope == TOTAL else s.scope
        who = "all fleets" if s.scope == TOTAL else f"fleet {s.scope}"
        base = {
            "scope": s.scope,
            "monthly_usd": s.monthly_usd,
            "spend_month": s.spend_month,
            "forecast_month": s.forecast_month,
            "run_rate": s.run_rate,
            "month": report.month_start.strftime("%Y-%m"),
        }
        if (t := s.crossed_actual) is not None:
            assert s.monthly_usd is not None
            out.append(
                Alert(
                    key=f"budget.actual:{s.scope}",
                    severity=_threshold_severity(t),
                    title=f"Budget {_pct(t)} spent ({who})",
                    text=(
                        f"{who} spent {fmt_usd(s.spend_month)} of {fmt_usd(s.monthly_usd)} "
                        f"this month ({_pct(s.actual_fraction or 0)}); "
                        f"forecast {fmt_usd(s.forecast_month)}"
                    ),
                    fleet=fleet,
                    data={**base, "threshold": t},
                    level=t,
                )
            )
        if (t := s.crossed_forecast) is not None:
            assert s.monthly_usd is not None
            out.append(
                Alert(
                    key=f"budget.forecast:{s.scope}",
                    severity=_threshold_severity(t),
                    title=f"Forecast at {_pct(t)} of the monthly budget ({who})",
                    text=(
                        f"{who} is on course to spend {fmt_usd(s.forecast_month)} this month "
                        f"against a budget of {fmt_usd(s.monthly_usd)} "
                        f"({_pct(s.forecast_fraction or 0)}); spent so far "
                        f"{fmt_usd(s.spend_month)}, now {billing.rate_shown(s.run_rate)}"
                    ),
                    fleet=fleet,
                    data={**base, "threshold": t},
                    level=t,
                )
            )
        if s.over_epoch_cap:
            assert s.max_usd_per_epoch is not None
            out.append(
                Alert(
                    key=f"budget.epoch:{s.scope}",
                    severity="warning",
                    title=f"Per-{billing.day} cost above the cap ({who})",
                    text=(
                        f"running VMs cost {billing.rate_shown(s.run_rate)}, above the cap "
                        f"{billing.rate_shown(s.max_usd_per_epoch)}"
                    ),
                    fleet=fleet,
                    data={**base, "max_usd_per_epoch": s.max_usd_per_epoch},
                )
            )
    return out


def vm_alerts(report: BudgetReport) -> list[Alert]:
    """Balance and provider-termination alerts for the VMs in the latest poll."""
    out: list[Alert] = []
    for vm in report.vms:
        if not vm.present:
            continue
        fleet = None if vm.fleet.startswith("(") else vm.fleet
        data = {"vm_id": vm.vm_id, "name": vm.name, "status": vm.status,
                "reserved": vm.reserved}  # fmt: skip
        if vm.status in (VmStatus.SMALL_BALANCE, VmStatus.INSUFFICIENT_FUNDS):
            low = vm.status == VmStatus.SMALL_BALANCE
            out.append(
                Alert(
                    key=f"vm.balance:{vm.vm_id}",
                    severity="warning" if low else "critical",
                    title=f"VM {vm.name} is {vm.status}",
                    text=(
                        "the account balance will not cover the VM's next period; top up"
                        if low
                        else "the balance is exhausted and the grace period passed; top up now"
                    ),
                    fleet=fleet,
                    data=data,
                    level=1 if low else 2,
                )
            )
        elif vm.status == VmStatus.TERMINATED:
            out.append(
                Alert(
                    key=f"vm.terminated:{vm.vm_id}",
                    severity="warning",
                    title=f"VM {vm.name} was terminated by its provider",
                    text=(
                        f"the workload is gone; {fmt_usd(vm.reserved)} stays reserved until "
                        "the VM is deleted (in act mode the daemon finalizes and replaces "
                        "fleet VMs)"
                    ),
                    fleet=fleet,
                    data=data,
                )
            )
    return out


def plan_alerts(plans: Mapping[str, PlanSummary], mode: str) -> list[Alert]:
    """Unsatisfiable fleets, and savings left on the table in recommend mode."""
    out: list[Alert] = []
    for name, p in sorted(plans.items()):
        if p.unsatisfiable:
            out.append(
                Alert(
                    key=f"fleet.unsatisfiable:{name}",
                    severity="critical",
                    title=f"Fleet {name} cannot be satisfied",
                    text=p.unsatisfiable,
                    fleet=name,
                    data={"reason": p.unsatisfiable},
                )
            )
        if mode == "recommend" and p.savings_per_epoch > 0:
            month = p.savings_per_epoch * DAYS_PER_MONTH
            rate = p.billing.rate_shown(p.savings_per_epoch)
            out.append(
                Alert(
                    key=f"savings.available:{name}",
                    severity="info",
                    title=f"Fleet {name} could save {rate}",
                    text=(
                        f"the plan would save {rate} "
                        f"(about {fmt_usd(month)}/month) but mode is recommend, so nothing "
                        "was changed; run `fluence-optimizer plan` to see it"
                    ),
                    fleet=name,
                    data={
                        "savings_per_epoch": p.savings_per_epoch,
                        "savings_month": month,
                        "actions": p.actions,
                    },
                )
            )
    return out


def spike_alerts(
    medians: Mapping[str, Sequence[tuple[datetime, float]]],
    pct: float,
    epochs: int,
    unit: str = "epoch",
) -> list[Alert]:
    """A fleet's segment median up more than `pct` % compared with `epochs` epochs earlier.

    The latest point is compared with the point `epochs` positions before it (or the
    oldest one within that window when some epochs have no data). `unit`: what the
    medians are per, the offers' own price unit ("epoch" or "h")."""
    out: list[Alert] = []
    for fleet, series in sorted(medians.items()):
        pts = [(t, v) for t, v in series if v == v and v > 0]  # drop NaN / zero
        if len(pts) < 2:
            continue
        last_t, last = pts[-1]
        window = [p for p in pts[:-1] if (last_t - p[0]).days <= epochs]
        if not window:
            continue
        base_t, base = window[0]
        rise = (last / base - 1) * 100
        if rise > pct:
            out.append(
                Alert(
                    key=f"price.spike:{fleet}",
                    severity="warning",
                    title=f"Prices up {rise:.0f} % for fleet {fleet}",
                    text=(
                        f"the median price of the fleet's offers rose from ${base:.4f} to "
                        f"${last:.4f}/{unit} since {base_t:%Y-%m-%d} (limit {pct:g} % over "
                        f"{epochs} epochs)"
                    ),
                    fleet=fleet,
                    data={
                        "from": round(base, 6),
                        "to": round(last, 6),
                        "rise_pct": round(rise, 2),
                        "since": base_t,
                    },
                )
            )
    return out


def snapshot_alerts(failures: int, limit: int, error: str | None) -> list[Alert]:
    if failures <= limit:
        return []
    return [
        Alert(
            key="snapshot.failing:api",
            severity="critical",
            title=f"Marketplace snapshots failing ({failures} in a row)",
            text=f"the last {failures} snapshots failed; last error: {error or 'unknown'}",
            data={"failures": failures, "error": error},
        )
    ]


def migration_alerts(failed: Sequence[FailedAction]) -> list[Alert]:
    return [
        Alert(
            key=f"migration.failed:{f.action_id}",
            severity="warning",
            title=f"{f.kind.capitalize()} failed" + (f" (fleet {f.fleet})" if f.fleet else ""),
            text=f.error,
            fleet=f.fleet,
            data={"action_id": f.action_id, "kind": f.kind, "at": f.at},
            event=True,
        )
        for f in failed
    ]


def runway_alerts(runway: Runway, warn_hours: float, lead_hours: Decimal) -> list[Alert]:
    """`balance.runway:account` when the balance runs out within `warn_hours` at the
    current burn rate (warning), or critical when the executor is about to be stopped.

    The critical level: the API creates a VM only while the balance covers every
    resource, the new ones included, for FLOOR_HOURS (6 h). A migration creates one VM
    with its disk and IP, so the floor is FLOOR_HOURS × (burn + one more VM like the
    dearest one the account runs), and the alert is critical once the balance will be
    under that floor within `lead_hours` (the daemon's `plan_interval`: the next plan
    may want to create something by then) — before the floor blocks a migration, not
    after. A balance already under it is critical too."""
    hours = runway.hours_left
    to_floor = runway.hours_to_floor()
    if hours is None or to_floor is None or runway.burn_per_hour is None:
        return []  # nothing bills, or the burn rate is unknown
    critical = to_floor < lead_hours
    if not critical and hours >= Decimal(repr(warn_hours)):
        return []
    rate, floor = runway.burn_per_hour, runway.floor_usd or Decimal(0)
    until = runway.until
    text = (
        f"the balance {fmt_usd(runway.balance)} lasts {hours:.1f} hours at "
        f"{fmt_usd(rate, 4)}/hour (every billed VM, disk and IP)"
        + (f", until {until:%Y-%m-%d %H:%M} UTC" if until else "")
    )
    if critical:
        text += (
            f"; under {fmt_usd(floor)} ({FLOOR_HOURS} hours of everything with one more VM) "
            "the API creates nothing, so migrations and replacements stop"
            + (" now" if to_floor <= 0 else f" in {max(to_floor, Decimal(0)):.1f} hours")
            + ": top up now"
        )
    else:
        text += f" (alert under {warn_hours:g} hours): top up"
    return [
        Alert(
            key="balance.runway:account",
            severity="critical" if critical else "warning",
            title=f"Balance lasts {hours:.1f} hours",
            text=text,
            data={
                "balance_usd": runway.balance,
                "burn_usd_per_hour": rate,
                "hours_left": round(hours, 2),
                "until": until,
                "floor_usd": floor,
                "hours_to_floor": round(to_floor, 2),
                "runway_hours": warn_hours,
            },
            level=2 if critical else 1,
        )
    ]


def orphan_alerts(orphans: Sequence[Orphan]) -> list[Alert]:
    """`resources.orphaned:account` while detached disks or IPs the optimizer did not
    create bill (reported, never touched): each with what it costs per month. Its level
    is how many there are, so a new one notifies again and a deleted one does not."""
    if not orphans:
        return []
    known = [o.monthly_usd for o in orphans if o.monthly_usd is not None]
    total = sum(known, Decimal(0))
    items = [
        f"{'disk' if o.kind == 'disk' else 'IP'} {o.name or o.id} ({o.id}, "
        + (f"{fmt_usd(o.monthly_usd)}/month)" if o.monthly_usd is not None else "price unknown)")
        for o in orphans
    ]
    n = len(orphans)
    return [
        Alert(
            key="resources.orphaned:account",
            severity="warning",
            title=f"{n} detached disk(s)/IP(s) not created by the optimizer bill "
            f"{fmt_usd(total)}/month",
            text="; ".join(items) + ". They bill until deleted; the optimizer never deletes "
            "what it did not create: delete them if nobody needs them",
            data={
                "monthly_usd": total,
                "resources": [
                    {
                        "kind": o.kind,
                        "id": o.id,
                        "name": o.name,
                        "monthly_usd": o.monthly_usd,
                        "price_per_hour_usd": o.price_per_hour,
                        "created_at": o.created_at,
                    }
                    for o in orphans
                ],
            },
            level=n,
        )
    ]


def evaluate_rules(inputs: RuleInputs, config: Config) -> tuple[list[Alert], set[str]]:
    """Return (alerts whose condition holds now, families evaluated this time)."""
    alerts: list[Alert] = []
    families: set[str] = set()
    if inputs.budget is not None:
        alerts += budget_alerts(inputs.budget, inputs.billing)
        alerts += vm_alerts(inputs.budget)
        families |= {"budget.actual", "budget.forecast", "budget.epoch"}
        families |= {"vm.balance", "vm.terminated"}
    if inputs.plans is not None:
        alerts += plan_alerts(inputs.plans, config.mode)
        families |= {"fleet.unsatisfiable", "savings.available"}
    if inputs.segment_medians is not None:
        a = config.alerts
        alerts += spike_alerts(
            inputs.segment_medians, a.price_spike_pct, a.price_spike_epochs, inputs.billing.unit
        )
        families.add("price.spike")
    if inputs.snapshot_failures is not None:
        alerts += snapshot_alerts(
            inputs.snapshot_failures, config.alerts.snapshot_failures, inputs.last_snapshot_error
        )
        families.add("snapshot.failing")
    if inputs.failed_actions is not None:
        alerts += migration_alerts(inputs.failed_actions)
        families.add("migration.failed")
    if inputs.runway is not None and inputs.runway.burn_per_hour is not None:
        # a burn rate unknown (a resource without a price) neither fires nor resolves
        lead = Decimal(int(config.daemon.plan_interval.total_seconds())) / 3600
        alerts += runway_alerts(inputs.runway, config.alerts.runway_hours, lead)
        families.add("balance.runway")
    if inputs.orphans is not None:
        alerts += orphan_alerts(inputs.orphans)
        families.add("resources.orphaned")
    alerts += inputs.extra
    families |= {a.family for a in inputs.extra}
    seen: dict[str, Alert] = {}
    for alert in alerts:  # one alert per key: the most severe wins
        if alert.key not in seen or alert.level > seen[alert.key].level:
            seen[alert.key] = alert
    return list(seen.values()), families
