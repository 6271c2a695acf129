"""The systemd unit: security exposure <= 1.5 and `systemd-analyze verify` clean."""

from __future__ import annotations

import itertools
import re
import shutil
import subprocess
from pathlib import Path

import pytest

UNIT = Path(__file__).resolve().parents[2] / "systemd" / "fluence-optimizer.service"
ANALYZE = shutil.which("systemd-analyze") or (
    "/usr/bin/systemd-analyze" if Path("/usr/bin/systemd-analyze").exists() else None
)
needs_analyze = pytest.mark.skipif(ANALYZE is None, reason="systemd-analyze is not installed")


@needs_analyze
def test_unit_security_exposure_is_at_most_1_5() -> None:
    out = subprocess.run(
        [ANALYZE, "security", "--offline=true", str(UNIT)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    m = re.search(r"Overall exposure level for .*?: (\d+\.\d+)", out.stdout + out.stderr)
    assert m, out.stdout[-2000:] + out.stderr[-2000:]
    assert float(m[1]) <= 1.5


@needs_analyze
def test_unit_verifies_clean(tmp_path: Path) -> None:
    """verify wants ExecStart to exist: substitute an executable that does."""
    text = UNIT.read_text().replace("/usr/local/bin/fluence-optimizer", "/bin/true")
    unit = tmp_path / UNIT.name
    unit.write_text(text)
    out = subprocess.run([ANALYZE, "verify", str(unit)], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0 and out.stderr.strip() == "", out.stderr


def test_unit_declares_notify_and_hardening_with_a_comment_per_line() -> None:
    lines = UNIT.read_text().splitlines()
    settings = {line.split("=", 1)[0] for line in lines if "=" in line and line[0] != "#"}
    for needed in (
        "Type",
        "DynamicUser",
        "StateDirectory",
        "ConfigurationDirectory",
        "LoadCredential",
        "ProtectSystem",
        "NoNewPrivileges",
        "WatchdogSec",
    ):
        assert needed in settings
    assert "Type=notify" in lines
    assert "LoadCredential=fluence-api-key:/etc/fluence-optimizer/api-key" in lines
    # every setting in [Service] is preceded by a comment (or another setting of one group)
    in_service = False
    for prev, line in itertools.pairwise(lines):
        if line.startswith("["):
            in_service = line == "[Service]"
            continue
        if in_service and "=" in line and not line.startswith("#"):
            assert prev.startswith("#") or "=" in prev, f"uncommented setting: {line}"
