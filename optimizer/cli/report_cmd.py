"""CLI command: `report` — price-history report from the snapshot store.

    fluence-optimizer report [--since 30d] [--format html|md|csv|json] [--out FILE]
                             [--configuration SLUG] [--country CC]

HTML and Markdown go to a file (default ./fluence-report-YYYYMMDD.html|md) and the path
is printed; CSV and JSON go to stdout unless --out is given. Less than two epochs of
history gives an hourly report with a note; an empty window gives one line naming what
the store holds and the --since that reaches it (exit 1). A progress bar is shown on a
terminal.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from enum import StrEnum
from pathlib import Path
from typing import Any

import typer

from optimizer.cli.context import AppContext
from optimizer.clock import SystemClock
from optimizer.countries import country_problem
from optimizer.errors import ConfigError, OptimizerError
from optimizer.private_files import write_private_text

MIN_EPOCHS = 2


class Format(StrEnum):
    html = "html"
    md = "md"
    csv = "csv"
    json = "json"


class NotEnoughHistory(OptimizerError):
    """The store has too little price history in the window for a report (exit 1)."""


@contextmanager
def _progress(enabled: bool) -> Iterator[Callable[[str], None]]:
    """A step reporter: a rich progress bar on a terminal (stderr), silent otherwise."""
    if not enabled:
        yield lambda _step: None
        return
    from rich.console import Console
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    steps = 11  # load, analyze, 8 report sections, write
    with Progress(
        TextColumn("{task.description:<14}"),
        BarColumn(),
        TimeElapsedColumn(),
        transient=True,
        console=Console(stderr=True),
        redirect_stdout=False,
        redirect_stderr=False,
    ) as bar:
        task = bar.add_task("report", total=steps)

        def step(name: str) -> None:
            bar.update(task, advance=1, description=name)

        yield step
        bar.update(task, completed=steps)


def build_report(
    engine: object,
    *,
    now: datetime,
    since: str,
    fmt: Format,
    configuration: str | None = None,
    country: str | None = None,
    progress: Callable[[str], None] | None = None,
) -> str:
    """Load, analyze and render; return the report text. With fewer than MIN_EPOCHS
    epochs of data in the window the report is made per hour, with a note saying so.
    Raise NotEnoughHistory when the window holds nothing (naming what the store holds and
    the --since that reaches it), ConfigError on a bad --since."""
    from optimizer.analysis import analyze_history
    from optimizer.config import parse_duration
    from optimizer.store.analysis_queries import market_history
    from optimizer.store.queries import price_units

    step = progress or (lambda _s: None)
    try:
        span = parse_duration(since)
    except ValueError as err:
        raise ConfigError(f"--since: {err}") from None
    if span.total_seconds() <= 0:
        raise ConfigError("--since: must be a positive duration such as 30d")
    step("loading")
    history = market_history(
        engine,  # type: ignore[arg-type]
        now - span,
        now,
        configuration=configuration,
        country=country,
    )
    what = " and ".join(
        f"{k} {v!r}" for k, v in (("configuration", configuration), ("country", country)) if v
    )
    scope = f" for {what}" if what else ""
    note = ""
    if history.empty:
        raise NotEnoughHistory(_empty_window_message(engine, now, since, scope))
    units = price_units(engine, now - span, now)  # type: ignore[arg-type]
    if history.observed_epochs < MIN_EPOCHS:
        # too little for per-epoch statistics: the same report per hour, and it says so
        from optimizer.analysis import analyze
        from optimizer.report.charts import price_axis
        from optimizer.store.queries import price_observations

        obs = price_observations(
            engine,  # type: ignore[arg-type]
            now - span,
            now,
            configuration=configuration,
            country=country,
        )
        if obs.empty:  # only rolled-up epochs in the window: nothing finer to show
            raise NotEnoughHistory(
                f"only {history.observed_epochs} epoch of price history in the last "
                f"{since}{scope}; a report needs at least {MIN_EPOCHS} (24 h each)"
            )
        first = obs["ts"].min().floor("h").to_pydatetime()
        step("analyzing")
        analysis = analyze(obs, since=first, until=now, length=timedelta(hours=1))
        note = (
            f"Short history: the store holds less than {MIN_EPOCHS} epochs (24 h each) of "
            f"prices{scope} since {first:%Y-%m-%d %H:%M} UTC, so every statistic here is per "
            "hour, not per epoch; trends and movers need a few days. Prices are still "
            f"{price_axis(units)}."
        )
    else:
        step("analyzing")
        analysis = analyze_history(history, now=now)
    return _render(
        engine, analysis, history.span, now, fmt, configuration, country, step, note, units
    )


def _render(
    engine: object,
    analysis: Any,
    span: Any,
    now: datetime,
    fmt: Format,
    configuration: str | None,
    country: str | None,
    step: Callable[[str], None],
    note: str,
    units: frozenset[str],
) -> str:
    from optimizer.report import render_html, render_markdown, to_csv, to_json
    from optimizer.store.analysis_queries import fleet_frames
    from optimizer.store.outlook import fleet_outlook

    filters = {"configuration": configuration or "", "country": country or ""}
    if fmt in (Format.html, Format.md):
        spend, saved = fleet_frames(engine, span, now)  # type: ignore[arg-type]
        outlook = fleet_outlook(engine)  # type: ignore[arg-type]
        if fmt is Format.html:
            return render_html(
                analysis,
                generated_at=now,
                filters=filters,
                fleet_spend=spend,
                savings=saved,
                outlook=outlook,
                progress=step,
                note=note,
                price_units=units,
            )
        return render_markdown(
            analysis,
            generated_at=now,
            filters=filters,
            fleet_spend=spend,
            savings=saved,
            outlook=outlook,
            note=note,
            price_units=units,
        )
    if note:  # csv/json carry no prose: say it where a person sees it
        typer.echo(f"note: {note}", err=True)
    if fmt is Format.csv:
        return to_csv(analysis)
    return to_json(analysis, generated_at=now)


def _empty_window_message(engine: object, now: datetime, since: str, scope: str) -> str:
    """Nothing in the window: say what the store holds and how to reach it."""
    from optimizer.store.queries import snapshot_span

    first, last, n = snapshot_span(engine)  # type: ignore[arg-type]
    if first is None or last is None:
        return (
            f"no price history in the last {since}{scope}: the store holds no snapshots; "
            "record some first (`fluence-optimizer snapshot` or the daemon)"
        )
    days = max(1, math.ceil((now - first).total_seconds() / 86400))
    held = (
        f"the store holds {n} snapshot(s) from {first:%Y-%m-%d %H:%M} to {last:%Y-%m-%d %H:%M} UTC"
    )
    from optimizer.config import parse_duration

    if now - first <= parse_duration(since):  # the window covers them: the filter does not
        return f"no price history in the last {since}{scope}; {held} (check the filters)"
    return f"no price history in the last {since}{scope}; {held}: use --since {days}d"


def report(
    ctx: typer.Context,
    since: str = typer.Option("30d", "--since", help="How far back: 30d, 12h, 365d ..."),
    fmt: Format = typer.Option(Format.html, "--format", "-f", help="html, md, csv or json."),
    out: Path | None = typer.Option(
        None,
        "--out",
        "-o",
        help="Output file. Default: ./fluence-report-YYYYMMDD.html|md; csv/json to stdout.",
    ),
    configuration: str | None = typer.Option(
        None, "--configuration", help="Only this configuration slug."
    ),
    country: str | None = typer.Option(
        None, "--country", metavar="CC", help="Only this country code."
    ),
) -> None:
    """Price-history report: price bands, cheapest countries/datacenters, price per vCPU,
    movers, trends, capacity, offer longevity."""
    app: AppContext = ctx.obj
    now = SystemClock().now()
    if country is not None:
        if problem := country_problem(country):
            raise ConfigError(f"--country: {problem}")
        country = country.strip().upper()
    if out is None and fmt in (Format.html, Format.md):
        out = Path(f"fluence-report-{now:%Y%m%d}.{fmt.value}")
    engine = app.engine()
    try:
        with _progress(sys.stderr.isatty()) as step:
            text = build_report(
                engine,
                now=now,
                since=since,
                fmt=fmt,
                configuration=configuration,
                country=country,
                progress=step,
            )
            step("writing")
            if out is not None:
                try:
                    write_private_text(out, text)
                except OSError as err:
                    raise OptimizerError(f"{out}: cannot write report: {err.strerror}") from None
    finally:
        engine.dispose()
    if out is None:
        sys.stdout.write(text)
    else:
        typer.echo(str(out))


def register(app: typer.Typer) -> None:
    """Add this group's commands to the main app."""
    app.command("report")(report)
