"""The command line: the only place that turns an OptimizerError into one line and an
exit code (0 ok, 1 other, 2 usage/config, 3 auth, 4 API unavailable, 5 database).

Each command group lives in its own module with a `register(app)` function; this module
only wires them together and owns the global options.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING

import typer
from typer.core import TyperGroup

from optimizer import __version__
from optimizer.cli import (
    alerts_cmd,
    backtest_cmd,
    budget_cmd,
    daemon_cmd,
    db_cmd,
    fleets_cmd,
    leader_cmd,
    market_cmd,
    report_cmd,
    sim_cmd,
    snapshot_cmd,
    ssh_keys_cmd,
    vms_cmd,
)
from optimizer.cli.context import (
    AppContext,
    check_log_format,
    check_log_level,
    database_url,
)
from optimizer.cli.lean_imports import structlog_without_rich
from optimizer.errors import OptimizerError

if TYPE_CHECKING:
    # the click that typer runs on (vendored since typer 0.2x; `click` itself may be absent)
    from typer._click import Context, HelpFormatter


class _Group(TyperGroup):
    """Lists each command with its whole first sentence, wrapped, instead of cutting it
    at the terminal width with "..." (click's default cut help lines mid-sentence)."""

    def format_commands(self, ctx: Context, formatter: HelpFormatter) -> None:
        rows = []
        for name in self.list_commands(ctx):
            cmd = self.get_command(ctx, name)
            if cmd is not None and not cmd.hidden:
                rows.append((name, cmd.get_short_help_str(limit=1_000)))
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)


app = typer.Typer(
    name="fluence-optimizer",
    cls=_Group,
    help="Keep VM fleets on the cheapest Fluence CPU Cloud offers that satisfy their constraints.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    # plain (click) help: typer's rich help renderer imports rich.markdown and more, which
    # alone would more than double the start-up time of `--help` (target: 0.3 s)
    rich_markup_mode=None,
    # --install-completion / --show-completion for bash, zsh, fish and PowerShell
    add_completion=True,
    context_settings={"help_option_names": ["-h", "--help"]},
)

GROUPS = (
    market_cmd,
    vms_cmd,
    ssh_keys_cmd,
    sim_cmd,
    snapshot_cmd,
    db_cmd,
    report_cmd,
    fleets_cmd,
    daemon_cmd,
    budget_cmd,
    alerts_cmd,
    backtest_cmd,
    leader_cmd,
)
for _group in GROUPS:
    _group.register(app)
for _info in app.registered_groups:  # each group renders its own help: plain too
    if _info.typer_instance is not None:
        _info.typer_instance.rich_markup_mode = None
        _info.typer_instance.info.cls = _Group


def _version(value: bool) -> None:
    if value:
        typer.echo(f"fluence-optimizer {__version__}")
        raise typer.Exit()


@app.callback()
def _global(
    ctx: typer.Context,
    config: Path | None = typer.Option(
        None,
        "--config",
        "-c",
        help="Configuration file (TOML). Default: $FLUENCE_OPTIMIZER_CONFIG, "
        "$CONFIGURATION_DIRECTORY/optimizer.toml, or /etc/fluence-optimizer/optimizer.toml.",
        envvar="FLUENCE_OPTIMIZER_CONFIG",
    ),
    api_url: str | None = typer.Option(
        None, "--api-url", help="Fluence API base URL (overrides api.base_url)."
    ),
    database: str | None = typer.Option(
        None,
        "--database",
        metavar="URL|PATH",
        help="Database (overrides database.url): an SQLAlchemy URL such as "
        "sqlite:////var/lib/fluence-optimizer/optimizer.db, or a plain SQLite file path.",
    ),
    log_level: str | None = typer.Option(
        None,
        "--log-level",
        metavar="LEVEL",
        help="debug, info, warning or error (default: info for once/run, warning otherwise).",
    ),
    log_format: str | None = typer.Option(
        None,
        "--log-format",
        metavar="FORMAT",
        help="auto, json or console (default auto: JSON unless stderr is a terminal).",
    ),
    api_generation: str | None = typer.Option(
        None,
        "--api-generation",
        help="API generation: auto (ask the server once), marketplace-v3 or cloud "
        "(overrides api.generation).",
    ),
    verbose: bool = typer.Option(
        False,
        "--verbose",
        "-v",
        help="Same as --log-level info: e.g. which API generation is used.",
    ),
    version: bool = typer.Option(
        False, "--version", "-V", callback=_version, is_eager=True, help="Print the version."
    ),
) -> None:
    if api_generation is not None:
        from optimizer.config import API_GENERATIONS

        if api_generation not in ("auto", *API_GENERATIONS):
            raise typer.BadParameter(
                f"{api_generation!r} is not one of auto, {', '.join(API_GENERATIONS)}",
                param_hint="--api-generation",
            )
    ctx.obj = AppContext(
        config_path=config,
        api_url=api_url,
        database_url=database_url(database) if database else None,
        log_level=check_log_level(log_level) if log_level else ("info" if verbose else None),
        log_format=check_log_format(log_format) if log_format else None,
        api_generation=api_generation,
    )
    ctx.call_on_close(ctx.obj.close)


def main(argv: list[str] | None = None) -> None:
    """Console-script entry point."""
    structlog_without_rich()
    try:
        # standalone mode: typer prints usage errors itself and exits 2
        app(args=argv, prog_name="fluence-optimizer")
    except OptimizerError as err:
        _fail(str(err), err.exit_code)
    except KeyboardInterrupt:
        _fail("interrupted", 130)
    except BrokenPipeError:
        sys.exit(0)


def _fail(message: str, code: int) -> None:
    for line in message.splitlines() or ["failed"]:
        print(f"error: {line}", file=sys.stderr)  # noqa: T201 — the one place that prints errors
    sys.exit(code)
