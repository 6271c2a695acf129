"""Run `check-config` on a one-fleet file and return its exit code and output."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.cli_run import run_main

KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl ops"


def check_one_fleet(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], generation: str, fleet_tail: str
) -> tuple[int, str]:
    """`check-config` on a file with `[api] generation` and one fleet `web`, whose TOML
    ends with `fleet_tail` (keys or a sub-table)."""
    p = tmp_path / "c.toml"
    p.write_text(
        f"""
[api]
generation = "{generation}"
[[fleets]]
name = "web"
instances = 1
os_image = "https://i.example/u.img"
ssh_keys = ["{KEY}"]
{fleet_tail}
"""
    )
    code, out, _ = run_main(capsys, "-c", str(p), "check-config")
    return code, out
