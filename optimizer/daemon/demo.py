"""`fluence-optimizer demo`: the real daemon against an in-process simulated marketplace.

No account, no key, no setup. The demo builds a `Simulator` (seeded) on a stepped
`SimClock`, and hands the daemon exactly what production hands it - a config, an HTTP
transport, an API key and a clock - through the same `open_daemon` constructor. The
daemon never knows it talks to a simulator. Simulated time only moves when the daemon
sleeps between ticks, so 30 days take about a minute and a seed gives the same run.

Afterwards it writes the HTML report and prints what the fleets cost, what they would
have cost without migrations (the first VMs of each fleet kept at their prices for the
whole period), the saving and the actions taken.
"""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from importlib import resources
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from optimizer.clock import EPOCH_SECONDS, utc
from optimizer.config import Config, parse_config
from optimizer.cycle import TickResult
from optimizer.daemon.loop import LoopOptions
from optimizer.daemon.service import open_daemon
from optimizer.money import fmt_usd, from_micros

DEFAULT_DIR = Path("fluence-demo")


def demo_config(database_url: str) -> Config:
    """The packaged demo configuration (config/demo.toml), pointed at `database_url`."""
    import tomllib

    text = resources.files("optimizer").joinpath("data/demo.toml").read_text("utf-8")
    cfg = parse_config(tomllib.loads(text), "demo.toml")
    cfg.database.url = database_url
    return cfg


@dataclass
class FleetCost:
    fleet: str
    vms_now: int
    actual: Decimal
    without_migrations: Decimal

    @property
    def saving(self) -> Decimal:
        return self.without_migrations - self.actual


@dataclass
class DemoSummary:
    seed: int
    days: float
    start: datetime
    end: datetime
    ticks: int
    wall_seconds: float
    fleets: list[FleetCost]
    actions: Counter[str] = field(default_factory=Counter)
    failures: int = 0
    report: Path | None = None
    report_note: str | None = None
    database: Path | None = None
    log: Path | None = None

    @property
    def actual(self) -> Decimal:
        return sum((f.actual for f in self.fleets), Decimal(0))

    @property
    def without_migrations(self) -> Decimal:
        return sum((f.without_migrations for f in self.fleets), Decimal(0))

    @property
    def saving(self) -> Decimal:
        return self.without_migrations - self.actual


def run_demo(
    *,
    seed: int = 7,
    days: float = 30,
    out: Path | None = None,
    workdir: Path | None = None,
    progress: bool = True,
    console: Console | None = None,
) -> DemoSummary:
    """Run the demo and print its summary; return the summary (tests read it).

    `workdir` (default ./fluence-demo/) receives demo.db, daemon.log and report.html;
    it is emptied of a previous demo's files first, so a seed always gives the same run.
    """
    from optimizer.sim import SimClock, Simulator

    console = console or Console()
    work = (workdir or DEFAULT_DIR).resolve()
    work.mkdir(parents=True, exist_ok=True)
    db = work / "demo.db"
    for stale in (db, work / "demo.db-wal", work / "demo.db-shm", work / "demo.db.lock"):
        stale.unlink(missing_ok=True)
    log_path = work / "daemon.log"
    report_path = (out or work / "report.html").resolve()
    config = demo_config(f"sqlite:///{db}")

    clock = SimClock.stepped()
    sim = Simulator(seed=seed, clock=clock)
    start = clock.now()
    until = start + timedelta(days=days)
    console.print(
        f"[bold]fluence-optimizer demo[/]: {len(config.fleets)} fleets "
        f"({', '.join(f.name for f in config.fleets)}), mode {config.mode}, "
        f"{days:g} simulated days, seed {seed}"
    )
    console.print(f"  working directory: {work}")
    actions: Counter[str] = Counter()
    failures = 0
    t0 = time.monotonic()
    with log_path.open("w", encoding="utf-8") as log_stream:
        bar = Progress(
            TextColumn("[progress.description]{task.description}"),
            BarColumn(),
            TextColumn("day {task.completed:.1f}/{task.total:g}"),
            TextColumn("{task.fields[acts]} actions"),
            TimeElapsedColumn(),
            console=console,
            disable=not progress,
            transient=False,
        )
        with bar:
            task = bar.add_task("simulating", total=days, acts=0)

            def on_tick(result: TickResult) -> None:
                nonlocal failures
                actions.update(result.actions)
                failures += len(result.failures)
                elapsed = (clock.now() - start).total_seconds() / EPOCH_SECONDS
                bar.update(task, completed=min(elapsed, days), acts=sum(actions.values()))

            with open_daemon(
                config,
                clock=clock,
                transport=sim.transport(),
                api_key=sim.api_key,
                log_stream=log_stream,
                log_json=True,
                seed=seed,
                metrics=False,
            ) as daemon:
                daemon.run(LoopOptions(sleep_chunk=None, until=until, on_tick=on_tick))
                ticks = daemon.ticks
                engine = daemon.rt.engine
                end = clock.now()
                fleets = fleet_costs(engine, config, end)
                report, note = _write_report(engine, config, report_path, start, end)
            bar.update(task, completed=days)
    summary = DemoSummary(
        seed=seed,
        days=days,
        start=start,
        end=end,
        ticks=ticks,
        wall_seconds=time.monotonic() - t0,
        fleets=fleets,
        actions=actions,
        failures=failures,
        report=report,
        report_note=note,
        database=db,
        log=log_path,
    )
    print_summary(summary, console)
    return summary


def fleet_costs(engine: sa.Engine, config: Config, end: datetime) -> list[FleetCost]:
    """From the VMs the daemon observed (`GET /vms/v3`, stored each snapshot):

    - actual: what each fleet's VMs were charged (`totalSpent`, last value seen);
    - without migrations: the fleet's first N VMs (N = `instances`) kept at their first
      observed price for the whole period, from when each was first seen until `end`.
    """
    from optimizer.store.tables.market import VmObservation, VmRecord

    vm_t, obs_t = VmRecord.__table__, VmObservation.__table__
    q = (
        sa.select(
            vm_t.c.vm_id,
            vm_t.c.name,
            vm_t.c.first_seen,
            obs_t.c.status,
            obs_t.c.price_micros,
            obs_t.c.spent_micros,
            obs_t.c.from_at,
        )
        .join(obs_t, obs_t.c.vm_ref == vm_t.c.id)
        .order_by(vm_t.c.first_seen, vm_t.c.vm_id, obs_t.c.from_at)
    )
    with engine.connect() as conn:
        rows = conn.execute(q).all()
    per_vm: dict[str, dict[str, Any]] = {}
    for r in rows:
        vm = per_vm.setdefault(
            r.vm_id,
            {"name": r.name, "first_seen": utc(r.first_seen), "price": None, "spent": 0,
             "status": r.status},
        )  # fmt: skip
        if vm["price"] is None and r.price_micros:
            vm["price"] = r.price_micros
        vm["spent"] = max(vm["spent"], r.spent_micros or 0)
        vm["status"] = r.status
    out = []
    for fleet in config.fleets:
        mine = [v for v in per_vm.values() if v["name"].startswith(f"{fleet.name}-")]
        actual = sum((from_micros(v["spent"]) for v in mine), Decimal(0))
        n = fleet.instances or len(mine)
        baseline = Decimal(0)
        for v in [v for v in mine if v["price"]][:n]:
            epochs = Decimal((end - v["first_seen"]).total_seconds()) / EPOCH_SECONDS
            # charged one epoch up front, then once per started epoch
            baseline += from_micros(v["price"]) * max(Decimal(1), _ceil(epochs))
        running = sum(1 for v in mine if v["status"] not in ("Terminated", "Stopped"))
        out.append(FleetCost(fleet.name, running, actual, baseline))
    return out


def _ceil(d: Decimal) -> Decimal:
    return d.to_integral_value(rounding="ROUND_CEILING")


def _write_report(
    engine: sa.Engine, config: Config, path: Path, start: datetime, end: datetime
) -> tuple[Path | None, str | None]:
    """Write the HTML report with optimizer.report; (None, why) when it is not available."""
    try:
        from optimizer.report import write_html_report  # type: ignore[attr-defined]
    except ImportError:
        return None, "the HTML report module (optimizer.report) is not part of this build"
    write_html_report(engine, path, config=config, since=start, until=end)
    return path, None


def print_summary(s: DemoSummary, console: Console) -> None:
    t = Table(title=f"{s.days:g} simulated days, seed {s.seed}", show_edge=False)
    for col in ("fleet", "VMs now", "cost", "without migrations", "saving"):
        t.add_column(col, justify="left" if col == "fleet" else "right")
    for f in s.fleets:
        t.add_row(f.fleet, str(f.vms_now), fmt_usd(f.actual), fmt_usd(f.without_migrations),
                  _saving(f.saving, f.without_migrations))  # fmt: skip
    t.add_row("[bold]total", "", fmt_usd(s.actual), fmt_usd(s.without_migrations),
              _saving(s.saving, s.without_migrations), style="bold")  # fmt: skip
    console.print(t)
    acts = ", ".join(f"{k} {v}" for k, v in sorted(s.actions.items())) or "none"
    console.print(f"actions taken: {acts}")
    console.print(
        f"{s.ticks} daemon ticks in {s.wall_seconds:.1f} s wall"
        + (f"; {s.failures} stage failures (see the log)" if s.failures else "")
    )
    if s.report is not None:
        console.print(f"report: {s.report}")
    else:
        console.print(f"report: not written ({s.report_note})")
    console.print(f"database: {s.database}\nlog: {s.log}")


def _saving(saving: Decimal, base: Decimal) -> str:
    pct = f" ({saving / base * 100:.1f}%)" if base > 0 else ""
    return f"{fmt_usd(saving)}{pct}"


__all__ = ["DemoSummary", "FleetCost", "demo_config", "run_demo"]
