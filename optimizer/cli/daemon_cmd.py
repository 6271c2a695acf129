"""CLI commands: `once`, `run` (the daemon) and `demo` (the whole thing on a simulator)."""

from __future__ import annotations

from collections.abc import Callable
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from optimizer.cli.context import (
    AppContext,
    check_log_format,
    check_log_level,
    refuse_foreign_sqlite,
)
from optimizer.errors import DegradedRun, OptimizerError

if TYPE_CHECKING:
    from optimizer.config import Config


def _logging(obj: AppContext, level: str | None, fmt: str | None) -> tuple[str, bool | None]:
    """(level, json) for the daemon: the command's own option, else the global one, else
    info / auto (JSON lines unless stderr is a terminal)."""
    level = check_log_level(level) if level else (obj.log_level or "info")
    fmt = check_log_format(fmt) if fmt else (obj.log_format or "auto")
    return level, None if fmt == "auto" else fmt == "json"


class DemoApi(StrEnum):
    """The simulator faces `demo --api` offers (optimizer.daemon.demo.APIS)."""

    marketplace_v3 = "marketplace-v3"
    cloud = "cloud"


_LEVEL_HELP = "Same as the global --log-level (kept here for existing scripts)."
_FORMAT_HELP = "Same as the global --log-format (kept here for existing scripts)."


def _reloader(obj: AppContext) -> Callable[[], Config]:
    def reload() -> Config:
        fresh = AppContext(
            config_path=obj.config_path, api_url=obj.api_url, database_url=obj.database_url
        )
        return fresh.config()

    return reload


def register(app: typer.Typer) -> None:
    """Add this group's commands to the main app."""

    @app.command("once")
    def once(
        ctx: typer.Context,
        log_level: str | None = typer.Option(
            None, "--log-level", metavar="LEVEL", help=_LEVEL_HELP
        ),
        log_format: str | None = typer.Option(
            None, "--log-format", metavar="FORMAT", help=_FORMAT_HELP
        ),
    ) -> None:
        """Run one cycle (snapshot → analyze → plan → execute → alerts) and exit.

        For a systemd timer or cron. Exits 0 when every stage succeeded, otherwise with
        the exit code of the first failure (4 = API unavailable, 5 = database, ...), or 6
        when the tick ran but was degraded (e.g. actions the API refused).
        """
        from optimizer.daemon.service import open_daemon

        obj: AppContext = ctx.obj
        level, as_json = _logging(obj, log_level, log_format)
        refuse_foreign_sqlite(obj.config().database.url)
        with open_daemon(
            obj.config(),
            reload=_reloader(obj),
            log_json=as_json,
            log_level=level,
        ) as daemon:
            result = daemon.once()
        if result.failures:
            err = result.failures[0].error
            raise typer.Exit(err.exit_code if isinstance(err, OptimizerError) else 1)
        if result.degraded:  # e.g. actions the API refused: the tick line says which
            raise typer.Exit(DegradedRun.exit_code)

    @app.command("run")
    def run(
        ctx: typer.Context,
        log_level: str | None = typer.Option(
            None, "--log-level", metavar="LEVEL", help=_LEVEL_HELP
        ),
        log_format: str | None = typer.Option(
            None, "--log-format", metavar="FORMAT", help=_FORMAT_HELP
        ),
    ) -> None:
        """Run the daemon: a cycle at start, then every snapshot/plan interval (with jitter).

        SIGTERM/SIGINT finish the current step and exit 0; SIGHUP reloads the config
        (an invalid one is logged and the old one kept). Under systemd (Type=notify) it
        reports READY/STATUS/WATCHDOG. Only one daemon may run per database.
        """
        from optimizer.daemon.service import open_daemon

        obj: AppContext = ctx.obj
        level, as_json = _logging(obj, log_level, log_format)
        refuse_foreign_sqlite(obj.config().database.url)
        with open_daemon(
            obj.config(),
            reload=_reloader(obj),
            log_json=as_json,
            log_level=level,
        ) as daemon:
            code = daemon.run()
        raise typer.Exit(code)

    @app.command("demo")
    def demo(
        seed: int = typer.Option(7, "--seed", help="Simulator seed: same seed, same run."),
        days: float | None = typer.Option(
            None,
            "--days",
            min=0.1,
            max=365,
            help="Simulated days (default 30; 7 with --api cloud, whose daemon ticks hourly).",
        ),
        out: Path | None = typer.Option(
            None, "--out", help="HTML report path (default: ./fluence-demo/report.html)."
        ),
        workdir: Path | None = typer.Option(
            None,
            "--dir",
            help="Where the demo database, log and report go (default: ./fluence-demo/).",
        ),
        progress: bool = typer.Option(True, "--progress/--no-progress", help="Progress bar."),
        api: DemoApi = typer.Option(
            "marketplace-v3",
            "--api",
            help="Which API generation the simulator speaks: marketplace-v3 (the seeds' "
            "API, config/demo.toml) or cloud (clusters, hourly prices billed per second, "
            "disks and IPs that outlive their VM; config/demo-cloud.toml).",
        ),
    ) -> None:
        """Run the real daemon against a simulated marketplace: no account, no key, no setup.

        Uses config/demo.toml (act mode, small fleets; config/demo-cloud.toml with `--api
        cloud`), a stepped simulated clock and an in-process simulator, then writes the
        HTML report and prints what the fleets cost, what they would have cost without
        migrations, and the saving; on the cloud generation also the disks and IPs left
        behind.
        """
        from optimizer.daemon.demo import run_demo

        run_demo(seed=seed, days=days, out=out, workdir=workdir, progress=progress,
                 api=api.value)  # fmt: skip
