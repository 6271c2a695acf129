"""Render a `BacktestResult`: a self-contained HTML page (table + cumulative-cost chart,
the chart inlined as a PNG data URI), a plain-text table, or JSON."""

from __future__ import annotations

import base64
import html
import io
import json
from datetime import UTC, datetime

from optimizer.backtest.prices import micros_to_usd
from optimizer.backtest.run import BacktestResult, PolicyResult
from optimizer.money import fmt_usd


def _share(share: float | None) -> str:
    return "n/a" if share is None else f"{share:.1%}"


def _top_offers(p: PolicyResult, n: int = 3) -> str:
    top = sorted(p.vm_epochs.items(), key=lambda kv: (-kv[1], kv[0]))[:n]
    more = len(p.vm_epochs) - len(top)
    s = ", ".join(f"{k} ×{v}" for k, v in top)
    return s + (f" (+{more} more)" if more > 0 else "")


def rows(result: BacktestResult) -> list[dict[str, str]]:
    """One display row per policy (strings, ready for a table)."""
    return [
        {
            "policy": p.name,
            "total": fmt_usd(p.total),
            "saving vs static": fmt_usd(p.saving_vs_static),
            "share of optimum's saving": _share(p.share_of_optimum),
            "share of bound's saving": _share(p.share_of_bound),
            "migrations": str(p.migrations),
            f"VM-{p.usage_unit}s": str(sum(p.vm_epochs.values())),
            "offers used": str(len(p.vm_epochs)),
        }
        for p in result.policies
    ]


def render_text(result: BacktestResult) -> str:
    """A fixed-width table for the terminal, with the run's parameters above it."""
    head = (
        f"fleet {result.fleet}: {result.instances} VM(s), {result.matching_offers} of "
        f"{result.offers} offers match;\n{result.steps} snapshots "
        f"{result.start:%Y-%m-%d %H:%M} → {result.end:%Y-%m-%d %H:%M} UTC; "
        f"price model {result.model.price_model}"
    )
    rs = rows(result)
    cols = list(rs[0].keys())
    # headers wrap over lines at word boundaries, so the table fits 80 columns
    width = {c: max(*(len(w) for w in c.split()), *(len(r[c]) for r in rs)) for c in cols}
    heads = {c: _wrap(c, width[c]) for c in cols}
    depth = max(len(h) for h in heads.values())
    lines = [head, ""]
    for k in range(depth):
        cells = [(heads[c][k - depth + len(heads[c])] if k >= depth - len(heads[c]) else "")
                 for c in cols]  # fmt: skip
        lines.append("  ".join(t.ljust(width[c]) for t, c in zip(cells, cols, strict=True)))
    lines.append("  ".join("-" * width[c] for c in cols))
    for r in rs:
        lines.append("  ".join(r[c].rjust(width[c]) if i else r[c].ljust(width[c])
                               for i, c in enumerate(cols)))  # fmt: skip
    if result.bound is not None:
        lines.append(f"lower bound on any schedule: {fmt_usd(result.bound)}")
    lines += [f"note: {n}" for n in result.notes]
    return "\n".join(lines)


def _wrap(text: str, width: int) -> list[str]:
    """`text` in lines of at most `width` characters, broken between words."""
    lines: list[str] = []
    for word in text.split():
        if lines and len(lines[-1]) + 1 + len(word) <= width:
            lines[-1] += " " + word
        else:
            lines.append(word)
    return lines


def render_json(result: BacktestResult) -> str:
    return json.dumps(result.to_json(), indent=2)


def _chart_png(result: BacktestResult) -> bytes:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.dates as mdates
    import matplotlib.pyplot as plt
    import numpy as np

    fig, ax = plt.subplots(figsize=(10, 4.5), dpi=100)
    try:
        for p in result.policies:
            t, c = p.cumulative
            if len(t) == 0:
                continue
            xs = [datetime.fromtimestamp(int(x), UTC) for x in t]
            ys = [float(micros_to_usd(int(v))) for v in c]
            # extend each line to the end of the run so they compare at the same date
            xs.append(result.end)
            ys.append(ys[-1])
            ax.step(np.array(xs), ys, where="post", label=p.name, linewidth=1.6)
        ax.set_ylabel("cumulative cost (USD)")
        ax.set_xlabel("date (UTC)")
        ax.set_title(f"Fleet {result.fleet}: cumulative cost per policy")
        ax.xaxis.set_major_formatter(mdates.DateFormatter("%Y-%m-%d"))
        ax.grid(True, alpha=0.3)
        ax.legend(loc="upper left")
        fig.autofmt_xdate()
        buf = io.BytesIO()
        fig.savefig(buf, format="png", bbox_inches="tight")
    finally:
        plt.close(fig)
    return buf.getvalue()


def _section(result: BacktestResult) -> str:
    rs = rows(result)
    cols = list(rs[0].keys())
    esc = html.escape
    table = ["<table>", "<tr>" + "".join(f"<th>{esc(c)}</th>" for c in cols) + "</tr>"]
    for r in rs:
        table.append("<tr>" + "".join(f"<td>{esc(r[c])}</td>" for c in cols) + "</tr>")
    table.append("</table>")
    png = base64.b64encode(_chart_png(result)).decode()
    m = result.model
    params = [
        ("fleet", f"{result.fleet} ({result.instances} VMs)"),
        ("window", f"{result.start:%Y-%m-%d %H:%M} → {result.end:%Y-%m-%d %H:%M} UTC"),
        ("snapshots", str(result.steps)),
        ("offers (matching)", f"{result.offers} ({result.matching_offers})"),
        ("price model", m.price_model),
        ("launch lead time", f"{m.lead_time_s // 60} min"),
        ("disruption cost per migration", fmt_usd(micros_to_usd(m.disruption_cost_micros))),
    ]
    notes = "".join(f"<li>{esc(n)}</li>" for n in result.notes)
    return f"""<section>
<h2>Backtest: fleet {esc(result.fleet)}</h2>
<dl>{"".join(f"<dt>{esc(k)}</dt><dd>{esc(v)}</dd>" for k, v in params)}</dl>
<h3>Policies</h3>
{"".join(table)}
<p>Share of the optimum's saving = (static − policy) / (static − optimum).
<em>static</em>: cheapest offers at the start, never moved; <em>greedy</em>: moves whenever
any matching offer is cheaper; <em>optimum</em>: the cheapest schedule knowing the whole
future under the same billing and migration model, with moves started on snapshot
times (a policy starting between snapshots can beat it by a few charges); the
<em>bound</em>{"" if result.bound is None else " (" + esc(fmt_usd(result.bound)) + ")"} is a
lower bound no schedule can beat, and the share of its saving never exceeds 100 %.</p>
<h3>Cumulative cost</h3>
<img alt="cumulative cost per policy" src="data:image/png;base64,{png}">
{"<h3>Notes</h3><ul>" + notes + "</ul>" if notes else ""}
</section>
"""


def render_html(results: BacktestResult | list[BacktestResult]) -> str:
    """One self-contained HTML page (no network needed): per fleet its parameters, the
    policy table, the cumulative-cost chart and notes."""
    if isinstance(results, BacktestResult):
        results = [results]
    sections = "\n".join(_section(r) for r in results)
    return (
        """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<title>Backtest</title>
<style>
body { font-family: system-ui, sans-serif; margin: 2em; color: #222; }
table { border-collapse: collapse; margin: 1em 0; }
th, td { border: 1px solid #ccc; padding: 4px 10px; text-align: right; }
th { background: #f3f3f3; } td:first-child, th:first-child { text-align: left; }
dl { display: grid; grid-template-columns: max-content auto; gap: 2px 1em; }
dt { font-weight: 600; } img { max-width: 100%; }
</style></head><body>
<h1>Backtest</h1>
"""
        + sections
        + "</body></html>\n"
    )
