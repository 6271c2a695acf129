"""`plan` on the cloud face of the simulator over loopback HTTP: the plan reads the
account's balance like the daemon's tick and does not deploy what Fluence's 6-hour
creation floor would refuse; it speaks per hour and names no deposits."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from optimizer.cli.main import main
from optimizer.sim import SimClock, Simulator, start_server
from optimizer.sim.cloud import CloudConfig

pytestmark = pytest.mark.http

KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl ops"


def _plan(tmp_path, capsys, monkeypatch, balance: str) -> dict:
    sim = Simulator(
        seed=5,
        clock=SimClock.stepped(datetime(2026, 3, 10, 6, tzinfo=UTC)),
        cloud=CloudConfig(failure_rate=0.0),
    )
    sim.cloud.set_balance(Decimal(balance))
    with start_server(sim, api="cloud") as srv:
        cfg = tmp_path / "c.toml"
        cfg.write_text(
            f"""
mode = "recommend"
[api]
base_url = "{srv.url}"
generation = "cloud"
[database]
url = "sqlite:///{tmp_path / "c.db"}"
[[fleets]]
name = "web"
instances = 2
os_image = "https://images.example/ubuntu.img"
ssh_keys = ["{KEY}"]
"""
        )
        monkeypatch.setenv("FLUENCE_API_KEY", sim.api_key)
        try:
            main(["-c", str(cfg), "plan", "--json"])
        except SystemExit as e:
            assert not e.code
        (plan,) = json.loads(capsys.readouterr().out)
    return plan


def test_plan_on_cloud_deploys_only_what_the_balance_floor_allows(
    tmp_path, capsys, monkeypatch
) -> None:
    rich = _plan(tmp_path, capsys, monkeypatch, "1000")
    assert rich["billing"] == "per-second" and rich["depositsNeededUsd"] == "0"
    assert [a["kind"] for a in rich["actions"]] == ["deploy", "deploy"]
    assert "/epoch" not in json.dumps(rich)

    broke = _plan(tmp_path, capsys, monkeypatch, "0")
    assert broke["actions"] == []
    (note,) = broke["notes"]
    assert note.startswith("2 VM(s) not deployed: the balance $0")
    assert "would not cover 6 h of all the account's resources" in note
