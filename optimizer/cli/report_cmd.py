"""CLI command: `report` — price-history report from the snapshot store.

    fluence-optimizer report [--since 30d] [--format html|md|csv|json] [--out FILE]
                             [--configuration SLUG] [--country CC]

HTML and Markdown go to a file (default ./fluence-report-YYYYMMDD.html|md) and the path
is printed; CSV and JSON go to stdout unless --out is given. A store without enough
history gives one friendly line and exit code 1. A progress bar is shown on a terminal.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from enum import StrEnum
from pathlib import Path

import typer

from optimizer.cli.context import AppContext
from optimizer.clock import SystemClock
from optimizer.countries import country_problem
from optimizer.errors import ConfigError, OptimizerError

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
    """Load, analyze and render; return the report text. Raise NotEnoughHistory when the
    window holds fewer than MIN_EPOCHS epochs with data, ConfigError on a bad --since."""
    from optimizer.analysis import analyze_history
    from optimizer.config import parse_duration
    from optimizer.report import render_html, render_markdown, to_csv, to_json
    from optimizer.store.analysis_queries import fleet_frames, market_history
    from optimizer.store.outlook import fleet_outlook

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
    if history.empty:
        raise NotEnoughHistory(
            f"no price history in the last {since}{scope}: record snapshots first "
            "(`fluence-optimizer snapshot` or the daemon), then run the report again"
        )
    if history.observed_epochs < MIN_EPOCHS:
        raise NotEnoughHistory(
            f"only {history.observed_epochs} epoch of price history in the last {since}{scope}; "
            f"a report needs at least {MIN_EPOCHS} (24 h each) — try again later"
        )
    step("analyzing")
    analysis = analyze_history(history, now=now)
    filters = {"configuration": configuration or "", "country": country or ""}
    if fmt in (Format.html, Format.md):
        spend, saved = fleet_frames(engine, history.span, now)  # type: ignore[arg-type]
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
            )
        return render_markdown(
            analysis,
            generated_at=now,
            filters=filters,
            fleet_spend=spend,
            savings=saved,
            outlook=outlook,
        )
    if fmt is Format.csv:
        return to_csv(analysis)
    return to_json(analysis, generated_at=now)


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
    country: str | None = typer.Option(None, "--country", help="Only this country code."),
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
                    out.write_text(text, encoding="utf-8")
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
