"""The alerts stage of one cycle: gather inputs from the store (and this tick's plans
and errors), compute the budget, evaluate the rules, update the stored state, notify.

`run_alerts(engine, config, now, plans=..., errors=...)` is what `optimizer.cycle`
calls once per tick; `load_budget(engine, config, now)` is what `budget` shows.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import sqlalchemy as sa
import structlog
from sqlalchemy.engine import Engine

from optimizer.alerts.delivery import DeliveryReport, deliver, send_to_log
from optimizer.alerts.model import Alert
from optimizer.alerts.rules import FailedAction, PlanSummary, RuleInputs, evaluate_rules
from optimizer.alerts.sinks import Sink, build_sinks
from optimizer.alerts.state import reconcile
from optimizer.billing import EPOCH_DEAL, BillingModel
from optimizer.budget import BudgetReport, Runway, VmPoint, compute_budget, month_bounds
from optimizer.clock import EPOCH, utc
from optimizer.config import Config, FleetConfig
from optimizer.errors import ExecutionError, NoMatchingOffers, OptimizerError
from optimizer.fluence.account import AccountFacts
from optimizer.money import from_micros, to_micros
from optimizer.store import fencing
from optimizer.store.account import load_account
from optimizer.store.engine import store_errors
from optimizer.store.tables import table_of
from optimizer.store.tables.alerts import PlanCash

if TYPE_CHECKING:
    from optimizer.executor.reaper import Orphan

log = structlog.get_logger("optimizer.alerts")

TREND_EPOCHS = 7  # epochs of segment medians used for the forecast's price trend
#: account facts older than this (or two snapshot intervals, if longer) are too old for
#: the runway rule, which then neither fires nor resolves
ACCOUNT_FRESH = timedelta(hours=1)


# --- store → budget inputs -----------------------------------------------------------------
def load_vm_points(engine: Engine, now: datetime) -> tuple[list[VmPoint], set[str]]:
    """Every VM's observations that matter for `now`: per VM the latest interval before
    the month start, before the epoch start, and all from the month start on (for the
    present set: VMs in the latest poll). Returns (points, ids present in latest poll)."""
    from optimizer.store.tables.market import vm_observation_table as obs_t
    from optimizer.store.tables.market import vm_table as vm_t

    now = utc(now)
    m_start, _ = month_bounds(now)
    cols = [vm_t.c.vm_id, vm_t.c.name, vm_t.c.created_at, obs_t.c.status, obs_t.c.price_micros,
            obs_t.c.reserved_micros, obs_t.c.spent_micros, obs_t.c.next_billing_at,
            obs_t.c.from_at, obs_t.c.to_at]  # fmt: skip
    base = sa.select(*cols).join(vm_t, vm_t.c.id == obs_t.c.vm_ref)
    last_before = (
        sa.select(sa.func.max(obs_t.c.id)).where(obs_t.c.from_at < m_start).group_by(obs_t.c.vm_ref)
    )
    latest_ids = sa.select(sa.func.max(obs_t.c.id)).group_by(obs_t.c.vm_ref)
    stmt = base.where(
        sa.or_(
            obs_t.c.to_at >= m_start,
            obs_t.c.id.in_(last_before),
            obs_t.c.id.in_(latest_ids),
        ),
        obs_t.c.from_at <= now,
    )
    with store_errors(engine), engine.connect() as conn:
        rows = conn.execute(stmt).all()
        last_poll = conn.execute(
            sa.select(sa.func.max(obs_t.c.to_at)).where(obs_t.c.from_at <= now)
        ).scalar()

    def d(v: int | None) -> Decimal | None:
        return None if v is None else from_micros(v)

    points = [
        VmPoint(
            vm_id=r.vm_id,
            name=r.name,
            status=r.status,
            from_at=utc(r.from_at),
            to_at=utc(r.to_at),
            price_per_epoch=d(r.price_micros),
            reserved=d(r.reserved_micros),
            total_spent=d(r.spent_micros),
            next_billing_at=r.next_billing_at and utc(r.next_billing_at),
            created_at=r.created_at and utc(r.created_at),
        )
        for r in rows
    ]
    present = {p.vm_id for p in points if last_poll is not None and p.to_at >= utc(last_poll)}
    return points, present


def load_vm_fleets(engine: Engine) -> dict[str, str]:
    """VM id → fleet for VMs the daemon owns (created or adopted, not released)."""
    from optimizer.store.tables.journal import FleetVm

    t = table_of(FleetVm)
    with store_errors(engine), engine.connect() as conn:
        rows = conn.execute(sa.select(t.c.vm_id, t.c.fleet).where(t.c.released_at.is_(None)))
        return {r.vm_id: r.fleet for r in rows}


def load_plan_cash(engine: Engine) -> dict[str, Decimal]:
    t = table_of(PlanCash)
    with store_errors(engine), engine.connect() as conn:
        return {r.fleet: from_micros(r.deposit_micros) for r in conn.execute(sa.select(t))}


def save_plan_cash(engine: Engine, plans: Mapping[str, PlanSummary], now: datetime) -> None:
    t = table_of(PlanCash)
    with store_errors(engine), engine.begin() as conn:
        fencing.check(engine, conn)
        for name, p in plans.items():
            conn.execute(t.delete().where(t.c.fleet == name))
            conn.execute(
                sa.insert(t).values(
                    fleet=name,
                    deposit_micros=to_micros(p.deposit_needed),
                    savings_micros=to_micros(p.savings_per_epoch),
                    planned_at=utc(now),
                )
            )


# Medians of complete epochs never change: computed once per process, per database,
# fleet constraints and epoch (None = no offer of the fleet listed in that epoch).
_PAST_MEDIANS: dict[tuple[str, str, datetime], float | None] = {}


def _fleet_filter(df: pd.DataFrame, fleet: FleetConfig, price_col: str) -> pd.DataFrame:
    c = fleet.constraints
    if df.empty:
        return df
    if c.configurations:
        df = df[df["configuration"].isin(c.configurations)]
    if c.countries:
        df = df[df["country"].isin(c.countries)]
    if c.price_cap_per_epoch is not None:
        df = df[_whole_per_epoch(df, fleet, price_col) <= float(c.price_cap_per_epoch)]
    return df


def _whole_per_epoch(df: pd.DataFrame, fleet: FleetConfig, price_col: str) -> pd.Series:
    """Each row's price as the planner holds it against the fleet's cap (per epoch, the
    whole VM): rows priced per hour go through `hourly_whole_price` with the offer's
    disk and IP prices (NaN where it cannot be priced, so never within a cap); the
    others are already per epoch."""
    from optimizer.planner.whole_price import hourly_whole_price

    price = df[price_col].astype("float64")
    hourly = df["price_unit"] == "hour" if "price_unit" in df else None
    if hourly is None or not hourly.any():
        return price
    price = price.copy()
    for i, p, disk, ip in zip(
        df.index[hourly],
        price[hourly],
        df.loc[hourly, "disk_price_per_gb"] if "disk_price_per_gb" in df else [None] * len(df),
        df.loc[hourly, "public_ip_price"] if "public_ip_price" in df else [None] * len(df),
        strict=False,
    ):
        whole = hourly_whole_price(Decimal(repr(p)), _dec(disk), _dec(ip), fleet)
        price[i] = np.nan if whole is None else float(whole)
    return price


def _dec(v: Any) -> Decimal | None:
    """A stored price cell (Decimal, float or missing) as a Decimal, None when missing."""
    if v is None or (isinstance(v, float) and np.isnan(v)):
        return None
    return v if isinstance(v, Decimal) else Decimal(repr(float(v)))


def _with_extras(engine: Engine, df: pd.DataFrame) -> pd.DataFrame:
    """`df` (per-epoch offer stats) with each hourly offer's current disk and IP prices
    (the store keeps only the latest ones), so its cap filter prices whole VMs."""
    from optimizer.store.queries import offer_extras

    if df.empty or "disk_price_per_gb" in df or not (df["price_unit"] == "hour").any():
        return df
    return df.merge(offer_extras(engine), on="offer_key", how="left")


def _store_filter(fleet: FleetConfig) -> tuple[str | None, str | None]:
    """Let the store filter when the fleet names one configuration / one country."""
    c = fleet.constraints
    return (
        c.configurations[0] if len(c.configurations) == 1 else None,
        c.countries[0] if len(c.countries) == 1 else None,
    )


def segment_medians(
    engine: Engine, config: Config, now: datetime, epochs: int
) -> dict[str, list[tuple[datetime, float]]]:
    """Per fleet, oldest first: for each of the last `epochs` complete epochs, the median
    over the fleet's allowed offers (configurations × countries × price cap) of each
    offer's epoch median price; then, for the current epoch, the median price of those
    offers in the latest snapshot (the market now)."""
    from optimizer.store.queries import epoch_stats, latest_market

    now = utc(now)
    today = now.replace(hour=0, minute=0, second=0, microsecond=0)
    days = [today - EPOCH * k for k in range(epochs, 0, -1)]
    db = engine.url.render_as_string(hide_password=True)
    fkey = {f.name: f.constraints.model_dump_json() for f in config.fleets}
    missing = [f for f in config.fleets if any((db, fkey[f.name], d) not in _PAST_MEDIANS
                                               for d in days)]  # fmt: skip
    stats: dict[tuple[str | None, str | None], pd.DataFrame] = {}
    for f in missing:
        flt = _store_filter(f)
        if flt not in stats:
            first = min(d for d in days if (db, fkey[f.name], d) not in _PAST_MEDIANS)
            stats[flt] = epoch_stats(
                engine, first, until=today - timedelta(microseconds=1),
                configuration=flt[0], country=flt[1],
            )  # fmt: skip
        df = _fleet_filter(_with_extras(engine, stats[flt]), f, "price_median_usd")
        med = df.groupby("epoch_start")["price_median_usd"].median() if not df.empty else None
        for d in days:  # every missing day lies in the range just queried
            if (db, fkey[f.name], d) not in _PAST_MEDIANS:
                v = med.get(pd.Timestamp(d)) if med is not None and len(med) else None
                _PAST_MEDIANS[db, fkey[f.name], d] = None if v is None or pd.isna(v) else float(v)
    markets: dict[tuple[str | None, str | None], pd.DataFrame] = {}
    out: dict[str, list[tuple[datetime, float]]] = {}
    for f in config.fleets:
        series = [(d, v) for d in days if (v := _PAST_MEDIANS.get((db, fkey[f.name], d)))]
        flt = _store_filter(f)
        if flt not in markets:
            markets[flt] = latest_market(engine, configuration=flt[0], country=flt[1])
        cur = _fleet_filter(markets[flt], f, "price_usd")
        if not cur.empty:
            series.append((today, float(cur["price_usd"].median())))
        out[f.name] = series
    return out


def fleet_slopes(
    medians: Mapping[str, Sequence[tuple[datetime, float]]], running: Mapping[str, int]
) -> dict[str, Decimal]:
    """Trend of each fleet's per-epoch cost: the Theil–Sen slope of its segment median
    (USD per instance per epoch, per epoch) × its running instances."""
    from optimizer.analysis.trends import theil_sen

    out: dict[str, Decimal] = {}
    for fleet, series in medians.items():
        if len(series) < 3 or not running.get(fleet):
            continue
        slope, _ = theil_sen(np.array([[v for _, v in series[-TREND_EPOCHS:]]]))
        if np.isfinite(slope[0]):
            out[fleet] = (
                Decimal(repr(float(slope[0]))).quantize(Decimal("0.000001")) * running[fleet]
            )
    return out


def snapshot_failures(engine: Engine) -> tuple[int, str | None]:
    """(consecutive failed snapshots counting back from the newest, newest error)."""
    from optimizer.store.tables.market import snapshot_table as t

    with store_errors(engine), engine.connect() as conn:
        rows = conn.execute(
            sa.select(t.c.outcome, t.c.error).order_by(t.c.id.desc()).limit(1000)
        ).all()
    n = 0
    for r in rows:
        if r.outcome == "ok":
            break
        n += 1
    return n, (rows[0].error if n else None)


def failed_actions(engine: Engine, now: datetime) -> list[FailedAction]:
    """Journal actions that failed within the last epoch."""
    from optimizer.store.tables.journal import JournalAction

    t = table_of(JournalAction)
    with store_errors(engine), engine.connect() as conn:
        rows = conn.execute(
            sa.select(t).where(t.c.state == "failed", t.c.updated_at >= utc(now) - EPOCH)
        ).all()
    return [
        FailedAction(
            action_id=str(r.id),
            fleet=r.fleet,
            kind=r.kind,
            error=r.error or "failed",
            at=r.finished_at or r.updated_at,
        )
        for r in rows
    ]


# --- plans → summaries -------------------------------------------------------------------
_UNSATISFIABLE_NOTES = ("no allowed offer", "could not place", "not deployed")


def summarize_plan(plan: Any) -> PlanSummary:
    """The alert-relevant parts of an `optimizer.planner` Plan."""
    notes = [n for n in getattr(plan, "notes", ()) if any(k in n for k in _UNSATISFIABLE_NOTES)]
    return PlanSummary(
        fleet=plan.fleet,
        savings_per_epoch=getattr(plan, "saving_per_epoch", Decimal(0)),
        deposit_needed=getattr(plan, "deposits_needed", Decimal(0)),
        unsatisfiable="; ".join(notes) or None,
        actions=len(getattr(plan, "actions", ())),
        billing=getattr(plan, "billing", EPOCH_DEAL),
    )


def _billing(config: Config, plans: Mapping[str, PlanSummary] | None) -> BillingModel:
    """How the API charges: this tick's plans know (the API edge's model), else the
    configured generation; marketplace-v3's epoch deals when neither says."""
    from optimizer.fluence.generation import billing_of

    for p in (plans or {}).values():
        return p.billing
    return billing_of(config.api.generation) or EPOCH_DEAL


# --- the stage ---------------------------------------------------------------------------
def load_budget(
    engine: Engine,
    config: Config,
    now: datetime,
    *,
    deposits: Mapping[str, Decimal] | None = None,
    with_trend: bool = True,
    extra_points: Sequence[VmPoint] | None = None,
    account: tuple[AccountFacts, datetime] | None = None,
) -> tuple[BudgetReport, dict[str, list[tuple[datetime, float]]] | None]:
    """The budget as of `now` from the store (and the segment medians used for the trend).

    `extra_points`: a live poll (`points_from_vms`) to use as the latest observation;
    the VMs in it are then the present ones. `account`: the account's facts and when
    they were observed (default: the stored ones, unless observed after `now`)."""
    if account is None:
        account = load_account(engine)
    if account is not None and account[1] > utc(now):
        account = None
    facts, facts_at = account if account is not None else (None, None)
    points, present = load_vm_points(engine, now)
    if extra_points is not None:
        points = [*points, *extra_points]
        present = {p.vm_id for p in extra_points}
    vm_fleets = load_vm_fleets(engine)
    if deposits is None:
        deposits = load_plan_cash(engine)
    medians = None
    slopes: dict[str, Decimal] = {}
    if with_trend and config.fleets:
        window = max(TREND_EPOCHS, config.alerts.price_spike_epochs + 1)
        try:
            medians = segment_medians(engine, config, now, window)
        except OptimizerError:
            raise
        except Exception as err:  # pandas trouble must not stop the alerts
            # a bug (logged with its traceback); budget alerts go on without the trend
            log.error("price medians crashed", error=f"{type(err).__name__}: {err}", exc_info=err)
        if medians is not None:
            first = compute_budget(points, config, now, present=present, vm_fleets=vm_fleets)
            slopes = fleet_slopes(medians, {s.scope: s.running for s in first.fleets})
    report = compute_budget(
        points,
        config,
        now,
        present=present,
        vm_fleets=vm_fleets,
        deposits=deposits,
        slopes=slopes,
        account=facts,
        account_at=facts_at,
    )
    return report, medians


@dataclass
class AlertsResult:
    """What one alerts stage did."""

    active: int
    notified: list[Alert] = field(default_factory=list)
    delivery: DeliveryReport = field(default_factory=DeliveryReport)
    budget: BudgetReport | None = None

    def summary(self) -> str:
        d = self.delivery
        return (
            f"{self.active} active, {len(self.notified)} notified, {d.sent} delivered, "
            f"{d.failed} failed, {d.pending} pending"
        )


def _error_alerts(
    errors: Iterable[OptimizerError], now: datetime
) -> tuple[list[Alert], list[FailedAction]]:
    """Unsatisfiable fleets and failed actions reported as errors during this tick."""
    unsat: list[Alert] = []
    failed: list[FailedAction] = []
    for e in errors:
        fleet = e.context.get("fleet")
        if isinstance(e, NoMatchingOffers) and fleet:
            unsat.append(
                Alert(
                    key=f"fleet.unsatisfiable:{fleet}",
                    severity="critical",
                    title=f"Fleet {fleet} cannot be satisfied",
                    text=str(e),
                    fleet=str(fleet),
                    data={"reason": str(e)},
                )
            )
        elif isinstance(e, ExecutionError) and e.context.get("action"):
            failed.append(
                FailedAction(
                    action_id=str(e.context["action"]),
                    fleet=str(fleet) if fleet else None,
                    kind=str(e.context.get("kind", "action")),
                    error=e.message,
                    at=now,
                )
            )
    return unsat, failed


def _fresh_runway(budget: BudgetReport, config: Config, now: datetime) -> Runway | None:
    r = budget.runway
    fresh = max(ACCOUNT_FRESH, 2 * config.daemon.snapshot_interval)
    return r if r is not None and now - r.observed_at <= fresh else None


def run_alerts(
    engine: Engine,
    config: Config,
    now: datetime,
    *,
    plans: Mapping[str, Any] | None = None,
    errors: Iterable[OptimizerError] = (),
    sinks: Sequence[Sink] | None = None,
    orphans: Sequence[Orphan] | None = None,
) -> AlertsResult:
    """One alerts stage. Given the store, the config, `now`, this tick's plans (fleet →
    planner Plan or PlanSummary; None when the planner did not run this tick) and the
    expected errors of this tick (and the foreign orphans listed this tick, None when
    not listed): compute the budget, evaluate every rule, fire / resolve
    through the stored state, log at once and deliver to the sinks (bounded by their
    timeouts; failures stay queued for the next tick). Raise StoreError on database
    failure.
    """
    now = utc(now)
    sinks = list(sinks) if sinks is not None else build_sinks(config)
    summaries: dict[str, PlanSummary] | None = None
    if plans is not None:
        summaries = {
            name: p if isinstance(p, PlanSummary) else summarize_plan(p)
            for name, p in plans.items()
        }
        save_plan_cash(engine, summaries, now)
    budget, medians = load_budget(engine, config, now)
    fails, last_error = snapshot_failures(engine)
    unsat, failed_now = _error_alerts(errors, now)
    failed = {f.action_id: f for f in failed_actions(engine, now)}
    for f in failed_now:
        failed.setdefault(f.action_id, f)
    inputs = RuleInputs(
        budget=budget,
        plans=summaries,
        snapshot_failures=fails,
        last_snapshot_error=last_error,
        segment_medians=medians,
        failed_actions=list(failed.values()),
        runway=_fresh_runway(budget, config, now),
        orphans=orphans,
        extra=unsat,
        billing=_billing(config, summaries),
    )
    alerts, families = evaluate_rules(inputs, config)
    queued = [s.name for s in sinks if s.name != "log"]
    with store_errors(engine):
        notices = reconcile(engine, alerts, families, now, config.alerts.renotify, queued)
    send_to_log(sinks, notices)
    with store_errors(engine):
        report = deliver(engine, sinks, now)
    return AlertsResult(active=len(alerts), notified=notices, delivery=report, budget=budget)


__all__ = [
    "AlertsResult",
    "load_budget",
    "run_alerts",
    "summarize_plan",
]
