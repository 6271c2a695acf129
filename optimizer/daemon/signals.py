"""Signals → flags the loop reads between steps. Handlers never raise into running code,
so whatever the executor is doing (one journaled step) finishes and is recorded.

- SIGTERM / SIGINT: `stop` is set. The loop stops starting new work: the executor is
  handed `should_stop`, finishes its current step, the tick ends, the loop exits 0.
- SIGHUP: `reload` is set; the loop reloads and validates the config before its next
  tick (keeping the old one, and saying why, when the new one is invalid).
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable
from types import FrameType
from typing import Any


class Controller:
    """What the signals asked for. Thread-safe; usable without installing handlers
    (tests and the demo call `request_stop()` / `request_reload()` directly)."""

    def __init__(self) -> None:
        self.stop = threading.Event()
        self._reload = threading.Event()
        self.wake = threading.Event()  # set by any request: interrupts an idle wait
        self._previous: dict[int, Any] = {}
        self.stop_reason: str | None = None

    def request_stop(self, reason: str = "requested") -> None:
        if not self.stop.is_set():
            self.stop_reason = reason
        self.stop.set()
        self.wake.set()

    def request_reload(self) -> None:
        self._reload.set()
        self.wake.set()

    def should_stop(self) -> bool:
        return self.stop.is_set()

    def take_reload(self) -> bool:
        """True once per SIGHUP (clears the request)."""
        if self._reload.is_set():
            self._reload.clear()
            return True
        return False

    def wait(self, seconds: float) -> bool:
        """Sleep up to `seconds` of real time, returning early (True) on any request."""
        woke = self.wake.wait(max(0.0, seconds))
        self.wake.clear()
        return woke or self.stop.is_set()

    # -- OS signals ------------------------------------------------------------------
    def install(self) -> None:
        """Install SIGTERM/SIGINT/SIGHUP handlers (main thread only)."""
        handlers: dict[int, Callable[[int, FrameType | None], None]] = {
            signal.SIGTERM: self._on_stop,
            signal.SIGINT: self._on_stop,
            signal.SIGHUP: self._on_hup,
        }
        for sig, fn in handlers.items():
            self._previous[sig] = signal.signal(sig, fn)

    def uninstall(self) -> None:
        for sig, prev in self._previous.items():
            signal.signal(sig, prev)
        self._previous.clear()

    def _on_stop(self, signum: int, _frame: FrameType | None) -> None:
        # no logging here: a handler can interrupt a thread holding the log stream's lock
        self.request_stop(signal.Signals(signum).name)

    def _on_hup(self, _signum: int, _frame: FrameType | None) -> None:
        self.request_reload()
