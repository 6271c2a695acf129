"""`fluence-optimizer demo`: the real daemon against an in-process simulated marketplace.

No account, no key, no setup. The demo builds a `Simulator` (seeded) on a stepped
`SimClock`, and hands the daemon exactly what production hands it - a config, an HTTP
transport, an API key and a clock - through the same `open_daemon` constructor. The
daemon never knows it talks to a simulator. Simulated time only moves when the daemon
sleeps between ticks, so 30 days take about a minute and a seed gives the same run.

Afterwards it writes the HTML report and prints what the fleets cost, what they would
have cost without migrations, the saving and the actions taken. "Without migrations" is
measured, not estimated: the same seed is run a second time with the same daemon and
`max_migrations_per_epoch = 0` for every fleet, so the market and its price moves are
the same and the fleets are deployed and kept whole the same way; only the moves to
cheaper offers are missing. (Provider terminations are drawn per VM, so a fleet that
moved can meet more or fewer of them than its counterfactual.)

`--api cloud` runs the same on the simulator's cloud face (optimizer.daemon.demo_cloud):
config/demo-cloud.toml, clusters with hourly prices billed per second, promotions and
capacity that comes and goes; the cost is the simulator's per-second billing of the
fleets' VMs, boot disks and public IPs, and the summary counts the disks and IPs the
daemon created that are left billing without their VM (it must be 0).
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from importlib import resources
from pathlib import Path
from typing import Any, TypeVar

import sqlalchemy as sa
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from optimizer.clock import EPOCH_SECONDS
from optimizer.config import Config, parse_config, parse_toml
from optimizer.cycle import TickResult
from optimizer.daemon.loop import LoopOptions
from optimizer.daemon.service import open_daemon
from optimizer.errors import OptimizerError
from optimizer.fluence.status import is_ended
from optimizer.money import fmt_usd, from_micros
from optimizer.private_files import make_private_dir, open_private, write_private_text
from optimizer.store.tables import table_of

DEFAULT_DIR = Path("fluence-demo")
T = TypeVar("T")
#: the simulator faces the demo runs on (`--api`), and the packaged configuration of each
APIS = ("marketplace-v3", "cloud")
CONFIG_FILES = {"marketplace-v3": "demo.toml", "cloud": "demo-cloud.toml"}
#: simulated days when none are asked: the cloud demo ticks hourly (a move bills both VMs
#: per second until the next tick), so a day costs it 8 times the ticks of a v3 day
DEFAULT_DAYS = {"marketplace-v3": 30.0, "cloud": 7.0}


def demo_config(database_url: str, api: str = "marketplace-v3") -> Config:
    """The packaged demo configuration of `api` (config/demo.toml, config/demo-cloud.toml),
    pointed at `database_url`."""
    name = CONFIG_FILES[api]
    text = resources.files("optimizer").joinpath(f"data/{name}").read_text("utf-8")
    cfg = parse_config(parse_toml(text, name), name)
    cfg.database.url = database_url
    return cfg


@dataclass
class FleetCost:
    fleet: str
    vms_now: int
    actual: Decimal
    without_migrations: Decimal
    migrations: int = 0
    realized: Decimal = Decimal(0)  # executor's savings ledger: (old - new) x epochs since
    terminations: int = 0

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
    baseline_database: Path | None = None  # the run without migrations
    api: str = "marketplace-v3"
    #: cloud: disks and public IPs the daemon created, still billing without their VM
    #: once the reaper's grace has passed after the run (None: the face has none)
    left_behind: list[str] | None = None
    drained: timedelta = timedelta(0)  # how long the daemon ran on before they were counted

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
    days: float | None = None,
    out: Path | None = None,
    workdir: Path | None = None,
    progress: bool = True,
    console: Console | None = None,
    api: str = "marketplace-v3",
) -> DemoSummary:
    """Run the demo on the simulator's `api` face and print its summary; return the
    summary (tests read it).

    `workdir` (default ./fluence-demo/) receives demo.db, daemon.log and report.html;
    it is emptied of a previous demo's files first, so a seed always gives the same run.
    The directory is created 0700, the files 0600, and none is written through a
    symbolic link planted in its place. Raise OptimizerError when they can't be written.
    """
    if api not in APIS:
        raise OptimizerError(f"--api: {api!r} is not one of {', '.join(APIS)}")
    face = _face(api)
    days = DEFAULT_DAYS[api] if days is None else days
    console = console or Console()
    work = (workdir or DEFAULT_DIR).resolve()
    try:
        make_private_dir(work)
    except OSError as err:
        raise OptimizerError(f"{work}: cannot create the demo directory: {err.strerror}") from None
    db, base_db = work / "demo.db", work / "baseline.db"
    for name in (db, base_db):
        for suffix in ("", "-wal", "-shm", ".lock"):
            Path(f"{name}{suffix}").unlink(missing_ok=True)
    log_path = work / "daemon.log"
    report_path = (out or work / "report.html").absolute()  # not resolve(): no link followed
    config = demo_config(f"sqlite:///{db}", api)
    on = "" if api == APIS[0] else f", API {api}"
    console.print(f"[bold]fluence-optimizer demo[/]: {days:g} simulated days, seed {seed}{on}")
    console.print(
        f"  fleets: {', '.join(f.name for f in config.fleets)} (mode {config.mode}, default policy)"
    )
    console.print(f"  working directory: {work}")
    failures = acts = 0
    t0 = time.monotonic()
    bar = Progress(
        TextColumn("[progress.description]{task.description}"),
        BarColumn(),
        TextColumn("day {task.completed:.1f}/{task.total:g}"),
        TextColumn("{task.fields[acts]} actions done"),
        TimeElapsedColumn(),
        console=console,
        disable=not progress,
        transient=False,
    )
    with bar:
        task = bar.add_task("simulating", total=days, acts=0)

        def on_tick(result: TickResult, elapsed_days: float) -> None:
            nonlocal failures, acts
            failures += len(result.failures)
            acts += sum(n for k, n in result.actions.items() if k.endswith(":done"))
            bar.update(task, completed=min(elapsed_days, days), acts=acts)

        def finish(daemon: Any, sim: Any, start: datetime, end: datetime) -> Any:
            engine = daemon.rt.engine
            fleets = face.costs(sim, engine, config)
            _add_ledger(engine, fleets, end)
            report = _write_report(engine, config, report_path, start, end)
            return daemon.ticks, start, end, fleets, journal_actions(engine), report

        (ticks, start, end, fleets, actions, (report, note)), left = _simulate(
            config, seed, days, log_path, on_tick, finish, face
        )
        bar.update(task, completed=days)
        ticks_wall = time.monotonic() - t0

        base_task = bar.add_task("without migrations", total=days, acts="-")
        baseline = without_migrations(config, f"sqlite:///{base_db}")
        base_costs, _ = _simulate(
            baseline,
            seed,
            days,
            work / "baseline.log",
            lambda _r, d: bar.update(base_task, completed=min(d, days)),
            lambda daemon, sim, _s, _e: face.costs(sim, daemon.rt.engine, baseline),
            face,
            drain=False,
        )
        bar.update(base_task, completed=days)
    by_fleet = {c.fleet: c.actual for c in base_costs}
    for f in fleets:
        f.without_migrations = by_fleet.get(f.fleet, Decimal(0))
    summary = DemoSummary(
        seed=seed,
        days=days,
        start=start,
        end=end,
        ticks=ticks,
        wall_seconds=ticks_wall,
        fleets=fleets,
        actions=actions,
        failures=failures,
        report=report,
        report_note=note,
        database=db,
        log=log_path,
        baseline_database=base_db,
        api=api,
        left_behind=left,
        drained=face.drain,
    )
    print_summary(summary, console)
    return summary


def without_migrations(config: Config, database_url: str | None) -> Config:
    """`config` with migrations switched off for every fleet (and its own database): the
    counterfactual run the demo's saving is measured against."""
    cfg = config.model_copy(deep=True)
    cfg.database.url = database_url
    for fleet in cfg.fleets:
        fleet.policy.max_migrations_per_epoch = 0
    return cfg


@dataclass(frozen=True)
class Face:
    """What differs between the simulator's two faces, for the demo (not the daemon)."""

    api: str
    #: keyword arguments of the Simulator (the cloud face's market moves)
    sim_options: Callable[[], dict[str, Any]]
    #: per fleet, what it cost over the run (`without_migrations` left at 0)
    costs: Callable[[Any, sa.Engine, Config], list[FleetCost]]
    #: cloud: the daemon's disks and IPs still billing without their VM (after the drain)
    left_behind: Callable[[Any], list[str]] | None = None
    #: how long the daemon runs on after the run (migrations off) so that the reaper's
    #: grace passes for the last migration's disk and IP
    drain: timedelta = timedelta(0)


def _face(api: str) -> Face:
    if api == "cloud":  # the simulator's face, chosen by the demo; the daemon is not told
        from optimizer.daemon import demo_cloud

        return Face(
            api,
            demo_cloud.sim_options,
            lambda sim, _engine, config: demo_cloud.fleet_costs(sim, config),
            demo_cloud.left_behind,
            demo_cloud.DRAIN,
        )
    return Face(api, dict, lambda _sim, engine, config: fleet_costs(engine, config))


def _simulate(
    config: Config,
    seed: int,
    days: float,
    log_path: Path,
    on_tick: Callable[[TickResult, float], None],
    finish: Callable[[Any, Any, datetime, datetime], T],
    face: Face,
    *,
    drain: bool = True,
) -> tuple[T, list[str] | None]:
    """Run the real daemon on `config` against a fresh simulator of `seed` (its `face`) for
    `days` simulated days (stepped clock); `on_tick(result, elapsed days)` after every
    tick; `finish(daemon, sim, start, end)` is called before the daemon closes its store.

    With `drain` and a face that has disks and IPs, the daemon then runs on for
    `face.drain` with migrations off (the fleets stay as they are; the reaper deletes what
    the last moves left) and the second value is what is still left behind after that."""
    from optimizer.sim import SimClock, Simulator

    clock = SimClock.stepped()
    sim = Simulator(seed=seed, clock=clock, **face.sim_options())
    start = clock.now()

    def tick(result: TickResult) -> None:
        on_tick(result, (clock.now() - start).total_seconds() / EPOCH_SECONDS)

    def run(cfg: Config, *, append: bool) -> Any:
        try:
            log_file = open_private(log_path, append=append)
        except OSError as err:
            raise OptimizerError(f"{log_path}: cannot write the log: {err.strerror}") from None
        return log_file, open_daemon(
            cfg, clock=clock, transport=sim.transport(api=face.api), api_key=sim.api_key,
            log_stream=log_file, log_json=True, seed=seed, metrics=False,
        )  # fmt: skip

    until = start + timedelta(days=days)
    log_file, opened = run(config, append=False)
    with log_file, opened as daemon:
        daemon.run(LoopOptions(sleep_chunk=None, until=until, on_tick=tick))
        result = finish(daemon, sim, start, clock.now())
    if not drain or face.left_behind is None:
        return result, None
    log_file, opened = run(without_migrations(config, config.database.url), append=True)
    with log_file, opened as daemon:
        daemon.run(LoopOptions(sleep_chunk=None, until=clock.now() + face.drain))
    return result, face.left_behind(sim)


def fleet_costs(engine: sa.Engine, config: Config) -> list[FleetCost]:
    """Per fleet, what its VMs were charged (`totalSpent`, the last value the daemon
    observed in `GET /vms/v3`) and how many run now; `without_migrations` is left at 0
    for the caller (the demo fills it from its counterfactual run)."""
    from optimizer.store.tables.market import vm_observation_table as obs_t
    from optimizer.store.tables.market import vm_table as vm_t

    q = (
        sa.select(vm_t.c.vm_id, vm_t.c.name, vm_t.c.last_seen, obs_t.c.status,
                  obs_t.c.spent_micros)
        .join(obs_t, obs_t.c.vm_ref == vm_t.c.id)
        .order_by(vm_t.c.first_seen, vm_t.c.vm_id, obs_t.c.from_at)
    )  # fmt: skip
    with engine.connect() as conn:
        rows = conn.execute(q).all()
        latest = conn.execute(sa.select(sa.func.max(vm_t.c.last_seen))).scalar()
    per_vm: dict[str, dict[str, Any]] = {}
    for r in rows:
        vm = per_vm.setdefault(r.vm_id, {"name": r.name, "spent": 0})
        vm["spent"] = max(vm["spent"], r.spent_micros or 0)
        vm["up"] = r.last_seen == latest and not is_ended(r.status)
    out = []
    for fleet in config.fleets:
        mine = [v for v in per_vm.values() if v["name"].startswith(f"{fleet.name}-")]
        actual = sum((from_micros(v["spent"]) for v in mine), Decimal(0))
        out.append(FleetCost(fleet.name, sum(1 for v in mine if v["up"]), actual, Decimal(0)))
    return out


def _add_ledger(engine: sa.Engine, fleets: list[FleetCost], end: datetime) -> None:
    """Per fleet: completed migrations and their realized saving (the executor's savings
    ledger), and provider terminations finalized (replacements are part of the cost)."""
    from optimizer.executor.journal import savings
    from optimizer.store.tables.journal import JournalAction

    ledger = savings(engine, end)
    t = table_of(JournalAction)
    with engine.connect() as conn:
        finals: dict[str, int] = dict(
            conn.execute(
                sa.select(t.c.fleet, sa.func.count())
                .where(t.c.kind == "finalize", t.c.state == "done")
                .group_by(t.c.fleet)
            ).all()
        )
    for f in fleets:
        if f.fleet in ledger:
            f.migrations = ledger[f.fleet].migrations
            f.realized = ledger[f.fleet].realized
        f.terminations = int(finals.get(f.fleet, 0))


def journal_actions(engine: sa.Engine) -> Counter[str]:
    """Executor actions by kind and final state, e.g. `migrate done: 4` (from the journal)."""
    from optimizer.store.tables.journal import JournalAction

    t = table_of(JournalAction)
    with engine.connect() as conn:
        rows = conn.execute(
            sa.select(t.c.kind, t.c.state, sa.func.count()).group_by(t.c.kind, t.c.state)
        ).all()
    return Counter({f"{kind} {state}": int(n) for kind, state, n in rows})


def _write_report(
    engine: sa.Engine, config: Config, path: Path, start: datetime, end: datetime
) -> tuple[Path | None, str | None]:
    """Write the HTML price report (optimizer.report) with the fleets' spend and savings
    per epoch; (None, why) when it cannot be written."""
    try:
        from optimizer.analysis import analyze_history
        from optimizer.report import render_html
        from optimizer.store.analysis_queries import fleet_frames, market_history
        from optimizer.store.outlook import fleet_outlook
        from optimizer.store.queries import price_units
    except ImportError as e:
        return None, f"the report modules are not part of this build ({e})"
    history = market_history(engine, start, end)
    if history.empty:
        return None, "no price history was recorded"
    analysis = analyze_history(history, now=end)
    # the same spend and ledger-saving figures `fluence-optimizer report` shows (and the
    # summary's "ledger saving" column): one definition, optimizer.store.analysis_queries
    spend, saved = fleet_frames(engine, history.span, end)
    html = render_html(
        analysis,
        generated_at=end,
        filters={"source": "demo (simulated marketplace)"},
        fleet_spend=spend,
        savings=saved,
        outlook=fleet_outlook(engine),
        price_units=price_units(engine, start, end),
    )
    try:
        make_private_dir(path.parent)
        write_private_text(path, html)
    except OSError as err:
        return None, f"{path}: cannot write the report: {err.strerror}"
    return path, None


def print_summary(s: DemoSummary, console: Console) -> None:
    console.print(f"[bold]{s.days:g} simulated days, seed {s.seed}[/]")
    t = Table(show_edge=False, pad_edge=False)
    cols = ("fleet", "VMs", "cost", "w/o migr.", "saved", "migr.", "ledger", "term.")
    for col in cols:
        t.add_column(col, justify="left" if col == "fleet" else "right", no_wrap=True)
    for f in s.fleets:
        t.add_row(f.fleet, str(f.vms_now), fmt_usd(f.actual), fmt_usd(f.without_migrations),
                  _saving(f.saving, f.without_migrations), str(f.migrations),
                  fmt_usd(f.realized), str(f.terminations))  # fmt: skip
    realized = sum((f.realized for f in s.fleets), Decimal(0))
    t.add_row("[bold]total", "", fmt_usd(s.actual), fmt_usd(s.without_migrations),
              _saving(s.saving, s.without_migrations), str(sum(f.migrations for f in s.fleets)),
              fmt_usd(realized), str(sum(f.terminations for f in s.fleets)),
              style="bold")  # fmt: skip
    console.print(t)
    cost_is = (
        "what the simulator billed per second for the fleets' VMs and their boot disks and "
        "public IPs"
        if s.left_behind is not None
        else "what the fleets' VMs were charged (totalSpent)"
    )
    console.print(
        f"[dim]cost: {cost_is}. w/o migr.: the same "
        "seed run again with max_migrations_per_epoch = 0 (same market; provider "
        "terminations are drawn per VM, so they can differ). saved = w/o migr. − cost: "
        "the measured saving, the demo's answer. migr.: migrations completed. ledger: "
        '(old − new price) × time since each migration, the report\'s "Saved"; it leaves '
        "out what the migrations cost (both VMs run during a move) and the terminations, "
        "so it differs from the measured saving. term.: VMs the provider terminated "
        "(replaced in both runs; replacements are part of the cost).[/]"
    )
    if s.left_behind is not None:
        console.print(
            f"disks and IPs left behind: {len(s.left_behind)}"
            + (f" ({', '.join(s.left_behind)})" if s.left_behind else "")
            + " [dim](created with the daemon's VMs and still billing without one after the "
            f"daemon ran on for {s.drained.total_seconds() / 3600:g} simulated hours with "
            "migrations off, past the reaper's grace)[/]"
        )
    acts = ", ".join(f"{k}: {v}" for k, v in sorted(s.actions.items())) or "none"
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
    if s.baseline_database is not None:
        console.print(f"run without migrations: {s.baseline_database}")


def _saving(saving: Decimal, base: Decimal) -> str:
    """`$1.87 (5.6%)`, or `-$0.19 (-0.9%)` for a loss."""
    pct = f" ({saving / base * 100:.1f}%)" if base > 0 else ""
    sign = "-" if saving < 0 else ""
    return f"{sign}{fmt_usd(abs(saving))}{pct}"


__all__ = ["DemoSummary", "FleetCost", "demo_config", "run_demo"]
