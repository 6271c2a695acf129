"""The report's tables as plain data (header + rows of display strings), shared by the
HTML and Markdown renderers so both always show the same numbers. Escaping is the
renderer's job: cells here are raw strings, possibly hostile (names come from the API)."""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import pandas as pd

from optimizer.analysis import MarketAnalysis, biggest_movers, cheapest, latest_epoch

if TYPE_CHECKING:
    from optimizer.store.outlook import FleetOutlook


@dataclass(frozen=True)
class Table:
    title: str
    header: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]
    note: str = ""


def window_text(a: MarketAnalysis) -> str:
    """`2026-01-01 → 2026-01-30 UTC, 30 epochs (28 with data)`; hourly histories (a
    short-history report) count hours and show the time."""
    grid = a.history.grid
    if not len(grid):
        return "empty window"
    hourly = pd.Timedelta(a.history.length) < pd.Timedelta(hours=24)
    fmt, unit = ("%Y-%m-%d %H:%M", "hours") if hourly else ("%Y-%m-%d", "epochs")
    return (
        f"{grid[0]:{fmt}} → {grid[-1]:{fmt}} UTC, {len(grid)} {unit} "
        f"({a.history.observed_epochs} with data)"
    )


def usd(value: object, places: int = 4) -> str:
    """A float USD amount for display, '—' when missing."""
    try:
        v = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return "—"
    return "—" if math.isnan(v) else f"${v:,.{places}f}"


def pct(value: object) -> str:
    try:
        v = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return "—"
    return "—" if math.isnan(v) else f"{v * 100:+.1f}%"


def num(value: object, places: int = 0) -> str:
    try:
        v = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return "—"
    return "—" if math.isnan(v) else f"{v:,.{places}f}"


def natural_key(text: object) -> tuple[object, ...]:
    """Sort key putting cpu-2-… before cpu-16-… (digit runs compare as numbers)."""
    return tuple(int(p) if p.isdigit() else p for p in re.split(r"(\d+)", str(text)))


def _configurations(stats: pd.DataFrame) -> list[str]:
    if stats.empty:
        return []
    return sorted(stats["configuration"].unique(), key=natural_key)


def cheapest_tables(a: MarketAnalysis, level: str, n: int = 5) -> list[Table]:
    """Per configuration: the n cheapest countries (level "country") or datacenters."""
    stats = a.stats.get(level, pd.DataFrame())
    label = "Country" if level == "country" else "Datacenter"
    tables = []
    for cfg in _configurations(stats):
        part = stats.loc[stats["configuration"] == cfg]
        at = latest_epoch(part, a.now)
        top = cheapest(part, level, now=a.now, n=n)
        rows = tuple(
            (
                str(r[level]),
                usd(r["median_now"]),
                usd(r["min_now"]),
                num(r["offers_now"]),
                usd(r["median_window"]),
                num(r["epochs"]),
            )
            for r in top.to_dict("records")
        )
        tables.append(
            Table(
                title=cfg,
                header=(
                    label,
                    "Median latest",
                    "Min latest",
                    "Offers latest",
                    "Mean median (window)",
                    "Epochs",
                ),
                rows=rows,
                note=f"Latest epoch with data: {at:%Y-%m-%d} UTC." if at is not None else "",
            )
        )
    return tables


def movers_table(a: MarketAnalysis, n: int = 10, lag: int = 7) -> Table:
    """Configuration × country segments whose median moved most against `lag` epochs ago."""
    stats = a.stats.get("country", pd.DataFrame())
    top = biggest_movers(stats, "country", now=a.now, lag=lag, n=n) if not stats.empty else None
    rows: tuple[tuple[str, ...], ...] = ()
    if top is not None:
        rows = tuple(
            (str(r["configuration"]), str(r["country"]), usd(r["median_now"]), pct(r["change"]))
            for r in top.to_dict("records")
        )
    return Table(
        title=f"Biggest movers (median vs {lag} epochs earlier)",
        header=("Configuration", "Country", "Median now", f"Change vs {lag} epochs"),
        rows=rows,
        note="" if rows else f"Not enough history: no segment has data {lag} epochs back.",
    )


def per_vcpu_table(a: MarketAnalysis) -> Table:
    """Latest median price per vCPU and per GB RAM of each configuration."""
    stats = a.stats.get("configuration", pd.DataFrame())
    rows = []
    if not stats.empty:
        last = stats.sort_values("epoch").groupby("configuration").tail(1)
        last = last.sort_values(["median_per_vcpu", "configuration"])
        rows = [
            (
                str(r["configuration"]),
                usd(r["median"]),
                usd(r["median_per_vcpu"]),
                usd(r["median_per_gb"]),
                num(r["offers"]),
            )
            for r in last.to_dict("records")
        ]
    return Table(
        title="Price per vCPU and per GB RAM (latest epoch)",
        header=("Configuration", "Median (USD/epoch)", "Per vCPU", "Per GB RAM", "Offers"),
        rows=tuple(rows),
    )


def trends_table(a: MarketAnalysis, horizon: int = 7) -> Table:
    """Per configuration: median now, Theil–Sen slope and the forecast `horizon` ahead."""
    frame = a.trends.get("configuration", pd.DataFrame())
    rows = []
    if not frame.empty:
        h = horizon if f"f{horizon}_median" in frame.columns else 1
        records = frame.to_dict("records")
        for r in sorted(records, key=lambda rec: natural_key(rec["configuration"])):
            rows.append(
                (
                    str(r["configuration"]),
                    usd(r["median_now"]),
                    usd(r["slope_per_epoch"], 5),
                    pct(r["slope_pct"]),
                    pct(r["volatility"]).lstrip("+"),
                    f"{usd(r[f'f{h}_median'])} [{usd(r[f'f{h}_low'])} – {usd(r[f'f{h}_high'])}]",
                    num(r["points"]),
                )
            )
    return Table(
        title="Trends and forecast",
        header=(
            "Configuration",
            "Median now",
            "Slope (USD/epoch per epoch)",
            "Slope %/epoch",
            "Volatility",
            f"Forecast +{horizon} epochs [90% interval]",
            "Epochs used",
        ),
        rows=tuple(rows),
        note="Theil–Sen slope of the per-epoch median over the last 30 epochs; "
        "interval from the robust residual scale.",
    )


def longevity_table(a: MarketAnalysis, n: int = 15) -> Table:
    """Listing stability per datacenter (least stable last)."""
    dcs = a.datacenters
    rows = []
    if not dcs.empty:
        rows = [
            (
                str(r["datacenter"]),
                num(r["offers"]),
                num(r["listed_now"]),
                num(r["median_spell_hours"], 1),
                num(r["vanishes_per_epoch"], 3),
                num(r["listing_stability"], 3),
            )
            for r in dcs.head(n).to_dict("records")
        ]
    return Table(
        title="Offer longevity per datacenter",
        header=(
            "Datacenter",
            "Offers seen",
            "Listed now",
            "Median spell (h)",
            "Vanishes per epoch",
            "Stability (0–1)",
        ),
        rows=tuple(rows),
        note="" if rows else "No longevity data.",
    )


def fleet_overview_table(
    outlook: Sequence[FleetOutlook],
    fleet_spend: pd.DataFrame | None,
    savings: pd.DataFrame | None,
) -> Table:
    """The report's first table: per fleet, what it costs, what the optimizer saved and
    what it is doing or would do now (open actions, else the last plan's verdict)."""
    spent = _totals(fleet_spend, "spend_usd")
    saved = _totals(savings, "savings_usd")
    by_name = {o.fleet: o for o in outlook}
    rows = []
    for name in sorted(set(by_name) | set(spent) | set(saved)):
        o = by_name.get(name)
        rows.append(
            (
                name,
                num(o.vms) if o else "—",
                usd(spent.get(name, 0.0), 2),
                usd(saved.get(name, 0.0), 2),
                _doing_now(o) if o else "—",
            )
        )
    return Table(
        title="Your fleets",
        header=("Fleet", "VMs now", "Spent (USD)", "Saved (USD)", "Doing now"),
        rows=tuple(rows),
        note=(
            "Spent: what the fleet's VMs were charged in this window. Saved: (old − new "
            "price) × time since, for each completed migration. Doing now: the actions in "
            "progress, else what the last plan decided."
            if rows
            else "No fleets in this database yet: `fluence-optimizer plan` shows what the "
            "configured fleets would do."
        ),
    )


def _doing_now(o: FleetOutlook) -> str:
    if o.open_actions:
        return "; ".join(o.open_actions)
    if o.planned_at is None:
        return "not planned yet"
    if o.available_per_epoch:
        return (
            f"last plan ({o.planned_at:%Y-%m-%d %H:%M} UTC): moves saving "
            f"{usd(o.available_per_epoch)}/epoch"
        )
    return f"stays where it is (last plan {o.planned_at:%Y-%m-%d %H:%M} UTC)"


def _totals(frame: pd.DataFrame | None, col: str) -> dict[str, float]:
    if frame is None or frame.empty:
        return {}
    return {str(k): float(v) for k, v in frame.groupby("fleet")[col].sum().items()}


def fleet_tables(fleet_spend: pd.DataFrame | None, savings: pd.DataFrame | None) -> list[Table]:
    """Totals per fleet from the optional fleet frames (see report.html for their columns)."""
    tables = []
    if fleet_spend is not None and not fleet_spend.empty:
        tot = fleet_spend.groupby("fleet")["spend_usd"].agg(["sum", "mean", "size"]).reset_index()
        tables.append(
            Table(
                title="Fleet spend",
                header=("Fleet", "Total (USD)", "Mean per epoch", "Epochs"),
                rows=tuple(
                    (str(r["fleet"]), usd(r["sum"], 2), usd(r["mean"], 4), num(r["size"]))
                    for r in tot.to_dict("records")
                ),
            )
        )
    if savings is not None and not savings.empty:
        tot = savings.groupby("fleet")["savings_usd"].sum().reset_index()
        tables.append(
            Table(
                title="Savings realized",
                header=("Fleet", "Saved (USD)"),
                rows=tuple(
                    (str(r["fleet"]), usd(r["savings_usd"], 2)) for r in tot.to_dict("records")
                ),
            )
        )
    return tables
