"""The simulator's clock: stepped (tests move it), accelerated (factor × real time), or real.

`SimClock` implements `optimizer.clock.Clock`, so the daemon can run on simulated time:
on a stepped clock `sleep(s)` advances the clock by `s` at once; on an accelerated clock
it sleeps `s / factor` real seconds; on a real clock it sleeps `s`.
Every clock can also be pushed forward with `advance()` (an offset added to its time).
"""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta
from typing import Literal

from optimizer.clock import utc

#: Fixed default start, so a seeded simulation is reproducible.
DEFAULT_START = datetime(2026, 1, 1, tzinfo=UTC)

ClockMode = Literal["stepped", "accelerated", "real"]


class SimClock:
    """Simulated time, aware UTC.

    - `SimClock()` / `SimClock.stepped(start)`: time stands still until `advance()` or `sleep()`.
    - `SimClock.accelerated(factor, start)`: `start + factor × (real time since creation)`.
    - `SimClock.real(start=None)`: wall-clock time (from `start` if given, else now).
    """

    def __init__(
        self,
        start: datetime | None = None,
        *,
        mode: ClockMode = "stepped",
        factor: float = 1.0,
    ) -> None:
        if mode not in ("stepped", "accelerated", "real"):
            raise ValueError(f"unknown clock mode {mode!r}")
        if factor <= 0:
            raise ValueError("clock factor must be > 0")
        self.mode: ClockMode = mode
        self.factor = factor if mode == "accelerated" else 1.0
        if start is None:
            start = datetime.now(UTC) if mode == "real" else DEFAULT_START
        self.start = utc(start)
        self._offset = timedelta(0)
        self._real0 = time.monotonic()
        self._lock = threading.Lock()

    @classmethod
    def stepped(cls, start: datetime | None = None) -> SimClock:
        return cls(start, mode="stepped")

    @classmethod
    def accelerated(cls, factor: float, start: datetime | None = None) -> SimClock:
        return cls(start, mode="accelerated", factor=factor)

    @classmethod
    def real(cls, start: datetime | None = None) -> SimClock:
        return cls(start, mode="real")

    def now(self) -> datetime:
        """Current simulated time (aware UTC)."""
        with self._lock:
            if self.mode == "stepped":
                return self.start + self._offset
            elapsed = (time.monotonic() - self._real0) * self.factor
            return self.start + self._offset + timedelta(seconds=elapsed)

    def advance(self, delta: timedelta | float) -> datetime:
        """Move simulated time forward by `delta` (timedelta or seconds); return the new now."""
        if not isinstance(delta, timedelta):
            delta = timedelta(seconds=float(delta))
        if delta < timedelta(0):
            raise ValueError("the simulated clock never goes backwards")
        with self._lock:
            self._offset += delta
        return self.now()

    def sleep(self, seconds: float) -> None:
        """Let `seconds` of simulated time pass (see the module docstring)."""
        if seconds <= 0:
            return
        if self.mode == "stepped":
            self.advance(timedelta(seconds=seconds))
        else:
            time.sleep(seconds / self.factor)

    def __repr__(self) -> str:
        return f"SimClock(mode={self.mode!r}, factor={self.factor}, now={self.now().isoformat()})"
