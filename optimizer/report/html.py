"""The price-history report as ONE self-contained HTML file: inline CSS, charts as
base64 PNG data URIs, no script, no network access needed to view it.

Every string that reaches the page is escaped with html.escape — configuration slugs,
countries and datacenter labels come from the marketplace API and may be hostile.

Optional fleet frames (passed by the fleets/daemon code when fleets exist):
- fleet_spend: columns epoch (aware UTC epoch start), fleet (str), spend_usd (float);
- savings:     columns epoch, fleet, savings_usd (float, realized in that epoch).
"""

from __future__ import annotations

import base64
from collections.abc import Callable, Sequence
from datetime import datetime
from html import escape
from typing import TYPE_CHECKING

import pandas as pd

from optimizer import __version__
from optimizer.analysis import MarketAnalysis
from optimizer.report import charts
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

if TYPE_CHECKING:
    from optimizer.store.outlook import FleetOutlook

SECTIONS = (
    ("fleets", "Your fleets: cost, savings and what happens now"),
    ("price-bands", "Market price bands"),
    ("cheapest", "Cheapest countries and datacenters"),
    ("per-vcpu", "Price per vCPU across configurations"),
    ("movers", "Biggest movers"),
    ("trends", "Trends and forecast"),
    ("capacity", "Capacity over time"),
    ("longevity", "Offer longevity"),
)

_CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:2em auto;
max-width:1300px;padding:0 1em;color:#222;line-height:1.4}
h1{margin-bottom:.2em}h2{border-bottom:1px solid #ddd;padding-bottom:.2em;margin-top:2em}
h3{margin-bottom:.3em}.meta{color:#666;font-size:.9em}
table{border-collapse:collapse;margin:.5em 0 1em;font-size:.88em}
th,td{border:1px solid #ddd;padding:.25em .6em;text-align:right}
th{background:#f4f6f8}td:first-child,th:first-child{text-align:left}
img{max-width:100%;height:auto}.note{color:#666;font-size:.88em}
nav a{margin-right:1em}.grid{display:flex;flex-wrap:wrap;gap:1.5em}
"""


def _img(png: bytes | None, alt: str) -> str:
    if png is None:
        return f'<p class="note">{escape(alt)}: no data to chart.</p>'
    data = base64.b64encode(png).decode("ascii")
    return f'<img src="data:image/png;base64,{data}" alt="{escape(alt)}">'


def _table(t: Table, heading: str = "h3") -> str:
    head = "".join(f"<th>{escape(h)}</th>" for h in t.header)
    body = "".join(
        "<tr>" + "".join(f"<td>{escape(c)}</td>" for c in row) + "</tr>" for row in t.rows
    )
    parts = [f"<{heading}>{escape(t.title)}</{heading}>"]
    if t.rows:
        parts.append(f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>")
    if t.note:
        parts.append(f'<p class="note">{escape(t.note)}</p>')
    return "".join(parts)


def render_html(
    analysis: MarketAnalysis,
    *,
    generated_at: datetime,
    filters: dict[str, str] | None = None,
    fleet_spend: pd.DataFrame | None = None,
    savings: pd.DataFrame | None = None,
    outlook: Sequence[FleetOutlook] = (),
    progress: Callable[[str], None] | None = None,
    note: str = "",
    price_units: frozenset[str] | None = None,
) -> str:
    """Render the whole report; `progress(step)` is called before each section. The
    fleets come first (what they cost, what was saved, what happens now), the market after.
    `price_units`: what the prices are per ("epoch", "hour"); default per epoch."""
    step = progress or (lambda _s: None)
    a = analysis
    span = a.history.span
    window = window_text(a)
    flt = ", ".join(f"{k}={v}" for k, v in (filters or {}).items() if v) or "none"
    out: list[str] = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        "<title>Fluence price history</title>",
        f"<style>{_CSS}</style></head><body>",
        "<h1>Fluence CPU Cloud — price history</h1>",
        f'<p class="meta">Window: {escape(window)} · filters: {escape(flt)} · generated '
        f"{escape(generated_at.strftime('%Y-%m-%d %H:%M UTC'))} by fluence-optimizer "
        f"{escape(__version__)}. Prices: {escape(charts.price_axis(price_units))}; the "
        "latest epoch may be partial. Missing epochs are gaps, never filled in.</p>",
        *([f'<p class="meta"><strong>{escape(note)}</strong></p>'] if note else []),
        "<nav>" + "".join(f'<a href="#{sid}">{escape(t)}</a>' for sid, t in SECTIONS) + "</nav>",
    ]

    def section(sid: str, body: str) -> None:
        title = dict(SECTIONS)[sid]
        out.append(f'<section id="{sid}"><h2>{escape(title)}</h2>{body}</section>')

    step("fleets")
    body = _table(fleet_overview_table(outlook, fleet_spend, savings))
    if fleet_spend is not None and not fleet_spend.empty:
        body += _img(charts.fleet_spend(fleet_spend, span), "Fleet spend per epoch")
    if savings is not None and not savings.empty:
        body += _img(charts.savings(savings, span), "Savings realized")
    body += "".join(_table(t) for t in fleet_tables(fleet_spend, savings))
    section("fleets", body)
    step("price bands")
    section(
        "price-bands",
        '<p class="note">Per configuration: median of the offers\' epoch prices (line), '
        "10th–90th percentile across offers (band) and the lowest price seen (dotted).</p>"
        + _img(charts.price_bands(a, price_units), "Price bands per configuration"),
    )
    step("cheapest")
    body = _img(charts.cheapest_bars(a, "country", price_units), "Median price now per country")
    body += "<h3>By country</h3>" + "".join(_table(t, "h4") for t in cheapest_tables(a, "country"))
    body += "<h3>By datacenter</h3>" + "".join(
        _table(t, "h4") for t in cheapest_tables(a, "datacenter")
    )
    section("cheapest", body)
    step("per vCPU")
    section(
        "per-vcpu",
        _img(charts.per_vcpu(a, price_units), "Median price per vCPU") + _table(per_vcpu_table(a)),
    )
    step("movers")
    section("movers", _table(movers_table(a, lag=7)) + _table(movers_table(a, lag=1)))
    step("trends")
    section("trends", _table(trends_table(a)))
    step("capacity")
    section("capacity", _img(charts.capacity(a), "Capacity over time"))
    step("longevity")
    section("longevity", _table(longevity_table(a)))
    out.append("</body></html>")
    return "\n".join(out)
