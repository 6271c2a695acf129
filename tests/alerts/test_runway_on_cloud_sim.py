"""Issue 15's done-when for the balance runway, on the cloud face of the simulator served
over loopback HTTP (both spec versions): with a balance that covers about 10 hours of
what the account runs, one real cycle sends a `balance.runway` alert to a real webhook
and `budget --json` shows the hours left; the budget's spend is the simulator's charges
to the cent. Then a balance just above the 6-hour creation floor escalates to critical."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from typer.testing import CliRunner

from optimizer.cli.main import app
from optimizer.config import ApiConfig, Config, parse_config
from optimizer.cycle import Cycle, Runtime
from optimizer.fluence.generation import connect
from optimizer.sim import SimClock, SimServer, Simulator, start_server
from optimizer.sim.cloud import CloudConfig
from optimizer.store.engine import open_store
from tests.alerts.helpers import Recorder

pytestmark = pytest.mark.http

START = datetime(2026, 3, 10, 6, tzinfo=UTC)
CENT = Decimal("0.01")


@pytest.fixture(params=["0.10.0", "0.8.210"])
def sim(request: pytest.FixtureRequest) -> Simulator:
    """Two hand-made VMs (each with its disk and IP) and a detached disk, billing for two
    hours of this month."""
    s = Simulator(
        seed=5,
        clock=SimClock.stepped(START),
        cloud=CloudConfig(spec=request.param, failure_rate=0.0),
    )
    s.cloud.add_foreign_vm("manual-a")
    s.cloud.add_foreign_vm("manual-b")
    s.cloud.add_foreign_storage("old-data")
    s.advance(timedelta(hours=2))
    return s


@pytest.fixture
def server(sim: Simulator) -> Iterator[SimServer]:
    with start_server(sim, api="cloud") as srv:
        yield srv


def burn(sim: Simulator) -> Decimal:
    with sim._lock:
        sim.sync()
        return sim.cloud.hourly_burn()


def make_config(db: str, hook: str) -> Config:
    return parse_config(
        {
            "mode": "observe",
            "database": {"url": db},
            "alerts": {"sinks": [{"kind": "webhook", "url": hook}]},
        },
        "test.toml",
    )


def cycle_once(sim: Simulator, server: SimServer, config: Config, tick: int) -> None:
    engine = open_store(config.database.url)
    api = connect(ApiConfig(base_url=server.url), api_key=sim.api_key)
    try:
        rt = Runtime(config=config, client=api, engine=engine, clock=sim.clock)
        result = Cycle(rt).run(tick, force=True)
    finally:
        api.close()
        engine.dispose()
    assert not result.degraded, result.summary()


def budget_json(db: str, at: datetime) -> dict:  # type: ignore[type-arg]
    out = CliRunner().invoke(app, ["--database", db, "budget", "--json", "--at", at.isoformat()])
    assert out.exit_code == 0, out.output
    return dict(json.loads(out.output))


def test_ten_hours_of_balance_alerts_once_and_budget_shows_the_hours_left(
    sim: Simulator, server: SimServer, tmp_path: Path
) -> None:
    rate = burn(sim)
    assert rate > 0
    sim.cloud.set_balance(rate * 10)
    db = f"sqlite:///{tmp_path / 'o.db'}"
    with Recorder() as rec:
        cycle_once(sim, server, make_config(db, rec.url), 1)
        received = list(rec.received)
        # 15 minutes later nothing new is sent: each alert went out once
        sim.advance(timedelta(minutes=15))
        cycle_once(sim, server, make_config(db, rec.url), 2)
        assert len(rec.received) == len(received)
    by_key = {b["key"]: b for b in received}
    assert len(received) == len(by_key) == 2  # the runway, and the foreign detached disk
    runway_alert = by_key["balance.runway:account"]
    assert (runway_alert["status"], runway_alert["severity"]) == ("firing", "warning")
    data = runway_alert["data"]
    assert Decimal(data["hours_left"]) == Decimal("10.00")
    assert Decimal(data["burn_usd_per_hour"]) == rate
    assert runway_alert["text"].startswith("[FIRING] Balance lasts 10.0 hours")
    orphaned = by_key["resources.orphaned:account"]
    (disk,) = orphaned["data"]["resources"]
    (old,) = [s for s in sim.cloud.storages.values() if s.name == "old-data"]
    assert (disk["kind"], disk["id"], disk["name"]) == ("disk", old.id, "old-data")
    assert Decimal(disk["monthly_usd"]) == sim.cloud.storage_hourly(old) * 730
    assert "old-data" in orphaned["text"] and orphaned["severity"] == "warning"

    report = budget_json(db, sim.now())
    runway = report["runway"]  # 15 minutes later
    assert Decimal(runway["hours_left"]) == Decimal("9.75")
    assert Decimal(runway["balance_usd"]).quantize(CENT) == (rate * Decimal("9.75")).quantize(CENT)
    assert Decimal(runway["burn_usd_per_hour"]) == rate
    (orphan,) = report["orphans"]
    assert (orphan["name"], Decimal(orphan["monthly_usd"])) == (
        "old-data",
        Decimal(disk["monthly_usd"]),
    )
    total = next(s for s in report["scopes"] if s["scope"] == "total")
    # spend from the charges endpoints: every VM, disk and IP, to the cent
    assert Decimal(total["spend_month_usd"]).quantize(CENT) == sim.cloud.spent().quantize(CENT)
    assert Decimal(total["spend_epoch_usd"]).quantize(CENT) == sim.cloud.spent().quantize(CENT)
    assert Decimal(total["run_rate_usd_per_epoch"]) == rate * 24
    hours_left_in_month = Decimal((datetime(2026, 4, 1, tzinfo=UTC) - sim.now()).seconds) / 3600
    hours_left_in_month += (datetime(2026, 4, 1, tzinfo=UTC) - sim.now()).days * 24
    forecast = Decimal(total["spend_month_usd"]) + rate * hours_left_in_month
    assert Decimal(total["forecast_month_usd"]).quantize(CENT) == forecast.quantize(CENT)

    out = CliRunner().invoke(app, ["--database", db, "budget", "--at", sim.now().isoformat()])
    assert out.exit_code == 0, out.output
    assert "lasts 9.8 hours" in " ".join(out.output.split())
    assert "1 detached disk(s)/IP(s) not created by the optimizer bill" in out.output


def test_a_balance_near_the_creation_floor_escalates_to_critical(
    sim: Simulator, server: SimServer, tmp_path: Path
) -> None:
    """Warning first; then a balance that the 6-hour floor (everything plus one more VM)
    will reach within the plan interval: critical, notified again."""
    db = f"sqlite:///{tmp_path / 'o.db'}"
    rate = burn(sim)
    sim.cloud.set_balance(rate * 40)
    with Recorder() as rec:
        config = make_config(db, rec.url)
        cycle_once(sim, server, config, 1)
        sim.cloud.set_balance(rate * 7)  # 6 h of everything + one more VM is more than that
        for tick in (2, 3):  # one notification per sink and tick: the orphan's goes first
            sim.advance(timedelta(minutes=15))
            cycle_once(sim, server, config, tick)
        received = [b for b in rec.received if b["key"] == "balance.runway:account"]
    assert [(b["severity"], b["status"]) for b in received] == [
        ("warning", "firing"),
        ("critical", "firing"),
    ]
    assert "the API creates nothing" in received[1]["text"]
    assert Decimal(received[1]["data"]["hours_to_floor"]) < 1


def test_the_planner_gets_the_balance_and_will_not_create_below_the_floor(
    sim: Simulator, server: SimServer, tmp_path: Path
) -> None:
    """The cycle hands the account's balance and burn rate to the planner: with 6 hours of
    what the account runs, one more VM is over the floor and the fleet's deploy waits;
    with plenty, it is planned."""

    def plan_detail(balance: Decimal, db: str) -> str:
        sim.cloud.set_balance(balance)
        config = parse_config(
            {
                "mode": "recommend",
                "database": {"url": db},
                "fleets": [{"name": "web", "instances": 1, "os_image": "https://x/u.img",
                            "ssh_keys": ["ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGq9 t"],
                            "constraints": {"configurations": ["cpu-regular-2vcpu-4gb"]}}],
            },
            "test.toml",
        )  # fmt: skip
        engine = open_store(db)
        api = connect(ApiConfig(base_url=server.url), api_key=sim.api_key)
        try:
            rt = Runtime(config=config, client=api, engine=engine, clock=sim.clock)
            result = Cycle(rt).run(1, force=True)
        finally:
            api.close()
            engine.dispose()
        (outcome,) = [o for o in result.outcomes if o.stage == "plan"]
        return outcome.detail

    assert plan_detail(burn(sim) * 6, f"sqlite:///{tmp_path / 'a.db'}") == "no actions"
    assert plan_detail(Decimal(1000), f"sqlite:///{tmp_path / 'b.db'}") == "deploy=1"


def test_orphans_resolve_when_deleted_and_fleets_status_lists_them(
    sim: Simulator, server: SimServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`fleets status` lists the foreign detached disk with its cost per month; once the
    user deletes it, the next cycle resolves `resources.orphaned`. The optimizer deleted
    nothing itself."""
    db = f"sqlite:///{tmp_path / 'o.db'}"
    sim.cloud.set_balance(Decimal(10_000))
    (old,) = [s for s in sim.cloud.storages.values() if s.name == "old-data"]
    monkeypatch.setenv("FLUENCE_API_KEY", sim.api_key)
    monkeypatch.setenv("COLUMNS", "200")
    cfg = tmp_path / "o.toml"
    cfg.write_text(
        f'[database]\nurl = "{db}"\n[api]\nbase_url = "{server.url}"\n'
        '[[fleets]]\nname = "web"\ninstances = 1\nos_image = "https://x/u.img"\n'
        'ssh_keys = ["ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGq9 t"]\n'
    )
    with Recorder() as rec:
        config = make_config(db, rec.url)
        cycle_once(sim, server, config, 1)
        out = CliRunner().invoke(app, ["-c", str(cfg), "fleets", "status"])
        assert out.exit_code == 0, out.output
        text = " ".join(out.output.split())
        assert "1 detached disk(s)/IP(s) not created by the optimizer bill" in text
        assert old.id in text and "old-data" in text
        monthly = sim.cloud.storage_hourly(old) * 730
        assert f"${monthly.quantize(CENT)}" in text
        r = sim.http_client(api="cloud").post("/v1/storages/delete", json={"ids": [old.id]})
        assert r.status_code == 200, r.text
        sim.advance(timedelta(minutes=15))
        cycle_once(sim, server, config, 2)
        received = [(b["key"], b["status"]) for b in rec.received]
    assert received == [
        ("resources.orphaned:account", "firing"),
        ("resources.orphaned:account", "resolved"),
    ]
    assert sum(1 for s in sim.cloud.storages.values() if s.status != "removed") == 2
