"""A pre-imported parent that forks real daemon processes for the chaos test (not a test).

Starting `fluence-optimizer run` costs 1-3 s of imports on a loaded 2-core box, which
makes 50+ kill/restart cycles too slow for CI. This process imports the daemon once and
then, for every `spawn` line on stdin, forks a child that runs the *real* daemon loop
(`open_daemon(...)` + `Daemon.run()`, act mode, loopback HTTP to the simulator, a real
SQLite file). The test kills those children with a real SIGKILL; nothing is shared
with the parent after the fork (the store, the HTTP client and the lock are opened in
the child).

Time: both the simulator (in the test process) and the daemon use `SharedClock`, an
accelerated clock computed from the wall clock (`start + factor × (time.time() - t0)`),
so both processes agree on simulated time without talking to each other, and time keeps
running while the daemon is dead (as it would in production).

The clock starts when the test says so (`SharedClock.begin`, after this process is
ready), so the 1-3 s of imports here do not pass as simulated hours before the first
daemon runs; each `spawn` line carries that start (t0).

Usage: python -m tests.reliability.chaos_zygote CONFIG FACTOR START_ISO LOGFILE
with FLUENCE_API_KEY in the environment. Protocol: it prints `ready`; `spawn T0` → prints
the child pid; `quit` → exits. Children are reaped as they die.
"""

from __future__ import annotations

import os
import sys
import time
from datetime import datetime, timedelta


class SharedClock:
    """Accelerated simulated time derived from the wall clock (same in every process).

    Implements optimizer.clock.Clock (now/sleep) and the `advance` the simulator expects
    (not supported: time is shared, so nobody may move it alone)."""

    def __init__(self, start: datetime, t0: float | None, factor: float) -> None:
        self.start, self.t0, self.factor = start, t0, factor

    def begin(self) -> float:
        """Start the clock now (until then it shows `start`); returns t0 for the others."""
        self.t0 = time.time()
        return self.t0

    def now(self) -> datetime:
        if self.t0 is None:
            return self.start
        return self.start + timedelta(seconds=(time.time() - self.t0) * self.factor)

    def sleep(self, seconds: float) -> None:
        if seconds > 0:
            time.sleep(seconds / self.factor)

    def advance(self, delta: object) -> datetime:  # pragma: no cover - guard only
        raise RuntimeError("SharedClock is shared between processes: it cannot be advanced")

    def real_seconds(self, sim_seconds: float) -> float:
        return sim_seconds / self.factor


def _child(config_path: str, clock: SharedClock, logfile: str) -> int:
    from optimizer.config import load_config
    from optimizer.daemon.loop import LoopOptions
    from optimizer.daemon.service import open_daemon

    config = load_config(config_path)
    with (
        open(logfile, "a", encoding="utf-8") as stream,
        open_daemon(
            config,
            clock=clock,
            api_key=os.environ["FLUENCE_API_KEY"],
            log_stream=stream,
            log_json=True,
            metrics=False,
        ) as daemon,
    ):
        # wake every simulated minute: on this clock a sleep is real time / factor
        return daemon.run(LoopOptions(sleep_chunk=timedelta(minutes=1)))


_DAEMON_MODULES = (
    "optimizer.cycle",
    "optimizer.daemon.service",
    "optimizer.store.engine",
    "optimizer.store.ingest",
    "optimizer.store.queries",
    "optimizer.store.retention",
    "optimizer.analysis",
    "optimizer.planner",
    "optimizer.executor.fleets",
    "optimizer.executor.journal",
    "optimizer.alerts.tick",
    "alembic.command",
    "alembic.script",
    "alembic.runtime.migration",
)


def main(argv: list[str]) -> int:
    config_path, factor, start, logfile = argv
    clock = SharedClock(datetime.fromisoformat(start), None, float(factor))
    # import everything the daemon needs before forking (the stages import their modules
    # lazily): children start in milliseconds. On this accelerated clock a second of
    # imports would pass as ten simulated minutes of a dead daemon at every restart.
    import importlib

    for module in _DAEMON_MODULES:
        importlib.import_module(module)

    print("ready", flush=True)
    for line in sys.stdin:
        while True:  # reap dead children
            try:
                pid, _ = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                break
            if pid == 0:
                break
        cmd, _, arg = line.strip().partition(" ")
        if cmd == "quit":
            break
        if cmd != "spawn":
            continue
        clock.t0 = float(arg)
        pid = os.fork()
        if pid == 0:
            code = 1
            try:
                sys.stdin.close()
                code = _child(config_path, clock, logfile)
            except BaseException as err:  # noqa: BLE001 - the child must never return here
                import traceback

                with open(logfile, "a", encoding="utf-8") as f:
                    f.write(f"CHILD CRASH: {type(err).__name__}: {err}\n")
                    f.write("".join(traceback.format_exception(err)))
            finally:
                os._exit(code)
        print(pid, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
