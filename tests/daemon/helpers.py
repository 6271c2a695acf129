"""Shared helpers for the daemon tests (not a test module)."""

from __future__ import annotations

import base64
import io
import subprocess
import sys
from pathlib import Path
from typing import Any

from optimizer.config import Config, parse_config

_BLOB = b"\x00\x00\x00\x0bssh-ed25519\x00\x00\x00\x20" + bytes(range(32))
SSH_KEY = "ssh-ed25519 " + base64.b64encode(_BLOB).decode() + " test@example"
IMAGE = (
    "https://cloud-images.ubuntu.com/releases/22.04/release/ubuntu-22.04-server-cloudimg-amd64.img"
)


def fleet(name: str = "web", instances: int = 2, **extra: Any) -> dict[str, Any]:
    return {
        "name": name,
        "instances": instances,
        "os_image": IMAGE,
        "ssh_keys": [SSH_KEY],
        "constraints": {"configurations": ["cpu-2-ram-4gb-storage-25gb"]},
        **extra,
    }


def make_config(db_url: str, *, mode: str = "act", fleets: int = 1, **daemon: Any) -> Config:
    data: dict[str, Any] = {
        "mode": mode,
        "database": {"url": db_url},
        "daemon": {"snapshot_interval": "15m", "plan_interval": "1h", "jitter": 0, **daemon},
        "fleets": [fleet("web"), fleet("batch", 1)][:fleets],
    }
    return parse_config(data, "test.toml")


def config_toml(db_url: str, api_url: str | None = None, **daemon: str) -> str:
    """The same config as TOML text (for subprocess daemons)."""
    d = {"snapshot_interval": "15m", "plan_interval": "1h", "jitter": "0", **daemon}
    lines = [
        'mode = "act"',
        "[database]",
        f'url = "{db_url}"',
        "[daemon]",
        *(f"{k} = {v}" if k == "jitter" else f'{k} = "{v}"' for k, v in d.items()),
    ]
    if api_url:
        lines += ["[api]", f'base_url = "{api_url}"', 'timeout = "5s"', "max_retries = 1"]
    lines += [
        "[[fleets]]",
        'name = "web"',
        "instances = 2",
        f'os_image = "{IMAGE}"',
        f'ssh_keys = ["{SSH_KEY}"]',
        "[fleets.constraints]",
        'configurations = ["cpu-2-ram-4gb-storage-25gb"]',
    ]
    return "\n".join(lines) + "\n"


class LogBuffer(io.StringIO):
    """A log stream whose JSON lines can be read back."""

    def events(self) -> list[dict[str, Any]]:
        import json

        return [json.loads(line) for line in self.getvalue().splitlines() if line.startswith("{")]


ROOT = Path(__file__).resolve().parents[2]


def demo_cli(*args: str) -> str:
    """`fluence-optimizer demo --no-progress ARGS…` in a child process, as from a shell
    (a clean environment, 120 columns); its stdout. Fails the test on a non-zero exit."""
    proc = subprocess.run(
        [sys.executable, "-m", "optimizer", "demo", "--no-progress", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin", "COLUMNS": "120"},
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc.stdout
