"""CLI command: `budget [--json] [--live]` — spend, forecast, thresholds and cash per
fleet and in total (see `optimizer.budget` for how each number is derived)."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import typer

from optimizer.cli.render import print_json, print_line, print_table
from optimizer.clock import SystemClock, utc
from optimizer.errors import ConfigError

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

    from optimizer.budget import BudgetReport, Runway, ScopeBudget
    from optimizer.executor.reaper import Orphan


def _pct(x: Decimal | None) -> str:
    return "" if x is None else f"{float(x) * 100:.0f} %"


def _usd(x: Decimal | None) -> str:
    from optimizer.money import fmt_usd  # money imports pydantic: not at module load

    return "" if x is None else fmt_usd(x)


def scope_json(s: ScopeBudget) -> dict[str, Any]:
    return {
        "scope": s.scope,
        "vms": s.vms,
        "running": s.running,
        "run_rate_usd_per_epoch": s.run_rate,
        "spend_epoch_usd": s.spend_epoch,
        "spend_month_usd": s.spend_month,
        "forecast_month_usd": s.forecast_month,
        "monthly_usd": s.monthly_usd,
        "max_usd_per_epoch": s.max_usd_per_epoch,
        "thresholds": list(s.thresholds),
        "remaining_usd": s.remaining,
        "actual_fraction": None if s.actual_fraction is None else round(s.actual_fraction, 6),
        "forecast_fraction": (
            None if s.forecast_fraction is None else round(s.forecast_fraction, 6)
        ),
        "crossed_actual": s.crossed_actual,
        "crossed_forecast": s.crossed_forecast,
        "reserves_usd": s.reserves,
        "deposit_needed_usd": s.deposit_needed,
        "total_spent_usd": s.total_spent,
        "trend_usd_per_epoch_per_epoch": s.slope,
        "estimated": s.estimated,
    }


def runway_json(w: Runway) -> dict[str, Any]:
    hours, to_floor = w.hours_left, w.hours_to_floor()
    return {
        "balance_usd": w.balance,
        "burn_usd_per_hour": w.burn_per_hour,
        "hours_left": None if hours is None else round(hours, 2),
        "until": w.until,
        "floor_usd": w.floor_usd,
        "hours_to_floor": None if to_floor is None else round(to_floor, 2),
        "observed_at": w.observed_at,
    }


def runway_line(w: Runway, now: datetime) -> str:
    """One line: balance, burn rate, hours left and the creation floor (and when the
    balance was read, when that is longer ago than STALE)."""
    hours, rate = w.hours_left, w.burn_per_hour
    head = f"Balance {_usd(w.balance)}"
    if now - w.observed_at > STALE:
        head += f" (read {w.observed_at:%Y-%m-%d %H:%M} UTC; run the daemon or use --live)"
    if rate is None:
        return f"{head}; burn rate unknown (a billed resource has no known price)"
    if hours is None:
        return f"{head}; nothing is billed now"
    until = w.until
    return (
        f"{head}, burning {_usd4(rate)}/hour (every billed VM, disk and IP): lasts "
        f"{hours:.1f} hours"
        + (f", until {until:%Y-%m-%d %H:%M} UTC" if until else "")
        + f". Under {_usd(w.floor_usd)} the API creates nothing (6 hours of everything, "
        "one more VM included)."
    )


def _usd4(x: Decimal) -> str:
    from optimizer.money import fmt_usd

    return fmt_usd(x, 4)


def report_json(r: BudgetReport) -> dict[str, Any]:
    extra = {} if r.runway is None else {"runway": runway_json(r.runway)}
    return {
        "now": r.now,
        "month": r.month_start.strftime("%Y-%m"),
        "month_start": r.month_start,
        "month_end": r.month_end,
        "epoch_start": r.epoch_start,
        "epochs_left": round(r.epochs_left, 4),
        "scopes": [scope_json(s) for s in r.scopes],
        "vms": [
            {
                "id": v.vm_id,
                "name": v.name,
                "fleet": v.fleet,
                "status": v.status,
                "present": v.present,
                "price_per_epoch_usd": v.price_per_epoch,
                "reserved_usd": v.reserved,
                "total_spent_usd": v.total_spent,
                "spend_epoch_usd": v.spend_epoch,
                "spend_month_usd": v.spend_month,
            }
            for v in r.vms
        ],
        **extra,
    }


ROWS: tuple[tuple[str, Any], ...] = (
    ("VMs (running)", lambda s: f"{s.vms} ({s.running})"),
    ("Cost now, per epoch", lambda s: _usd(s.run_rate)),
    ("Cap per epoch", lambda s: _usd(s.max_usd_per_epoch)),
    ("Spent this epoch", lambda s: _usd(s.spend_epoch)),
    ("Spent this month", lambda s: _usd(s.spend_month) + ("*" if s.estimated else "")),
    ("Forecast for the month", lambda s: _usd(s.forecast_month)),
    ("Monthly budget", lambda s: _usd(s.monthly_usd)),
    ("Used / forecast", lambda s: f"{_pct(s.actual_fraction)} / {_pct(s.forecast_fraction)}"
     if s.monthly_usd else ""),
    ("Remaining", lambda s: _usd(s.remaining)),
    ("Reserves held", lambda s: _usd(s.reserves)),
    ("Deposits needed", lambda s: _usd(s.deposit_needed)),
    ("Total spent (lifetime)", lambda s: _usd(s.total_spent)),
)  # fmt: skip


def render(r: BudgetReport) -> None:
    scopes = r.scopes
    print_table(
        ["", *((s.scope, "right") for s in scopes)],
        ([label, *(fn(s) for s in scopes)] for label, fn in ROWS),
        title=(
            f"Budget {r.month_start:%Y-%m} as of {r.now:%Y-%m-%d %H:%M} UTC "
            f"({float(r.epochs_left):.1f} epochs left)"
        ),
    )
    ths = sorted({t for s in r.scopes for t in s.thresholds})
    print_line(
        "Thresholds: " + ", ".join(f"{t * 100:g} %" for t in ths) + " of the monthly budget, "
        "on actual and forecast spend. Deposits: cash the next planned actions need."
    )
    if any(s.estimated for s in r.scopes):
        print_line("* includes VMs first observed after the month began (reconstructed).")
    if r.runway is not None:
        print_line(runway_line(r.runway, r.now))


STALE = timedelta(hours=1)


def stored_orphans(engine: Engine, now: datetime) -> list[Orphan]:
    """The foreign orphans the last snapshot listed (none stored, or listed after `now`:
    none)."""
    from optimizer.executor.orphans import orphan_from_json
    from optimizer.store.account import load_orphans

    stored = load_orphans(engine)
    if stored is None or stored[1] > now:
        return []
    return [orphan_from_json(d) for d in stored[0]]


def orphan_dict(o: Orphan) -> dict[str, Any]:
    return {
        "kind": o.kind,
        "id": o.id,
        "name": o.name,
        "price_per_hour_usd": o.price_per_hour,
        "monthly_usd": o.monthly_usd,
    }


def orphans_line(orphans: list[Orphan]) -> str:
    total = sum((o.monthly_usd for o in orphans if o.monthly_usd is not None), Decimal(0))
    names = ", ".join(o.name or o.id for o in orphans)
    return (
        f"{len(orphans)} detached disk(s)/IP(s) not created by the optimizer bill "
        f"{_usd(total)}/month: {names} (`fleets status` lists them; never touched)."
    )


def _parse_at(value: str) -> datetime:
    try:
        return utc(datetime.fromisoformat(value))
    except ValueError:
        raise ConfigError(f"budget --at: {value!r} is not an ISO 8601 time") from None


def last_poll(engine: Engine, now: datetime) -> datetime | None:
    """When the VM list was last stored (at or before `now`)."""
    import sqlalchemy as sa

    from optimizer.store.engine import store_errors
    from optimizer.store.tables.market import vm_observation_table as t

    with store_errors(engine), engine.connect() as conn:
        v = conn.execute(sa.select(sa.func.max(t.c.to_at)).where(t.c.from_at <= now)).scalar()
    return None if v is None else utc(v)


def register(app: typer.Typer) -> None:
    """Add this group's commands to the main app."""

    @app.command("budget")
    def budget_cmd(
        ctx: typer.Context,
        as_json: bool = typer.Option(False, "--json", help="Print the numbers as JSON."),
        live: bool = typer.Option(
            False, "--live", help="Poll the API's VM list now instead of using the last snapshot."
        ),
        at: str | None = typer.Option(
            None,
            "--at",
            help="Compute as of this UTC time (ISO 8601, e.g. 2026-01-31T12:00) instead of now.",
        ),
    ) -> None:
        """Spend this epoch and month, forecast, thresholds, remaining budget, reserves and
        deposits needed, per fleet and in total; where the API reports the balance, how
        many hours it lasts at the current burn rate."""
        from optimizer.alerts.tick import load_budget
        from optimizer.budget import month_bounds, points_from_vms

        config = ctx.obj.config()
        engine = ctx.obj.engine()
        now = SystemClock().now() if at is None else _parse_at(at)
        extra = account = None
        if live:
            client = ctx.obj.client()
            extra = points_from_vms(client.list_vms(), now)
            facts = client.account(month_bounds(now)[0].date(), now.date())
            account = (facts, now) if facts.known else None
        report, _ = load_budget(engine, config, now, extra_points=extra, account=account)
        last = None if live else last_poll(engine, now)
        orphans = stored_orphans(engine, now)
        if as_json:
            more = {"orphans": [orphan_dict(o) for o in orphans]} if orphans else {}
            print_json({**report_json(report), "vms_observed_at": last, **more})
            return
        render(report)
        if orphans:
            print_line(orphans_line(orphans))
        if not live and (last is None or now - last > STALE):
            print_line(
                "VM data: none stored yet"
                if last is None
                else f"VM data is from {last:%Y-%m-%d %H:%M} UTC; run the daemon or use --live"
            )
