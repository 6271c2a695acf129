"""Price-history reports: HTML (self-contained, charts inline), Markdown tables, and
per-epoch statistics as CSV/JSON. Renderers take a MarketAnalysis; they do no I/O."""

from __future__ import annotations

from optimizer.report.export import stats_table, to_csv, to_json
from optimizer.report.html import SECTIONS, render_html
from optimizer.report.markdown import render_markdown

__all__ = ["SECTIONS", "render_html", "render_markdown", "stats_table", "to_csv", "to_json"]
