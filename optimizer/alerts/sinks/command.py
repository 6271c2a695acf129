"""The command sink: runs a program with the alert JSON on stdin (no shell)."""

from __future__ import annotations

import subprocess

from optimizer.alerts.model import Alert
from optimizer.alerts.sinks import SinkError


class CommandSink:
    def __init__(self, name: str, command: list[str], timeout: float) -> None:
        self.name = name
        self.command = list(command)
        self.timeout = timeout

    def send(self, alert: Alert) -> None:
        """Run the command; raise SinkError when it cannot start, times out (it is
        killed) or exits non-zero (with the last line of its stderr)."""
        try:
            proc = subprocess.run(
                self.command,
                input=alert.to_json().encode(),
                capture_output=True,
                timeout=self.timeout,
                check=False,
            )
        except subprocess.TimeoutExpired:
            raise SinkError(
                f"command {self.command[0]}: timed out after {self.timeout:g}s"
            ) from None
        except OSError as e:
            raise SinkError(f"command {self.command[0]}: {e.strerror}") from None
        if proc.returncode != 0:
            tail = proc.stderr.decode(errors="replace").strip().splitlines()[-1:] or [""]
            raise SinkError(
                f"command {self.command[0]}: exit {proc.returncode}"
                + (f": {tail[0][:200]}" if tail[0] else "")
            )
