"""The price-history report as Markdown: the same tables as the HTML report, for a
terminal or a pull request. Cells are made safe for a pipe table (no raw `|`, newlines,
control characters such as terminal escapes, or HTML/Markdown markup from API strings)."""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING

import pandas as pd

from optimizer.analysis import MarketAnalysis
from optimizer.report.charts import price_axis
from optimizer.report.tables import (
    Table,
    cheapest_tables,
    fleet_overview_table,
    fleet_tables,
    longevity_table,
    movers_table,
    per_vcpu_table,
    trends_table,
    window_text,
)
from optimizer.untrusted import one_line

if TYPE_CHECKING:
    from optimizer.store.outlook import FleetOutlook

_SPECIAL = re.compile(r"([\\`*_\[\]<>|~])")


def md_escape(text: str) -> str:
    """One table cell or heading: control characters and line breaks become spaces,
    whitespace is flattened, markup characters are backslash-escaped."""
    return _SPECIAL.sub(r"\\\1", one_line(text))


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
    outlook: Sequence[FleetOutlook] = (),
    note: str = "",
    price_units: frozenset[str] | None = None,
) -> str:
    """Render the report's tables as one Markdown document, the fleets first; `note` (e.g.
    that the statistics are hourly) goes right under the title; `price_units`: what the
    prices are per, "epoch" and/or "hour" (default per epoch)."""
    a = analysis
    window = window_text(a)
    flt = ", ".join(f"{k}={v}" for k, v in (filters or {}).items() if v) or "none"
    parts = [
        "# Fluence CPU Cloud — price history",
        "",
        f"Window: {md_escape(window)}; filters: {md_escape(flt)}; generated "
        f"{generated_at:%Y-%m-%d %H:%M} UTC. Prices in {price_axis(price_units)}.",
        "",
        *([f"**{md_escape(note)}**", ""] if note else []),
        "## Your fleets: cost, savings and what happens now",
        "",
        _table(fleet_overview_table(outlook, fleet_spend, savings)),
        *(_table(t) for t in fleet_tables(fleet_spend, savings)),
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
    ]
    return "\n".join(parts).rstrip() + "\n"
