"""The chaos harness shared by tests/reliability/test_chaos.py and tests/benchmarks/chaos_long.py.

`run_chaos(workdir, ChaosParams(...))` serves a simulator over loopback HTTP and runs the
real daemon (act mode) in forked processes (see chaos_zygote.py). The first daemon deploys
the fleet undisturbed (a fleet in service is what the chaos is about); then faults are
switched on and the daemon is killed with SIGKILL at seeded moments — some on a timer,
some *inside* a request it is making (before or after the request took effect) — and
restarted each time; the last one runs without faults until the end of the simulated
span. It returns what happened (`ChaosResult`). `run_baseline` replays the same scenario
(seed, foreign VMs, the cheap offer that appears mid-run) with no faults and no kills,
in-process on a stepped clock, to compare spend over the same span.

Both API generations: `ChaosParams(api="cloud")` runs it on the simulator's cloud face
(chaos_faces.py says what differs); there the disks and public IPs created with the
fleet's VMs are also checked against the reaper's grace (`ChaosResult.late_resources`).
With `mode = "recommend"` the daemon plans but changes nothing: the kills hit snapshots
and plans only, and the result's `created` counts what it made anyway (it must be 0).

Nothing here asserts: the test and the script decide what to check and print.
"""

from __future__ import annotations

import json
import os
import pickle
import random
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path

from optimizer.sim import Simulator, start_server
from optimizer.sim.app import SimResponse
from optimizer.sim.clock import DEFAULT_START, SimClock
from optimizer.sim.faults import FaultConfig
from optimizer.store.engine import upgrade
from tests.daemon.helpers import IMAGE, SSH_KEY
from tests.reliability.chaos_faces import FACES, FLEET, CloudFace, V3Face, VmView
from tests.reliability.chaos_zygote import SharedClock

ROOT = Path(__file__).resolve().parents[2]
OPEN_STATES = ("planned", "deploying", "launching", "cutover")


@dataclass
class ChaosParams:
    seed: int = 11
    kills: int = 50
    instances: int = 3
    max_surge: int = 1
    factor: float = 600.0  # simulated seconds per real second
    fault_rate: float = 0.15
    #: real seconds a daemon lives before a timer kill: most lives are short (killed while
    #: starting, snapshotting or planning), some long enough to finish a tick or two
    #: 2 kills in 5 are "short" (at a random moment while starting, taking the lease or
    #: snapshotting), 1 comes 0-0.2 s after the plan stage (inside the executor), 2 are aimed
    #: inside a request chosen from the journal's open step
    life: tuple[float, float] = (0.2, 1.2)
    aim_wait: float = 5.0  # real seconds to wait for an aimed point before a timer kill
    #: simulated span whose spend is compared with the baseline: one epoch, which holds the
    #: warm-up, every kill (about 12 h at the default pace) and the convergence
    duration: timedelta = timedelta(hours=24)
    warmup_timeout: float = 20.0  # real seconds for the first daemon to deploy the fleet
    # the rest of the kills are aimed inside a request (estimate, deploy, DELETE, list)
    cheap_offer_after: timedelta = timedelta(hours=5)  # a cheaper offer appears: migrations
    #: the provider terminates a fleet VM at these simulated times: replacements
    #: are deployed while the daemon is being killed
    terminations: tuple[timedelta, ...] = (timedelta(hours=3), timedelta(hours=8))
    #: mutating requests are rare: each deploy/DELETE is also a kill point with this chance
    mutating_kill_chance: float = 0.6
    converge_timeout: float = 40.0  # real seconds for the last daemon to converge
    offers: int = 60
    api: str = "marketplace-v3"  # which face of the simulator (chaos_faces.FACES)
    mode: str = "act"  # "recommend": the daemon plans, changes nothing
    #: the reaper's grace (daemon.reaper_grace, its default): how long a disk or IP created
    #: with a fleet VM may bill after the VM ended before a tick deletes it (cloud only)
    resource_grace: timedelta = timedelta(minutes=5)

    @property
    def face(self) -> V3Face | CloudFace:
        return FACES[self.api]


@dataclass
class ChaosResult:
    kills: int = 0
    kills_by_step: Counter[str] = field(default_factory=Counter)
    faults_by_kind: Counter[str] = field(default_factory=Counter)
    max_footprint: int = 0
    footprint_samples: int = 0
    orphans: list[str] = field(default_factory=list)  # fleet-named running VMs not owned
    unwanted: list[str] = field(default_factory=list)  # owned running VMs beyond the plan
    duplicates: dict[str, int] = field(default_factory=dict)  # name → VMs created
    untracked_names: list[str] = field(default_factory=list)  # fleet VMs no action asked
    foreign_ok: bool = False
    converged: bool = False
    converge_seconds: float = 0.0
    final_vms: list[tuple[str, str, Decimal]] = field(default_factory=list)  # id, status, price
    cheapest_slots: list[Decimal] = field(default_factory=list)
    avoided: list[str] = field(default_factory=list)  # datacenters that failed a launch
    warmed_up: bool = False  # the first daemon deployed the fleet before the first kill
    warmup_seconds: float = 0.0  # real seconds it took
    spend: Decimal = Decimal(0)  # billed by the simulator (whole epochs)
    #: billed by the simulator until DEFAULT_START + duration (the sampler reads it then):
    #: on cloud, billed per second, this is what compares with the baseline
    spend_in_span: Decimal = Decimal(0)
    #: of which disks and IPs billed after their VM ended (cloud; 0 on v3)
    after_vm_in_span: Decimal = Decimal(0)
    accrued: Decimal = Decimal(0)  # pro rata (see accrued())
    end: datetime = DEFAULT_START
    integrity: str = ""
    actions_by_state: Counter[str] = field(default_factory=Counter)
    migrations_done: int = 0
    deploys: int = 0
    wall_seconds: float = 0.0
    exits: int = 0  # lives that ended without a kill (unexpected errors exit non-zero)
    crashes: list[str] = field(default_factory=list)  # their last log lines
    #: cloud: disks and IPs created with a fleet VM still billing at the third tick that
    #: began once the reaper's grace had run out (see _reap_due), counted from their VM's
    #: end or from the last daemon's start, whichever is later (a killed daemon deletes
    #: nothing)
    late_resources: list[str] = field(default_factory=list)
    #: cloud: the longest any of them billed after its VM ended, kills and faults included
    longest_after_vm: timedelta = timedelta(0)
    calm_at: datetime = DEFAULT_START  # when the last daemon started (no kills, no faults)
    created: int = 0  # fleet VMs created in all (recommend mode: must be 0)
    snapshots: int = 0  # snapshots the daemons recorded


def config_text(db_path: Path, api_url: str, p: ChaosParams) -> str:
    return f"""mode = "{p.mode}"
[api]
{p.face.config_lines()}base_url = "{api_url}"
timeout = "2s"
max_retries = 2
[database]
url = "sqlite:///{db_path}"
[daemon]
snapshot_interval = "10m"
plan_interval = "10m"
analysis_interval = "6h"
alerts_interval = "12h"
jitter = 0
[[fleets]]
name = "{FLEET}"
instances = {p.instances}
os_image = "{IMAGE}"
ssh_keys = ["{SSH_KEY}"]
[fleets.constraints]
configurations = ["{p.face.configuration}"]
[fleets.policy]
min_savings_pct = 10
min_savings_usd_per_epoch = "0.01"
payback_epochs = 3
max_migrations_per_epoch = {p.instances}
cooldown_epochs = 0
align_to_billing = false
max_surge = {p.max_surge}
launch_timeout = "2h"
"""


def make_sim(p: ChaosParams, clock: object, faults: bool) -> Simulator:
    """The face's simulator with its foreign VMs (and, on cloud, disks and IPs)."""
    fault_config = FaultConfig(rate=p.fault_rate if faults else 0.0, timeout_sleep=2.5)
    return p.face.make_sim(p.seed, clock, p.offers, fault_config)


class Script:
    """The scripted market events both runs share (applied when simulated time passes them)."""

    def __init__(self, p: ChaosParams) -> None:
        events = [(p.cheap_offer_after, "cheap")] + [(t, "terminate") for t in p.terminations]
        self.events = sorted(events)
        self.applied: list[str] = []
        self.face = p.face

    def apply(self, sim: Simulator, now: datetime) -> None:
        while self.events and now >= DEFAULT_START + self.events[0][0]:
            _, kind = self.events.pop(0)
            if kind == "cheap":
                self.face.add_cheap_offer(sim)
            else:
                # the cheapest Active VM (then the oldest): the same loss in both runs, even
                # when their migrations are at different stages
                active = [v for v in running_fleet(sim, self.face) if v.active]
                if active:
                    vm = min(active, key=lambda v: (v.price, v.created_at, v.id))
                    self.face.terminate(sim, vm.id)
            self.applied.append(kind)


def running_fleet(sim: Simulator, face: V3Face | CloudFace) -> list[VmView]:
    return [v for v in face.fleet_vms(sim) if v.running]


def _journal(db: Path, sql: str) -> list[tuple]:
    try:
        con = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=1)
    except sqlite3.Error:
        return []
    try:
        return list(con.execute(sql))
    except sqlite3.Error:
        return []
    finally:
        con.close()


def journal_step(db: Path) -> str:
    rows = _journal(
        db, "SELECT kind, state FROM journal_action WHERE state IN "
        "('planned','deploying','launching','cutover') ORDER BY id"
    )  # fmt: skip
    if not rows:
        return "idle"
    kind, state = rows[0]
    return f"{kind}:{state}"


class Zygote:
    def __init__(self, config: Path, clock: SharedClock, log: Path, api_key: str) -> None:
        self.clock = clock
        env = {**os.environ, "FLUENCE_API_KEY": api_key, "OPENBLAS_NUM_THREADS": "1",
               "PYTHONPATH": str(ROOT)}  # fmt: skip
        self.p = subprocess.Popen(
            [sys.executable, "-m", "tests.reliability.chaos_zygote", str(config),
             repr(clock.factor), clock.start.isoformat(), str(log)],
            cwd=ROOT, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
        )  # fmt: skip
        assert self.p.stdout is not None
        line = self.p.stdout.readline().strip()
        if line != "ready":
            raise RuntimeError(f"chaos zygote did not start: {line!r}")

    def spawn(self) -> int:
        assert self.p.stdin is not None and self.p.stdout is not None
        t0 = self.clock.t0 if self.clock.t0 is not None else self.clock.begin()
        self.p.stdin.write(f"spawn {t0!r}\n")
        self.p.stdin.flush()
        return int(self.p.stdout.readline())

    def close(self) -> None:
        if self.p.poll() is None:
            assert self.p.stdin is not None
            try:
                self.p.stdin.write("quit\n")
                self.p.stdin.flush()
            except OSError:
                pass
            try:
                self.p.wait(10)
            except subprocess.TimeoutExpired:
                self.p.kill()
                self.p.wait(5)
        for pipe in (self.p.stdin, self.p.stdout):
            if pipe is not None:
                pipe.close()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:  # a zombie (dead, not yet reaped by the zygote) counts as dead
        with open(f"/proc/{pid}/stat", encoding="ascii") as f:
            return f.read().split(") ")[-1][0] != "Z"
    except OSError:
        return False


def run_chaos(workdir: Path, p: ChaosParams) -> ChaosResult:  # noqa: C901
    # a scenario script: warm up, kill and restart at random moments, drain, measure; the
    # steps read as one story and share the daemon process and the clock
    workdir.mkdir(parents=True, exist_ok=True)
    res = ChaosResult()
    wall0 = time.monotonic()
    rng = random.Random(p.seed)
    clock = SharedClock(DEFAULT_START, None, p.factor)  # starts with the first daemon
    face = p.face
    sim = make_sim(p, clock, faults=True)
    sim.faults.config.rate = 0.0  # until the fleet is in service
    foreign_before = face.foreign(sim)
    db = workdir / "chaos.db"
    log = workdir / "daemon.log"
    server = start_server(sim, api=face.api)
    cfg = workdir / "chaos.toml"
    cfg.write_text(config_text(db, server.url, p))
    upgrade(f"sqlite:///{db}")  # as `fluence-optimizer db upgrade` at install time

    # -- kill hooks inside requests ------------------------------------------------------
    lock = threading.Lock()
    state: dict[str, object] = {"pid": None, "point": None, "hit": None}
    orig = sim.handle
    hook_rng = random.Random(f"{p.seed}:hooks")

    def handle(method, path, *, query="", headers=None, body=b"", **kw):  # type: ignore[no-untyped-def]
        endpoint = face.endpoint(method, path)
        with lock:
            point = state["point"]
            pid = state["pid"]
            fire = point is not None and pid is not None and point[0] == endpoint
            if (
                not fire
                and pid is not None
                and state["hit"] is None
                and endpoint in face.mutating
                and hook_rng.random() < p.mutating_kill_chance
            ):
                point, fire = (endpoint, hook_rng.choice(["before", "after"])), True
            if fire:
                state["point"] = None
        if fire and point[1] == "before":  # type: ignore[index]
            state["hit"] = f"{endpoint}:before"
            os.kill(pid, signal.SIGKILL)  # type: ignore[arg-type]
            return SimResponse(0, drop="reset")
        resp = orig(method, path, query=query, headers=headers, body=body, **kw)
        if fire:
            state["hit"] = f"{endpoint}:after"
            os.kill(pid, signal.SIGKILL)  # type: ignore[arg-type]
        return resp

    sim.handle = handle  # type: ignore[method-assign]

    # -- footprint sampler and the scripted market event ---------------------------------
    stop = threading.Event()
    script = Script(p)

    span_end = DEFAULT_START + p.duration

    def sampler() -> None:
        while not stop.is_set():
            if not res.spend_in_span and clock.now() >= span_end:
                res.spend_in_span = face.spend(sim)
                res.after_vm_in_span = face.after_vm_spend(sim)
            n = len(running_fleet(sim, face))
            res.footprint_samples += 1
            res.max_footprint = max(res.max_footprint, n)
            script.apply(sim, clock.now())
            stop.wait(0.02)

    t = threading.Thread(target=sampler, daemon=True)
    t.start()
    zygote = Zygote(cfg, clock, log, sim.api_key)
    try:
        # -- warm-up: the first daemon deploys the fleet, as the baseline's does --------------
        pid = zygote.spawn()
        t_warm = time.monotonic()
        while time.monotonic() - t_warm < p.warmup_timeout:
            if _warm(sim, db, p):
                res.warmed_up = True
                break
            time.sleep(0.05)
        res.warmup_seconds = time.monotonic() - t_warm
        sim.faults.config.rate = p.fault_rate
        os.kill(pid, signal.SIGKILL)
        res.kills_by_step["timer:" + journal_step(db)] += 1
        res.kills += 1
        while _alive(pid):
            time.sleep(0.002)
        i = 0
        while res.kills < p.kills and i < p.kills + 20:
            i += 1
            pid = zygote.spawn()
            # a fixed rotation (seeded within each kind) so every kind of kill is exercised
            kind = ("short", "aim", "after_plan", "aim", "short")[i % 5]
            short, after_plan = kind == "short", kind == "after_plan"
            point = None if short or after_plan else _aim(rng, journal_step(db), face)
            log_at = log.stat().st_size if log.exists() else 0
            with lock:
                state.update(pid=pid, point=point, hit=None)
            deadline = time.monotonic() + (rng.uniform(*p.life) if short else p.aim_wait)
            while time.monotonic() < deadline and state["hit"] is None and _alive(pid):
                if after_plan and _planned_since(log, log_at):
                    time.sleep(rng.uniform(0.0, 0.4))
                    break
                time.sleep(0.005)
            with lock:
                state["point"] = None
            if state["hit"] is not None:
                step = str(state["hit"])
            elif _alive(pid):
                step = "timer:" + journal_step(db)
                os.kill(pid, signal.SIGKILL)
            else:
                step = "exited"  # the daemon died on its own (see res.crashes)
            if step == "exited":
                res.exits += 1
            else:
                res.kills_by_step[step] += 1
                res.kills += 1
            while _alive(pid):
                time.sleep(0.002)
            time.sleep(rng.uniform(0.0, 0.2))  # time passes while nothing runs

        # -- the last daemon: no kills, no faults; it must converge within a few ticks ----
        sim.faults.config.rate = 0.0
        sim.faults.clear()
        with lock:
            state.update(pid=None, point=None)
        pid = zygote.spawn()
        res.calm_at = clock.now()
        t_conv = time.monotonic()
        while time.monotonic() - t_conv < p.converge_timeout:
            if _converged(sim, db, p) if p.mode == "act" else _warm(sim, db, p):
                res.converged = True
                break
            time.sleep(0.1)
        res.converge_seconds = time.monotonic() - t_conv
        # spend is compared over `duration`; on cloud the last daemon also gets the reaper's
        # grace and a few ticks after the kills to delete what they left behind
        settle = p.resource_grace + timedelta(minutes=40) if face.has_resources else timedelta()
        while clock.now() < max(DEFAULT_START + p.duration, res.calm_at + settle):
            time.sleep(0.1)
        os.kill(pid, signal.SIGTERM)
        while _alive(pid):
            time.sleep(0.01)
    finally:
        stop.set()
        t.join(2)
        zygote.close()
        res.end = clock.now()
        server.close()

    # -- what happened ---------------------------------------------------------------------
    res.faults_by_kind = Counter(kind for _, kind in sim.faults.log)
    res.spend = face.spend(sim)
    res.accrued = face.accrued(sim, DEFAULT_START + p.duration)
    owned = {r[0] for r in _journal(db, "SELECT vm_id FROM fleet_vm WHERE released_at IS NULL")}
    tokens = {r[0] for r in _journal(db, "SELECT token FROM journal_action")}
    names = Counter(v.name for v in face.fleet_vms(sim))
    running = running_fleet(sim, face)
    res.orphans = sorted(v.id for v in running if v.id not in owned)
    res.unwanted = sorted(v.id for v in running if v.id in owned)[p.instances :]
    res.duplicates = {n: c for n, c in names.items() if c > 1}
    res.untracked_names = sorted(n for n in names if n[len(FLEET) + 1 :] not in tokens)
    res.deploys = sum(names.values())
    res.foreign_ok = face.foreign(sim) == foreign_before
    res.final_vms = sorted((v.id, v.status, v.price) for v in running)
    res.avoided = sorted(avoided(db))
    res.cheapest_slots = face.cheapest_slots(sim, p.instances, frozenset(res.avoided))
    res.late_resources = face.late_resources(sim, _reap_due(log, res.calm_at, p.resource_grace))
    res.longest_after_vm = max(
        (late for _, late in face.lateness(sim, DEFAULT_START)), default=timedelta(0)
    )
    res.created = res.deploys
    res.snapshots = len(_journal(db, "SELECT id FROM snapshot"))
    res.actions_by_state = Counter(
        f"{k}:{s}" for k, s in _journal(db, "SELECT kind, state FROM journal_action")
    )
    res.migrations_done = res.actions_by_state.get("migrate:done", 0)
    con = sqlite3.connect(db)
    try:
        res.integrity = con.execute("PRAGMA integrity_check").fetchone()[0]
    finally:
        con.close()
    if log.exists():
        lines = log.read_text(errors="replace").splitlines()
        res.crashes = [
            "\n".join(lines[max(0, n - 1) : n + 12])
            for n, ln in enumerate(lines)
            if ln.startswith("CHILD CRASH")
        ]
    res.wall_seconds = time.monotonic() - wall0
    return res


def _reap_due(log: Path, calm: datetime, grace: timedelta) -> Callable[[datetime], datetime]:
    """When a disk or IP whose VM ended at `ended` must be gone: by the start of the third
    tick of the last daemon that began after max(ended, calm) + grace. The reaper counts the
    grace from when a snapshot first saw the VM gone (a tick that may itself start after
    the grace) and deletes in the next tick once it has passed: that one is the second; one
    more is allowed for a tick whose calls failed. Fewer ticks than that: never late."""
    ticks = sorted(
        t for t in (_tick_at(line) for line in log.read_text(errors="replace").splitlines())
        if t is not None and t >= calm
    )  # fmt: skip

    def due(ended: datetime) -> datetime:
        after = [t for t in ticks if t >= max(ended, calm) + grace]
        return after[2] if len(after) > 2 else datetime.max.replace(tzinfo=calm.tzinfo)

    return due


def _tick_at(line: str) -> datetime | None:
    """The simulated start of the tick a JSON `tick` log line reports, else None."""
    if '"event": "tick"' not in line:
        return None
    try:
        return datetime.fromisoformat(json.loads(line)["at"])
    except (ValueError, KeyError, TypeError):
        return None


def _planned_since(log: Path, offset: int) -> bool:
    """Has the running daemon logged the end of its plan stage (the executor comes next)?"""
    try:
        with open(log, "rb") as f:
            f.seek(offset)
            data = f.read()
        return b'"stage": "plan"' in data or b'"stage":"plan"' in data
    except OSError:
        return False


def _aim(rng: random.Random, step: str, face: V3Face | CloudFace) -> tuple[str, str]:
    """A request kill point likely to come soon, given the journal's open step."""
    points = face.request_points
    if step.endswith(":planned") or step.endswith(":deploying"):
        return rng.choice(
            [("estimate", "before"), ("deploy", "before"), ("deploy", "after"), ("deploy", "after")]
        )
    if step.endswith(":launching") or step.endswith(":cutover"):
        deletes = [pt for pt in points if pt[0].startswith("delete")]
        return rng.choice([*deletes, ("deploy", "after")])
    if step == "idle" and face.has_resources:  # the reaper's deletes come between actions
        return rng.choice(
            [
                ("list_vms", "after"),
                ("offers", "after"),
                ("delete_resources", "before"),
                ("delete_resources", "after"),
            ]
        )
    return rng.choice([("list_vms", "after"), ("offers", "after"), ("estimate", "before"),
                       ("deploy", "after")])  # fmt: skip


def _warm(sim: Simulator, db: Path, p: ChaosParams) -> bool:
    """In service: in act mode, the fleet up and nothing in flight (on the cheapest
    offers too on v3, where the first deploys land there; on cloud the planner places one
    VM per cluster a plan, so the cheapest may take a move); in recommend mode, a plan."""
    if p.mode != "act":
        return bool(_journal(db, "SELECT id FROM snapshot LIMIT 1")) and _planned_once(db)
    if p.face.has_resources:
        running = running_fleet(sim, p.face)
        up = len(running) == p.instances and all(v.active for v in running)
        return up and journal_step(db) == "idle"
    return _converged(sim, db, p)


def _planned_once(db: Path) -> bool:
    return db.with_name("daemon.log").exists() and _planned_since(db.with_name("daemon.log"), 0)


def _converged(sim: Simulator, db: Path, p: ChaosParams) -> bool:
    running = running_fleet(sim, p.face)
    if len(running) != p.instances or not all(v.active for v in running):
        return False
    if journal_step(db) != "idle":
        return False
    best = p.face.cheapest_slots(sim, p.instances, avoided(db))
    return sum(v.price for v in running) <= sum(best) * Decimal("1.1")


def avoided(db: Path) -> frozenset[str]:
    rows = _journal(
        db, "SELECT target_datacenter FROM journal_action WHERE state = 'failed' "
        "AND failure_cause = 'launch' AND target_datacenter IS NOT NULL"
    )  # fmt: skip
    return frozenset(r[0] for r in rows)


def start_baseline(p: ChaosParams) -> subprocess.Popen[str]:
    """run_baseline in another process (it takes a while; it runs while the chaos runs)."""
    code = (
        "import pickle, sys\n"
        "from tests.reliability.chaos import run_baseline, DEFAULT_START\n"
        "p = pickle.loads(bytes.fromhex(sys.argv[1]))\n"
        "billed, acc = run_baseline(p, DEFAULT_START + p.duration)\n"
        "print(billed, acc)\n"
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OPENBLAS_NUM_THREADS": "1"}
    argv = [sys.executable, "-c", code, pickle.dumps(p).hex()]
    return subprocess.Popen(argv, cwd=ROOT, env=env, stdout=subprocess.PIPE, text=True)


def finish_baseline(proc: subprocess.Popen[str], timeout: float = 120) -> tuple[Decimal, Decimal]:
    out, _ = proc.communicate(timeout=timeout)
    if proc.returncode != 0:
        raise RuntimeError(f"baseline run failed (exit {proc.returncode})")
    billed, acc = out.split()[-2:]
    return Decimal(billed), Decimal(acc)


def run_baseline(p: ChaosParams, end: datetime) -> tuple[Decimal, Decimal]:
    """The same scenario without faults or kills, in-process on a stepped clock, until `end`
    (simulated); returns what the fleet spent (billed, accrued), billed without what disks
    and IPs billed after their VM ended (cloud: compared with the chaos run's like part)."""
    import tempfile

    from optimizer.config import load_config
    from optimizer.daemon.loop import LoopOptions
    from optimizer.daemon.service import open_daemon

    clock = SimClock.stepped(DEFAULT_START)
    sim = make_sim(p, clock, faults=False)
    with tempfile.TemporaryDirectory() as d:
        cfg = Path(d) / "base.toml"
        cfg.write_text(config_text(Path(d) / "base.db", "http://127.0.0.1:9", p))
        config = load_config(cfg)
        script = Script(p)

        def on_tick(_: object) -> None:
            script.apply(sim, clock.now())

        with (
            open(Path(d) / "base.log", "w", encoding="utf-8") as stream,
            open_daemon(config, clock=clock, transport=sim.transport(api=p.face.api),
                        api_key=sim.api_key,
                        install_signals=False, log_stream=stream, log_json=True,
                        metrics=False) as daemon,
        ):  # fmt: skip
            daemon.run(LoopOptions(sleep_chunk=None, until=end, on_tick=on_tick))
    return p.face.spend(sim) - p.face.after_vm_spend(sim), p.face.accrued(sim, end)
