"""The command sink: runs a program with the alert JSON on stdin (no shell).

The child gets a minimal environment — PATH and LANG, plus the variables named in the
sink's `pass_env` — never the daemon's own: not `FLUENCE_API_KEY`, not
`CREDENTIALS_DIRECTORY` (config validation refuses to pass either). It runs in its own
process group (session), and on timeout the whole group is killed, so a script's
children do not outlive it. The alert JSON holds API strings (VM names...) verbatim:
the program must treat them as untrusted.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
from collections.abc import Mapping, Sequence

from optimizer.alerts.model import Alert
from optimizer.alerts.sinks import SinkError

DEFAULT_PATH = "/usr/local/bin:/usr/bin:/bin"


def child_env(pass_env: Sequence[str], environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment a command sink's program gets: PATH and LANG (defaults when the
    daemon has none), and each variable of `pass_env` that is set."""
    env = os.environ if environ is None else environ
    out = {"PATH": env.get("PATH") or DEFAULT_PATH, "LANG": env.get("LANG") or "C.UTF-8"}
    for name in pass_env:
        if name in env:
            out[name] = env[name]
    return out


class CommandSink:
    def __init__(
        self, name: str, command: list[str], timeout: float, pass_env: Sequence[str] = ()
    ) -> None:
        self.name = name
        self.command = list(command)
        self.timeout = timeout
        self.pass_env = list(pass_env)

    def send(self, alert: Alert) -> None:
        """Run the command; raise SinkError when it cannot start, times out (its process
        group is killed) or exits non-zero (with the last line of its stderr)."""
        try:
            proc = subprocess.Popen(
                self.command,
                stdin=subprocess.PIPE,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
                env=child_env(self.pass_env),
                start_new_session=True,  # its own process group, killed as one
                close_fds=True,
            )
        except OSError as e:
            raise SinkError(f"command {self.command[0]}: {e.strerror}") from None
        try:
            _, stderr = proc.communicate(alert.to_json().encode(), timeout=self.timeout)
        except subprocess.TimeoutExpired:
            _kill_group(proc)
            raise SinkError(
                f"command {self.command[0]}: timed out after {self.timeout:g}s"
            ) from None
        if proc.returncode != 0:
            tail = stderr.decode(errors="replace").strip().splitlines()[-1:] or [""]
            raise SinkError(
                f"command {self.command[0]}: exit {proc.returncode}"
                + (f": {tail[0][:200]}" if tail[0] else "")
            )


def _kill_group(proc: subprocess.Popen[bytes]) -> None:
    """SIGKILL the process group `proc` leads (it and every child it started), reap it
    and close the pipes without reading them (a child that left the group may still
    hold them open)."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(timeout=5)
    for pipe in (proc.stdin, proc.stderr):
        if pipe is not None:
            with contextlib.suppress(OSError):
                pipe.close()
