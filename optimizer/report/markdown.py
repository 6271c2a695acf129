"""The price-history report as Markdown: the same tables as the HTML report, for a
terminal or a pull request. Cells are made safe for a pipe table (no raw `|`, newlines,
or HTML/Markdown markup from API strings)."""

from __future__ import annotations

import re
from datetime import datetime

import pandas as pd

from optimizer.analysis import MarketAnalysis
from optimizer.report.tables import (
    Table,
    cheapest_tables,
    fleet_tables,
    longevity_table,
    movers_table,
    per_vcpu_table,
    trends_table,
)

_SPECIAL = re.compile(r"([\\`*_\[\]<>|~])")


def md_escape(text: str) -> str:
    """One table cell or heading: backslash-escape markup characters, flatten whitespace."""
    return _SPECIAL.sub(r"\\\1", " ".join(str(text).split()))


def _table(t: Table, level: str = "###") -> str:
    lines = [f"{level} {md_escape(t.title)}", ""]
    if t.rows:
        lines.append("| " + " | ".join(md_escape(h) for h in t.header) + " |")
        lines.append("|" + "|".join(["---"] + ["---:"] * (len(t.header) - 1)) + "|")
        lines += ["| " + " | ".join(md_escape(c) for c in row) + " |" for row in t.rows]
        lines.append("")
    if t.note:
        lines += [f"_{md_escape(t.note)}_", ""]
    return "\n".join(lines)


def render_markdown(
    analysis: MarketAnalysis,
    *,
    generated_at: datetime,
    filters: dict[str, str] | None = None,
    fleet_spend: pd.DataFrame | None = None,
    savings: pd.DataFrame | None = None,
) -> str:
    """Render the report's tables as one Markdown document."""
    a = analysis
    grid = a.history.grid
    window = (
        f"{grid[0]:%Y-%m-%d} → {grid[-1]:%Y-%m-%d} UTC, {len(grid)} epochs "
        f"({a.history.observed_epochs} with data)"
        if len(grid)
        else "empty window"
    )
    flt = ", ".join(f"{k}={v}" for k, v in (filters or {}).items() if v) or "none"
    parts = [
        "# Fluence CPU Cloud — price history",
        "",
        f"Window: {md_escape(window)}; filters: {md_escape(flt)}; generated "
        f"{generated_at:%Y-%m-%d %H:%M} UTC. Prices in USD per epoch (24 h).",
        "",
        "## Cheapest countries now",
        "",
        *(_table(t) for t in cheapest_tables(a, "country")),
        "## Cheapest datacenters now",
        "",
        *(_table(t) for t in cheapest_tables(a, "datacenter")),
        "## Price per vCPU across configurations",
        "",
        _table(per_vcpu_table(a)),
        "## Biggest movers",
        "",
        _table(movers_table(a, lag=7)),
        _table(movers_table(a, lag=1)),
        "## Trends and forecast",
        "",
        _table(trends_table(a)),
        "## Offer longevity",
        "",
        _table(longevity_table(a)),
        "## Fleet spend and savings",
        "",
    ]
    fleets = fleet_tables(fleet_spend, savings)
    parts += [_table(t) for t in fleets] if fleets else ["_No fleet data in this window yet._", ""]
    return "\n".join(parts).rstrip() + "\n"
