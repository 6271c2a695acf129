"""The daemon loop: repeat the cycle forever (or until told to stop).

    once():  one forced cycle (every stage), for a systemd timer or cron.
    run():   first cycle at start, then whenever a stage is due (snapshot_interval,
             plan_interval), each interval stretched or shrunk by up to `daemon.jitter`.

Guarantees:
- ticks never overlap: one thread runs them back to back; a tick that overruns its
  interval makes the next start right after it (logged), never two at once;
- an API outage degrades: the failing tick is logged and alerted (by the cycle), the
  loop retries sooner with exponential backoff (30 s, 60 s, ... capped at the snapshot
  interval) instead of crashing or spinning;
- SIGTERM/SIGINT (see signals.py): the current executor step finishes and is recorded,
  then `run` returns 0; SIGHUP reloads and validates the config, keeping the old one on
  error;
- sd_notify: READY=1 after the first tick (ok or degraded), STATUS=... lines, WATCHDOG=1
  between ticks and while waiting.

The loop only knows `Clock.now()/sleep()`: production passes SystemClock, the demo and
tests pass the simulator's stepped clock.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

import structlog

from optimizer.clock import SystemClock
from optimizer.config import Config
from optimizer.cycle import Cycle, Runtime, StageOutcome, TickResult
from optimizer.daemon.leader import LeaderElector, follower_poll
from optimizer.daemon.notify import Notifier
from optimizer.daemon.signals import Controller
from optimizer.errors import ConfigError

log = structlog.get_logger("optimizer.daemon")

RETRY_BASE = timedelta(seconds=30)


@dataclass
class LoopOptions:
    """How `run` waits and when it ends (defaults: production, forever)."""

    #: wake at least this often while idle (signals, watchdog). None: one sleep per wait
    #: (stepped clocks, where a sleep advances simulated time).
    sleep_chunk: timedelta | None = timedelta(seconds=1)
    max_ticks: int | None = None
    until: datetime | None = None  # stop once the clock reaches this instant
    on_tick: Callable[[TickResult], None] | None = None


class Daemon:
    """Repeats `Cycle.run` over an injected clock; see the module docstring."""

    def __init__(
        self,
        runtime: Runtime,
        *,
        controller: Controller | None = None,
        notifier: Notifier | None = None,
        reload: Callable[[], Config] | None = None,
        rng: random.Random | None = None,
        elector: LeaderElector | None = None,
    ) -> None:
        self.rt = runtime
        self.controller = controller or Controller()
        self.notifier = notifier or Notifier(environ={})
        self._reload = reload
        self.rng = rng or random.Random()
        self.elector = elector
        self.elector_was_leader = False
        runtime.should_stop = self._stop_fleets
        self.cycle = Cycle(runtime, rng=self.rng)
        self.ticks = 0
        self.api_failures = 0

    # -- one cycle -------------------------------------------------------------------
    def tick(self, *, force: bool = False) -> TickResult:
        self.ticks += 1
        if self.elector is not None and not self.elector.tick():
            return self._follow()
        self.elector_was_leader = True
        self.notifier.status(f"tick {self.ticks}: running")
        result = self.cycle.run(self.ticks, force=force)
        self.api_failures = self.api_failures + 1 if result.api_down else 0
        self.notifier.ping()
        return result

    def _follow(self) -> TickResult:
        """A follower's tick: no stage runs (the leader snapshots, plans and executes)."""
        now = self.rt.clock.now()
        result = TickResult(tick=self.ticks, started=now, finished=now)
        result.outcomes.append(StageOutcome("leader", None, "skipped", "another replica leads"))
        if self.ticks == 1 or self.elector_was_leader:
            log.info("following: another replica leads; this one only waits to take over")
        self.elector_was_leader = False
        self.notifier.status(f"tick {self.ticks}: follower (another replica leads)")
        self.notifier.ping()
        return result

    def _stop_fleets(self) -> bool:
        """Stop between fleets on a signal, or once this replica lost leadership mid-tick."""
        lost = self.elector is not None and not self.elector.is_leader
        return self.controller.should_stop() or lost

    def once(self) -> TickResult:
        """Run every stage once (forced) and return the result."""
        result = self.tick(force=True)
        self.notifier.ready(_status(result))
        return result

    # -- the loop --------------------------------------------------------------------
    def run(self, options: LoopOptions | None = None) -> int:
        """Run until stopped (signal, `max_ticks`, `until`). Returns the exit code (0).

        Expected failures never leave this loop; unexpected ones propagate.
        """
        opts = options or LoopOptions()
        clock = self.rt.clock
        log.info("daemon started", mode=self.rt.config.mode, fleets=len(self.rt.config.fleets))
        while not self.controller.should_stop():
            self._maybe_reload()
            result = self.tick()
            if opts.on_tick is not None:
                opts.on_tick(result)
            self.notifier.ready(_status(result))
            if self.controller.should_stop():
                break
            if opts.max_ticks is not None and self.ticks >= opts.max_ticks:
                break
            wait = self._next_wait(result)
            if opts.until is not None:
                left = (opts.until - clock.now()).total_seconds()
                if left <= 0:
                    break
                wait = min(wait, left)
            self.notifier.status(f"tick {self.ticks} {result.outcome}; next in {wait:.0f}s")
            self._wait(wait, opts)
            if opts.until is not None and clock.now() >= opts.until:
                break
        reason = self.controller.stop_reason or "finished"
        log.info("daemon stopped", reason=reason, ticks=self.ticks)
        self.notifier.stopping(f"stopped ({reason})")
        return 0

    def _next_wait(self, result: TickResult) -> float:
        """Seconds until the next tick: backoff after an API outage, else until due ± jitter."""
        if self.elector is not None and not self.elector.is_leader:
            return follower_poll(self.rt.config).total_seconds()
        snapshot_s = self.rt.config.daemon.snapshot_interval.total_seconds()
        if result.api_down or any(o.stage == "snapshot" for o in result.failures):
            n = max(self.api_failures, 1)
            wait = min(RETRY_BASE.total_seconds() * 2.0 ** (n - 1), snapshot_s)
            log.warning("snapshot failed; retrying with backoff", retry_in_s=wait, failures=n)
            return wait
        wait = (self.cycle.next_due() - self.rt.clock.now()).total_seconds()
        if wait <= 0:
            log.warning("tick overran its interval; next tick starts now", overrun_s=-wait)
            return 0.0
        return wait

    def _wait(self, seconds: float, opts: LoopOptions) -> None:
        clock = self.rt.clock
        real = isinstance(clock, SystemClock)
        end = clock.now() + timedelta(seconds=seconds)
        while not self.controller.should_stop():
            left = (end - clock.now()).total_seconds()
            if left <= 0:
                return
            step = left if opts.sleep_chunk is None else min(left, opts.sleep_chunk.total_seconds())
            if real:
                self.controller.wait(step)  # a signal wakes it at once
            else:
                clock.sleep(step)
            self.notifier.ping()
            if self.controller.take_reload():
                self._apply_reload()

    def _maybe_reload(self) -> None:
        if self.controller.take_reload():
            self._apply_reload()

    def _apply_reload(self) -> None:
        if self._reload is None:
            log.warning("reload requested but this daemon has no config file to reload")
            return
        self.notifier.reloading()
        try:
            new = self._reload()
        except ConfigError as err:
            log.error(
                "configuration reload failed; keeping the previous configuration",
                why=str(err),
            )
            self.notifier.reloaded("reload failed; previous configuration kept")
            return
        old = self.rt.config
        if new.database.url != old.database.url:
            log.warning("database.url changed: takes effect after a restart")
            new.database.url = old.database.url
        if new.api != old.api:
            log.warning("[api] settings changed: take effect after a restart")
        self.rt.config = new
        log.info("configuration reloaded", mode=new.mode, fleets=len(new.fleets))
        self.notifier.reloaded("configuration reloaded")


def _status(result: TickResult) -> str:
    acts = sum(result.actions.values())
    return f"tick {result.tick} {result.outcome}: {acts} actions" + (
        f", {len(result.failures)} failures" if result.failures else ""
    )
