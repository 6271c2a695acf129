"""Issue 14's acceptance, against the cloud face of the simulator served over loopback
HTTP, with no API generation configured (auto-detected), on both spec versions it can
speak: `market offers --json` lists every price point; `snapshot` twice and `history
offers --json` show a price change made in between; `report --format html` renders;
a wrong key exits 3 with one line. Also: a VM list with a foreign VM the optimizer did
not create, and the read commands on a fleet's account."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from optimizer.config import ApiConfig
from optimizer.fluence.generation import connect
from optimizer.sim import SimClock, SimServer, Simulator, start_server
from optimizer.sim.cloud import CloudConfig
from optimizer.store.engine import open_store
from optimizer.store.ingest import take_snapshot
from tests.cli_run import run_main as run

pytestmark = pytest.mark.http


@pytest.fixture(params=["0.10.0", "0.8.210"])
def sim(request: pytest.FixtureRequest) -> Simulator:
    start = datetime.now(UTC) - timedelta(days=3)
    return Simulator(seed=11, clock=SimClock.stepped(start), cloud=CloudConfig(spec=request.param))


@pytest.fixture
def server(sim: Simulator, monkeypatch: pytest.MonkeyPatch) -> Iterator[SimServer]:
    monkeypatch.setenv("FLUENCE_API_KEY", sim.api_key)
    monkeypatch.setenv("COLUMNS", "250")
    with start_server(sim, api="cloud") as srv:
        yield srv


def test_market_offers_json_lists_every_price_point(
    sim: Simulator, server: SimServer, capsys
) -> None:  # type: ignore[no-untyped-def]
    code, out, err = run(capsys, "--api-url", server.url, "market", "offers", "--json")
    assert code == 0, err
    data = json.loads(out)
    points = {(c, k): p for c, k, p in sim.cloud.price_points()}
    assert len(data) == len(points) > 20
    slugs = {c.id: c.slug for c in sim.cloud.catalog.configurations}
    for d in data:
        key = (d["clusterId"], d["configurationId"])
        assert Decimal(d["configuration"]["price"]) == points[key]  # hourly, exact
        assert d["configuration"]["slug"] == slugs[d["configurationId"]]
        assert len(d["datacenter"]["countryCode"]) == 2 and d["priceUnit"] == "hour"
    prices = [Decimal(d["configuration"]["price"]) for d in data]
    assert prices == sorted(prices)  # cheapest first


def test_snapshot_twice_and_history_show_a_price_change(
    sim: Simulator, server: SimServer, tmp_path: Path, capsys
) -> None:  # type: ignore[no-untyped-def]
    db = f"sqlite:///{tmp_path / 'o.db'}"
    cluster, conf, price = sim.cloud.price_points()[0]
    code, out, err = run(capsys, "--api-url", server.url, "--database", db, "snapshot")
    assert code == 0, err
    new_price = (price * Decimal("0.8")).quantize(Decimal("0.000001"))
    sim.cloud.set_price(cluster, conf, new_price)
    code, out, err = run(capsys, "--api-url", server.url, "--database", db, "snapshot")
    assert code == 0, err
    assert "1 changed" in out
    code, out, err = run(capsys, "--database", db, "history", "offers", "--json")
    assert code == 0, err
    rows = json.loads(out)
    assert len(rows) == len(sim.cloud.price_points())
    moved = [r for r in rows if r["changes"] and len(r["changes"]) > 1]
    assert len(moved) == 1 and moved[0]["priceUnit"] == "hour"
    assert [Decimal(c["priceUsd"]) for c in moved[0]["changes"]] == [price, new_price]


def test_report_renders_from_cloud_history(
    sim: Simulator, server: SimServer, tmp_path: Path, capsys
) -> None:  # type: ignore[no-untyped-def]
    """Three days of 6-hourly snapshots over HTTP (the simulator's stepped clock moves the
    prices), then `report --format html`."""
    db = f"sqlite:///{tmp_path / 'o.db'}"
    engine = open_store(db)
    api = connect(ApiConfig(base_url=server.url), api_key=sim.api_key)
    try:
        for _ in range(12):
            take_snapshot(engine, api, sim.clock)
            sim.clock.advance(timedelta(hours=6))
    finally:
        api.close()
        engine.dispose()
    out_file = tmp_path / "report.html"
    code, _, err = run(capsys, "--database", db, "report", "--format", "html", "-o", str(out_file))
    assert code == 0, err
    html = out_file.read_text()
    assert "Prices: USD per hour" in html and "<img" in html


def test_wrong_key_exits_3_with_one_line(server: SimServer, capsys, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("FLUENCE_API_KEY", "sk-not-this-one-31337")
    code, out, err = run(capsys, "--api-url", server.url, "market", "offers", "--json")
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert code == 3 and out == ""
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    assert "sk-not-this-one-31337" not in err


def test_read_commands_on_an_account_with_vms(sim: Simulator, server: SimServer, capsys) -> None:  # type: ignore[no-untyped-def]
    foreign = sim.cloud.create_vm(_vm_body(sim), foreign=True)
    sim.clock.advance(timedelta(minutes=30))
    for args in (
        ("vms", "list"),
        ("vms", "status", foreign.id),
        ("ssh-keys", "list"),
        ("market", "configurations"),
        ("market", "countries"),
        ("market", "datacenters"),
        ("market", "images"),
    ):
        code, out, err = run(capsys, "--api-url", server.url, *args)
        assert code == 0, (args, err)
        if args[0] == "vms":
            assert foreign.id in out


def _vm_body(sim: Simulator) -> dict[str, object]:
    cluster, conf, _ = sim.cloud.price_points()[0]
    return {
        "name": "manual-1",
        "clusterId": cluster,
        "configurationId": conf,
        "sshKeys": [],
        "bootDisk": {"name": "manual-1-boot", "clusterId": cluster, "storageType": "NVME",
                     "volumeGb": 25, "replicated": False,
                     "osImage": "https://cloud-images.ubuntu.com/x.img"},
        "publicIp": {"name": "manual-1-ip", "clusterId": cluster, "addressType": "V4"},
    }  # fmt: skip


def test_check_config_with_auto_rejects_a_fleet_name_the_cloud_server_cannot_take(
    sim: Simulator, server: SimServer, tmp_path: Path, capsys
) -> None:  # type: ignore[no-untyped-def]
    """Cloud names have at most 25 characters (`<fleet>-<10-char token>`): with the
    generation detected, check-config names the fleet whose VMs could not be named."""
    cfg = tmp_path / "o.toml"
    cfg.write_text(
        f'[api]\nbase_url = "{server.url}"\n'
        '[[fleets]]\nname = "frontend-eu-west"\ninstances = 1\n'
        'os_image = "https://images.example/u.img"\n'
        'ssh_keys = ["ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9ok op"]\n'
    )
    code, out, err = run(capsys, "--config", str(cfg), "check-config")
    assert code == 2, out + err
    assert err.strip().splitlines()[-1] == (
        f"error: {cfg}: fleets[0].name: 'frontend-eu-west' is too long for the cloud API "
        "generation the server speaks: a fleet name has at most 14 characters"
    )
    assert "Traceback" not in err


def test_vms_list_shows_the_hourly_price_in_the_apis_unit(
    sim: Simulator, server: SimServer, capsys: pytest.CaptureFixture[str]
) -> None:
    vm = sim.cloud.create_vm(_vm_body(sim), foreign=True)
    code, out, err = run(capsys, "--api-url", server.url, "vms", "list")
    assert code == 0, err
    assert "USD/h" in out and "USD/epoch" not in out
    code, listed, err = run(capsys, "--api-url", server.url, "vms", "list", "--json")
    assert code == 0, err
    (item,) = [v for v in json.loads(listed) if v["id"] == vm.id]
    hourly = item.get("pricePerHour", item.get("price_per_hour"))
    (row,) = [line for line in out.splitlines() if "manual-1" in line]
    if sim.cloud.config.spec == "0.8.210":  # that spec's VM carries no price: blank, not 0
        assert hourly is None
    else:
        assert hourly and str(hourly) in row
