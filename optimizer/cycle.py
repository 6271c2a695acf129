"""One pass of the data flow, in order. The ONLY module that knows the order:

    snapshot (offers + VM list → store) → analyze → plan (per fleet)
        → execute (act mode only, per fleet) → reap (act mode only) → alerts

Each stage is an error boundary (per fleet where it is per fleet): an expected failure
(`OptimizerError`: API down, database locked, an action that failed) is logged, counted,
handed to the alerts stage, and the next stage / fleet / cycle carries on. Anything else
is a bug and propagates: the daemon exits non-zero and systemd restarts it.

Snapshots run every `daemon.snapshot_interval`; planning runs on the first snapshot tick
once `daemon.plan_interval` has passed since the last plan (so its granularity is the
snapshot interval); open executor actions advance every tick in act mode. The daemon loop
decides when to call `Cycle.run`, the cycle decides which stages are due. One summary
line is logged per cycle.

The cycle knows nothing about where its client talks to: production passes the real
API client, the demo passes one built on the simulator's transport and clock.
"""

from __future__ import annotations

import random
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import structlog

from optimizer.clock import Clock
from optimizer.config import Config, FleetConfig
from optimizer.errors import AnalysisError, ApiError, OptimizerError
from optimizer.fluence.status import VmStatus

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

    from optimizer.daemon.metrics import Metrics
    from optimizer.executor.api import CycleClient
    from optimizer.store.ingest import IngestSummary

log = structlog.get_logger("optimizer.cycle")

STAGES = ("snapshot", "analyze", "plan", "execute", "reap", "alerts")

#: how much price history the analysis stage reads each planning pass
ANALYSIS_WINDOW = timedelta(days=14)
#: How often raw observations past `retention.raw_days` are rolled up to epoch rows.
RETENTION_INTERVAL = timedelta(days=1)


#: what a stage's status may be; a tick is "degraded" when any stage is failed or degraded
STAGE_STATUSES = ("ok", "degraded", "failed", "skipped")
#: the statuses that make the tick's outcome "degraded"
PROBLEM_STATUSES = frozenset({"degraded", "failed"})


@dataclass(frozen=True)
class Degraded:
    """What a stage returns when it ran to the end but did only part of its job (a
    snapshot answer that could not be stored, actions that failed): nothing raised, the
    next stages go on, yet the stage's status and the tick's outcome say "degraded"."""

    detail: str


@dataclass
class StageOutcome:
    """How one stage went (for one fleet, or for all when `fleet` is None)."""

    stage: str
    fleet: str | None
    status: str  # one of STAGE_STATUSES
    detail: str = ""
    error: OptimizerError | None = None
    seconds: float = 0.0


@dataclass
class TickResult:
    """Summary of one cycle. Its `outcome` is computed from the stage outcomes: "ok", or
    "degraded" when any stage failed (an expected error was raised) or came back
    `Degraded`; `api_down` when the snapshot could not reach the API (the loop then
    retries sooner, backing off)."""

    tick: int
    started: datetime
    finished: datetime | None = None
    snapshot: bool = False
    planned: bool = False
    outcomes: list[StageOutcome] = field(default_factory=list)
    actions: Counter[str] = field(default_factory=Counter)  # "kind:outcome" → n
    wall_seconds: float = 0.0

    @property
    def failures(self) -> list[StageOutcome]:
        return [o for o in self.outcomes if o.status == "failed"]

    @property
    def problems(self) -> list[StageOutcome]:
        """Stages that failed or came back degraded, in order."""
        return [o for o in self.outcomes if o.status in PROBLEM_STATUSES]

    @property
    def degraded(self) -> bool:
        return bool(self.problems)

    @property
    def api_down(self) -> bool:
        return any(o.stage == "snapshot" and isinstance(o.error, ApiError) for o in self.failures)

    @property
    def outcome(self) -> str:
        return "degraded" if self.degraded else "ok"

    def stage_seconds(self) -> dict[str, float]:
        """Wall seconds spent per stage in this tick (summed over fleets)."""
        out: dict[str, float] = {}
        for o in self.outcomes:
            out[o.stage] = round(out.get(o.stage, 0.0) + o.seconds, 3)
        return out

    def summary(self) -> dict[str, Any]:
        """The fields of the one summary log line."""
        return {
            "outcome": self.outcome,
            "snapshot": self.snapshot,
            "planned": self.planned,
            "actions": dict(self.actions),
            "failures": [_where(o) for o in self.failures],
            "degraded": [_where(o) for o in self.problems if o.status == "degraded"],
            "stage_s": self.stage_seconds(),
            "wall_s": round(self.wall_seconds, 3),
        }


def _where(o: StageOutcome) -> str:
    return f"{o.stage}{'/' + o.fleet if o.fleet else ''}: {o.detail}"


@dataclass
class Runtime:
    """Everything a cycle needs, built by the caller (CLI, daemon, demo, tests)."""

    config: Config
    client: CycleClient
    engine: Engine
    clock: Clock
    metrics: Metrics | None = None
    should_stop: Callable[[], bool] = lambda: False


@dataclass
class _TickState:
    """Data handed from stage to stage within one tick."""

    now: datetime
    answer: bytes | None = None  # the snapshot's raw offers answer
    offers: list[Any] | None = None  # as models, parsed when planning needs them
    vms: list[Any] | None = None
    account: Any = None  # the account's facts (AccountFacts), read with the snapshot
    orphans: list[Any] | None = None  # foreign disks/IPs billing (None: not listed)
    analysis: Any = None
    plans: dict[str, Any] = field(default_factory=dict)
    errors: list[OptimizerError] = field(default_factory=list)
    api_down: str | None = None  # why the snapshot could not reach the API


class Cycle:
    """Runs the stages in order; remembers when the last snapshot / plan ran."""

    def __init__(self, runtime: Runtime, rng: random.Random | None = None) -> None:
        self.rt = runtime
        self.rng = rng or random.Random()
        self.last_snapshot: datetime | None = None
        self.last_plan: datetime | None = None
        self.next_snapshot: datetime | None = None  # None: due now
        self.next_plan: datetime | None = None
        self._analysis: Any = None
        self._analysis_at: datetime | None = None
        self._alerts_at: datetime | None = None
        self._retained_at: datetime | None = None

    # -- scheduling ------------------------------------------------------------------
    def _jittered(self, interval: timedelta) -> timedelta:
        j = self.rt.config.daemon.jitter
        return interval * (1 + self.rng.uniform(-j, j)) if j else interval

    def next_due(self) -> datetime:
        """When the next tick is due: the next snapshot (now when none succeeded yet).

        Planning rides on snapshot ticks: a tick plans when `plan_interval` has passed
        since the last plan, so every plan sees a fresh snapshot and ticks never double up.
        """
        return self.next_snapshot or self.rt.clock.now()

    def _plan_due(self, now: datetime) -> bool:
        if self.rt.config.mode == "observe":
            return False
        return self.next_plan is None or now >= self.next_plan

    def _alerts_due(self, now: datetime, state: _TickState) -> bool:
        every = self.rt.config.daemon.alerts_interval
        if state.errors or state.plans or self._alerts_at is None or not every:
            return True
        return now - self._alerts_at >= every

    def _retention_due(self, now: datetime) -> bool:
        return self._retained_at is None or now - self._retained_at >= RETENTION_INTERVAL

    def _snapshot_due(self, now: datetime) -> bool:
        return self.next_snapshot is None or now >= self.next_snapshot

    # -- one tick --------------------------------------------------------------------
    def run(self, tick: int, *, force: bool = False) -> TickResult:
        """Run the stages that are due (all of them with `force`, as `once` does).

        Returns the TickResult; raises only for unexpected (non-OptimizerError) failures.
        """
        cfg = self.rt.config
        now = self.rt.clock.now()
        t0 = time.monotonic()
        result = TickResult(tick=tick, started=now)
        self._result_actions = result.actions
        state = _TickState(now=now)
        structlog.contextvars.bind_contextvars(tick=tick)
        try:
            if force or self._snapshot_due(now):
                self._stage(result, state, "snapshot", None, self._snapshot)
                result.snapshot = True
                if state.answer is not None and self._retention_due(now):
                    self._stage(result, state, "retention", None, self._retain)
            plan_now = (force and cfg.mode != "observe") or self._plan_due(now)
            if plan_now:
                self._stage(result, state, "analyze", None, self._analyze)
                result.planned = True
                self.last_plan = now
                self.next_plan = now + self._jittered(cfg.daemon.plan_interval)
            for fleet in cfg.fleets:
                if self.rt.should_stop():
                    log.info("stop requested: no further fleets this tick")
                    break
                if plan_now:
                    self._stage(result, state, "plan", fleet, self._plan)
                if cfg.mode == "act" and (
                    fleet.name in state.plans or _integration.has_open_actions(self.rt, fleet)
                ):
                    self._stage(result, state, "execute", fleet, self._execute)
            if cfg.mode == "act" and not self.rt.should_stop():
                self._stage(result, state, "reap", None, self._reap)
            if self._alerts_due(now, state):
                self._stage(result, state, "alerts", None, self._alerts)
                self._alerts_at = now
            if self.rt.metrics is not None:
                try:
                    _integration.fleet_metrics(self.rt, state)
                except OptimizerError as err:
                    log.warning("could not update fleet metrics", error=str(err))
        finally:
            result.finished = self.rt.clock.now()
            result.wall_seconds = time.monotonic() - t0
            self._record_metrics(result)
            log.info("tick", at=now.isoformat(), **result.summary())
            structlog.contextvars.unbind_contextvars("tick")
        return result

    def _stage(
        self,
        result: TickResult,
        state: _TickState,
        stage: str,
        fleet: FleetConfig | None,
        fn: Callable[[_TickState, FleetConfig | None], str | Degraded | None],
    ) -> None:
        name = fleet.name if fleet else None
        if name:
            structlog.contextvars.bind_contextvars(fleet=name)
        t0 = time.monotonic()
        n_before = len(result.outcomes)
        try:
            detail = fn(state, fleet)
        except _Skipped as s:
            result.outcomes.append(StageOutcome(stage, name, "skipped", str(s)))
            log.info("stage skipped", stage=stage, why=str(s))
        except OptimizerError as err:
            state.errors.append(err)
            result.outcomes.append(StageOutcome(stage, name, "failed", str(err), err))
            if self.rt.metrics is not None and isinstance(err, ApiError):
                self.rt.metrics.api_error(err)
            log.error("stage failed", stage=stage, error=str(err), kind=type(err).__name__)
        else:
            if isinstance(detail, Degraded):
                result.outcomes.append(StageOutcome(stage, name, "degraded", detail.detail))
                log.warning("stage degraded", stage=stage, detail=detail.detail)
            else:
                result.outcomes.append(StageOutcome(stage, name, "ok", detail or ""))
                if detail:
                    log.info("stage done", stage=stage, detail=detail)
        finally:
            if len(result.outcomes) > n_before:
                result.outcomes[-1].seconds = time.monotonic() - t0
            if name:
                structlog.contextvars.unbind_contextvars("fleet", "action")

    # -- stages ----------------------------------------------------------------------
    def _snapshot(self, state: _TickState, _fleet: FleetConfig | None) -> str | Degraded:
        t0 = time.monotonic()
        try:
            answer = self.rt.client.offers_answer()
            vms = self.rt.client.list_vms()
        except ApiError as err:
            state.api_down = type(err).__name__
            try:
                _integration.failed_snapshot(self.rt, state.now, time.monotonic() - t0, str(err))
            except OptimizerError as store_err:
                log.error("could not record the failed snapshot", error=str(store_err))
            raise
        state.answer, state.vms = answer, vms
        seconds = time.monotonic() - t0
        summary = _integration.store_snapshot(self.rt, state.now, answer, vms, seconds)
        self.next_snapshot = state.now + self._jittered(self.rt.config.daemon.snapshot_interval)
        m = self.rt.metrics
        if m is not None:
            m.snapshot_duration.set(time.monotonic() - t0)
            if summary.skipped:
                m.offers_skipped.inc(summary.skipped)
        if not summary.ok:
            # the answer arrived (the tick plans with it) but could not be stored
            return Degraded(f"snapshot {summary.snapshot_id} not stored: {summary.error}")
        self.last_snapshot = state.now
        if m is not None:
            m.last_snapshot_ts.set(state.now.timestamp())
        skipped = f", {summary.skipped} malformed offers skipped" if summary.skipped else ""
        done = f"{summary.seen} offers, {len(vms)} VMs (snapshot {summary.snapshot_id}{skipped})"
        problem = _integration.account(self.rt, state)
        return Degraded(f"{done}; {problem}") if problem else done

    def _retain(self, state: _TickState, _fleet: FleetConfig | None) -> str:
        """Roll raw observations older than `retention.raw_days` up to epoch rows and drop
        epoch rows older than `retention.epoch_days`, so the store stays bounded."""
        from optimizer.store.retention import roll_up

        r = self.rt.config.retention
        try:
            summary = roll_up(self.rt.engine, state.now, r.raw_days, r.epoch_days)
        except OptimizerError:
            raise
        except Exception as err:  # contained: see _history_crash
            raise _history_crash("retention", err) from err
        self._retained_at = state.now
        if not (summary.epochs_rolled or summary.epoch_rows_deleted):
            return ""
        return (
            f"{summary.epochs_rolled} epochs rolled up, "
            f"{summary.intervals_deleted} raw intervals and "
            f"{summary.epoch_rows_deleted} expired epoch rows removed"
        )

    def _analyze(self, state: _TickState, _fleet: FleetConfig | None) -> str:
        every = self.rt.config.daemon.analysis_interval
        if self._analysis_at is not None and state.now - self._analysis_at < every:
            state.analysis = self._analysis  # recent enough: reuse
            return ""
        try:
            state.analysis = _integration.analyze(self.rt, state.now)
        except (OptimizerError, _Skipped):
            raise
        except Exception as err:  # contained: see _history_crash
            raise _history_crash("analyze", err) from err
        self._analysis, self._analysis_at = state.analysis, state.now
        return "trends refreshed"

    def _plan(self, state: _TickState, fleet: FleetConfig | None) -> str:
        assert fleet is not None
        _skip_if_api_down(state)
        if state.vms is None:
            # the snapshot did not run or failed this tick: read the VM list now
            state.vms = self.rt.client.list_vms()
        plan = _integration.plan_fleet(self.rt, state, fleet)
        state.plans[fleet.name] = plan
        return _integration.describe_plan(plan)

    def _execute(self, state: _TickState, fleet: FleetConfig | None) -> str | Degraded:
        assert fleet is not None
        _skip_if_api_down(state)
        if self.rt.config.mode != "act":  # decided here and only here
            raise _Skipped(f"mode is {self.rt.config.mode}: dry run")
        if state.vms is None:
            state.vms = self.rt.client.list_vms()
        counts = _integration.execute_plan(self.rt, state, fleet, state.plans.get(fleet.name))
        for key, n in counts.items():
            if n:
                self._result_actions[key] += n
                if self.rt.metrics is not None:
                    kind, _, outcome = key.partition(":")
                    self.rt.metrics.actions.labels(kind, outcome or "done").inc(n)
        failed = _integration.failed_since(self.rt, fleet, state.now)
        if failed:  # the tick is "degraded" (and `once` exits 6), the other fleets go on
            n = sum(len(ids) for ids in failed.values())
            what = "; ".join(
                f"{', '.join(f'#{i}' for i in ids)} {error}" for error, ids in failed.items()
            )
            return Degraded(f"{n} action(s) failed: {what}")
        return ", ".join(f"{k}={v}" for k, v in sorted(counts.items()) if v)

    def _reap(self, state: _TickState, _fleet: FleetConfig | None) -> str | Degraded:
        """Delete our disks and IPs left without their VM (past `daemon.reaper_grace`)."""
        _skip_if_api_down(state)
        done = _integration.reap(self.rt, state)
        if done.errors:
            return Degraded(f"{len(done.errors)} delete(s) refused: {'; '.join(done.errors)}")
        return str(done.summary())

    def _alerts(self, state: _TickState, _fleet: FleetConfig | None) -> str:
        return _integration.alerts(self.rt, state, bool(state.plans), state.errors) or ""

    def _record_metrics(self, result: TickResult) -> None:
        m = self.rt.metrics
        if m is None:
            return
        m.ticks.labels(result.outcome).inc()
        m.tick_duration.set(result.wall_seconds)
        if self.last_snapshot is not None and result.finished is not None:
            m.snapshot_age.set((result.finished - self.last_snapshot).total_seconds())


def _history_crash(stage: str, err: Exception) -> AnalysisError:
    """An unexpected exception while analysing or rolling up stored history (pandas,
    numpy) must not take down the process that acts on VMs: both stages only read or
    summarize history (retention in one transaction, rolled back), and the planner works
    without trends. Log it with its traceback (it is a bug), fail the stage — the tick is
    degraded and alerted — and carry on. Added after a daemon died twice in chaos runs with
    numpy's "Cannot change data-type for array of references" (issue 16, not reproduced)."""
    log.error("stage crashed", stage=stage, error=f"{type(err).__name__}: {err}", exc_info=err)
    return AnalysisError(f"{stage} crashed: {type(err).__name__}: {err}")


def _skip_if_api_down(state: _TickState) -> None:
    """After the snapshot found the API unreachable this tick, don't pile more retries on
    it: planning and execution wait for the next tick (open actions stay journaled)."""
    if state.api_down is not None:
        raise _Skipped(f"API unavailable this tick ({state.api_down})")


class _Skipped(Exception):
    """The stage has nothing to do this tick."""


# ----------------------------------------------------------------------------------
# Integration: how each stage calls the module that owns it. Kept in one place so the
# order above stays readable.
# ----------------------------------------------------------------------------------
class _Integration:
    """Calls into the owning modules (imported lazily to keep `cycle` light to import)."""

    # -- snapshot → store ------------------------------------------------------------
    def store_snapshot(
        self, rt: Runtime, now: datetime, answer: bytes, vms: list[Any], seconds: float
    ) -> IngestSummary:
        from optimizer.store.ingest import ingest_snapshot, ingest_vms

        summary = ingest_snapshot(rt.engine, answer, now, seconds)
        ingest_vms(rt.engine, vms, now)
        return summary

    def account(self, rt: Runtime, state: _TickState) -> str | None:
        """Read the account's facts (balance, what bills per hour, this month's charges)
        into the tick and the store, where the API reports any (nothing is stored on an
        API that reports none), and list the foreign orphans (disks and IPs billing that
        the optimizer did not create; none where the API has no such resources). Return
        why either could not be read, or None. A failure here leaves the snapshot
        standing: the tick is degraded, the rule that needed it skipped."""
        from optimizer.budget import month_bounds
        from optimizer.executor.orphans import list_foreign_orphans, orphan_json
        from optimizer.store.account import save_account

        month, _ = month_bounds(state.now)
        try:
            facts = rt.client.account(month.date(), state.now.date())
        except ApiError as err:
            return f"account not read: {err}"
        state.account = facts
        prices = {r.id: r.per_hour for r in facts.resources or ()}
        problem = None
        try:
            state.orphans = list_foreign_orphans(rt.client, rt.engine, state.vms or [], prices)
        except ApiError as err:
            problem = f"disks and IPs not listed: {err}"
        if facts.known:
            orphans = None if state.orphans is None else [orphan_json(o) for o in state.orphans]
            save_account(rt.engine, facts, state.now, orphans=orphans)
        return problem

    def failed_snapshot(self, rt: Runtime, now: datetime, seconds: float, error: str) -> None:
        """Record a poll that got no answer, so alert rules can count outages."""
        from optimizer.store.ingest import record_failed_snapshot

        record_failed_snapshot(rt.engine, now, int(seconds * 1000), error)

    # -- analyze ---------------------------------------------------------------------
    def analyze(self, rt: Runtime, now: datetime) -> Any:
        """Recent price observations → planner `Trends` (forecast, slope per
        configuration × country; listing stability per datacenter; each offer's recent
        level)."""
        from optimizer.analysis import (
            datacenter_longevity,
            listing_stability,
            offer_longevity,
            price_signals,
        )
        from optimizer.analysis.levels import offer_levels, week_levels
        from optimizer.planner import Trends
        from optimizer.store.queries import price_observations

        since = now - ANALYSIS_WINDOW
        obs = price_observations(rt.engine, since, now)
        if obs.empty:
            raise _Skipped("no price history yet")
        forecast, slope = price_signals(obs, now=now, since=since)
        reliability = listing_stability(datacenter_longevity(offer_longevity(obs)))
        return Trends(
            reliability=reliability,
            forecast=forecast,
            slope=slope,
            levels=offer_levels(obs, now=now),
            week_levels=week_levels(obs, now=now),
        )

    # -- plan ------------------------------------------------------------------------
    def runner(self, rt: Runtime) -> Any:
        """The FleetRunner for `rt`, kept while its parts stay the same objects: fleets
        planned in one tick share it, so a later fleet sees the offer capacity an earlier
        fleet's plan claimed, and the executor's image cache lasts. A reloaded config (a new
        `Config` object) gets a new runner."""
        from optimizer.executor.fleets import FleetRunner

        parts = (rt.config, rt.client, rt.engine, rt.clock)
        if self._runner is None or not _same_objects(self._runner_for, parts):
            self._runner = FleetRunner(rt.client, rt.engine, rt.clock, rt.config)
            self._runner_for = parts
        return self._runner

    _runner: Any = None
    _runner_for: tuple[object, ...] = ()

    def plan_fleet(self, rt: Runtime, state: _TickState, fleet: FleetConfig) -> Any:
        runner = self.runner(rt)
        if state.offers is None:
            state.offers = self.offers(rt, state)
        return runner.plan(
            fleet,
            offers=state.offers,
            vms=state.vms or [],
            now=state.now,
            trends=state.analysis,
            balance_usd=None if state.account is None else state.account.balance,
            burn_per_epoch=None if state.account is None else state.account.burn_per_epoch,
        )

    def offers(self, rt: Runtime, state: _TickState) -> list[Any]:
        """The tick's offers as models for the planner: parsed from the snapshot's answer
        once per distinct answer (an unchanged market reuses the last parse; offers the
        snapshot skipped as malformed are left out), or fetched when no snapshot ran."""
        if state.answer is None:
            return rt.client.list_offers(None)
        from optimizer.fluence.offer_listings import answer_digest, offer_models

        digest = answer_digest(state.answer)
        if self._offers_of != digest:
            self._offers = offer_models(state.answer)
            self._offers_of = digest
        return self._offers

    _offers: list[Any] = []  # noqa: RUF012 — replaced, never mutated
    _offers_of: str | None = None

    def describe_plan(self, plan: Any) -> str:
        actions = getattr(plan, "actions", ())
        kinds = Counter(a.kind for a in actions)
        return ", ".join(f"{k}={n}" for k, n in sorted(kinds.items())) or "no actions"

    # -- execute ---------------------------------------------------------------------
    def has_open_actions(self, rt: Runtime, fleet: FleetConfig) -> bool:
        from optimizer.executor.journal import open_actions

        return bool(open_actions(rt.engine, fleet.name))

    def failed_since(
        self, rt: Runtime, fleet: FleetConfig, since: datetime
    ) -> dict[str, list[int]]:
        """The fleet's actions that failed at or after `since`: error → action ids."""
        from optimizer.executor.journal import failed_actions

        by_error: dict[str, list[int]] = {}
        for r in failed_actions(rt.engine, fleet.name, since):
            by_error.setdefault(f"{r.kind}: {r.error}", []).append(r.id or 0)
        return by_error

    def execute_plan(
        self, rt: Runtime, state: _TickState, fleet: FleetConfig, plan: Any
    ) -> Counter[str]:
        """Journal `plan` (when planned this tick) and advance the fleet's open actions
        one step each."""
        runner = self.runner(rt)
        if plan is None:
            return runner.advance(state.vms, fleet=fleet.name)  # type: ignore[no-any-return]
        return runner.execute(plan, state.vms)  # type: ignore[no-any-return]

    def reap(self, rt: Runtime, state: _TickState) -> Any:
        from optimizer.executor.reaper import reap

        return reap(rt.client, rt.engine, state.now, state.vms or [], rt.config.daemon.reaper_grace)

    # -- alerts ----------------------------------------------------------------------
    def alerts(
        self, rt: Runtime, state: _TickState, planned: bool, errors: list[OptimizerError]
    ) -> str | None:
        from optimizer.alerts.tick import run_alerts

        result = run_alerts(
            rt.engine,
            rt.config,
            state.now,
            plans=state.plans if planned else None,
            errors=errors,
            orphans=state.orphans,
        )
        m = rt.metrics
        budget = getattr(result, "budget", None)
        if m is not None and budget is not None:
            for scope in budget.scopes:
                name = "" if scope.scope == "total" else scope.scope
                if scope.actual_fraction is not None:
                    m.budget_used.labels("month", name).set(float(scope.actual_fraction))
                if scope.max_usd_per_epoch:
                    m.budget_used.labels("epoch", name).set(
                        float(scope.run_rate / scope.max_usd_per_epoch)
                    )
                if name:
                    m.fleet_cost.labels(name).set(float(scope.run_rate))
        return str(result.summary()) if hasattr(result, "summary") else None

    # -- metrics that need the store ---------------------------------------------------
    def fleet_metrics(self, rt: Runtime, state: _TickState) -> None:
        """VMs by status per fleet (owned VMs only) and realized savings per fleet."""
        m = rt.metrics
        if m is None or state.vms is None:
            return
        from optimizer.executor.journal import owned_ids, savings

        for fleet in rt.config.fleets:
            owned = owned_ids(rt.engine, fleet.name)
            mine = [v for v in state.vms if v.id in owned]
            statuses = Counter(v.status for v in mine)
            for status in VmStatus:
                m.vms.labels(fleet.name, status).set(statuses.get(status, 0))
        for name, fs in savings(rt.engine, state.now).items():
            m.realized_savings.labels(name).set(float(fs.realized))


def _same_objects(a: tuple[object, ...], b: tuple[object, ...]) -> bool:
    """Element-wise identity (a fresh tuple is never `is` another one)."""
    return len(a) == len(b) and all(x is y for x, y in zip(a, b, strict=True))


_integration = _Integration()

__all__ = ["STAGES", "Cycle", "Degraded", "Runtime", "StageOutcome", "TickResult"]
