"""Issue 19, "Also": the metrics endpoint has no authentication, so listening beyond
loopback is warned about; the unit carries the smtp-password credential the README
documents."""

from __future__ import annotations

from pathlib import Path

import pytest

from optimizer.daemon.service import open_daemon
from optimizer.sim import SimClock, Simulator
from tests.daemon.helpers import LogBuffer, make_config

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(("listen", "warned"), [("0.0.0.0:0", True), ("127.0.0.1:0", False)])
def test_metrics_beyond_loopback_is_warned_about(tmp_path: Path, listen: str, warned: bool) -> None:
    sim = Simulator(seed=3, clock=SimClock.stepped())
    cfg = make_config(f"sqlite:///{tmp_path / 'm.db'}", mode="observe")
    cfg.metrics.listen = listen
    logs = LogBuffer()
    with open_daemon(cfg, clock=sim.clock, transport=sim.transport(), api_key=sim.api_key,
                     install_signals=False, log_stream=logs, log_json=True):  # fmt: skip
        pass
    events = [e for e in logs.events() if "no authentication" in e["event"]]
    assert bool(events) is warned
    if warned:
        assert events[0]["level"] == "warning" and events[0]["listen"] == listen


def test_unit_has_the_smtp_credential_the_docs_document() -> None:
    unit = (ROOT / "systemd" / "fluence-optimizer.service").read_text().splitlines()
    line = "LoadCredential=smtp-password:/etc/fluence-optimizer/smtp-password"
    assert f"#{line}" in unit  # commented: a missing file would stop the unit
    assert "LoadCredential=smtp-password:" in (ROOT / "docs/guides/budgets-alerts.md").read_text()
