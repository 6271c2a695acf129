"""`plan` on the cloud face of the simulator over loopback HTTP: the plan reads the
account's balance like the daemon's tick and does not deploy what Fluence's 6-hour
creation floor would refuse; it speaks per hour and names no deposits."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from optimizer.sim import SimClock, Simulator, start_server
from optimizer.sim.cloud import CloudConfig
from tests.cli_run import run_main
from tests.executor.cloud_helpers import cloud_toml

pytestmark = pytest.mark.http


def _plan(tmp_path, capsys, monkeypatch, balance: str) -> dict:
    sim = Simulator(
        seed=5,
        clock=SimClock.stepped(datetime(2026, 3, 10, 6, tzinfo=UTC)),
        cloud=CloudConfig(failure_rate=0.0),
    )
    sim.cloud.set_balance(Decimal(balance))
    with start_server(sim, api="cloud") as srv:
        db = f"sqlite:///{tmp_path / 'c.db'}"
        cfg = cloud_toml(tmp_path / "c.toml", srv.url, db, mode="recommend", instances=2)
        monkeypatch.setenv("FLUENCE_API_KEY", sim.api_key)
        code, out, err = run_main(capsys, "-c", str(cfg), "plan", "--json")
        assert code == 0, err
        (plan,) = json.loads(out)
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
