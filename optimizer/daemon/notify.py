"""sd_notify without a dependency: a few datagrams on $NOTIFY_SOCKET.

systemd (Type=notify) passes the path of an AF_UNIX datagram socket in `$NOTIFY_SOCKET`
(a leading `@` means the abstract namespace). We send `READY=1` once the first tick has
succeeded or degraded cleanly, `STATUS=...` lines saying what the daemon is doing,
`WATCHDOG=1` pings when `$WATCHDOG_USEC` is set, and `STOPPING=1` on shutdown.
Outside systemd every call is a silent no-op.
"""

from __future__ import annotations

import os
import socket
import time
from datetime import timedelta


class Notifier:
    """Send sd_notify messages; a no-op when `$NOTIFY_SOCKET` is unset.

    Failures to send are swallowed: the service manager is a listener, never a
    dependency of a tick.
    """

    def __init__(self, environ: dict[str, str] | None = None) -> None:
        env = os.environ if environ is None else environ
        self._address = env.get("NOTIFY_SOCKET") or None
        usec = env.get("WATCHDOG_USEC", "")
        pid = env.get("WATCHDOG_PID", "")
        self.watchdog: timedelta | None = None
        if usec.isdigit() and int(usec) > 0 and (not pid or pid == str(os.getpid())):
            self.watchdog = timedelta(microseconds=int(usec))
        self._sock: socket.socket | None = None
        self.ready_sent = False
        self._last_ping: float | None = None

    @property
    def enabled(self) -> bool:
        return self._address is not None

    def _send(self, message: str) -> bool:
        if self._address is None:
            return False
        addr = self._address
        if addr.startswith("@"):
            addr = "\0" + addr[1:]
        try:
            if self._sock is None:
                self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC)
            self._sock.sendto(message.encode("utf-8", "replace"), addr)
        except OSError:
            return False
        return True

    def ready(self, status: str | None = None) -> None:
        """`READY=1` (once), with an optional status line."""
        if self.ready_sent:
            if status:
                self.status(status)
            return
        self.ready_sent = True
        self._send("READY=1" + (f"\nSTATUS={_one_line(status)}" if status else ""))

    def status(self, text: str) -> None:
        self._send(f"STATUS={_one_line(text)}")

    def ping(self) -> None:
        """`WATCHDOG=1` when the watchdog is enabled, at most every quarter of its period."""
        if self.watchdog is None:
            return
        now = time.monotonic()
        if (
            self._last_ping is not None
            and now - self._last_ping < self.watchdog.total_seconds() / 4
        ):
            return
        self._last_ping = now
        self._send("WATCHDOG=1")

    def reloading(self) -> None:
        """`RELOADING=1`; follow with `reloaded()` once the new config is in place."""
        self._send("RELOADING=1")

    def reloaded(self, status: str | None = None) -> None:
        """`READY=1` again after a reload (what systemd expects after RELOADING=1)."""
        self._send("READY=1" + (f"\nSTATUS={_one_line(status)}" if status else ""))

    def stopping(self, status: str | None = None) -> None:
        self._send("STOPPING=1" + (f"\nSTATUS={_one_line(status)}" if status else ""))

    def close(self) -> None:
        if self._sock is not None:
            self._sock.close()
            self._sock = None


def _one_line(text: str) -> str:
    return " ".join(text.split())[:200]
