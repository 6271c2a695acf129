"""The read side end to end on the cloud generation, through the real CLI against a fake
cloud server over loopback HTTP with no generation configured (auto-detected): market
lists, vms, ssh-keys, snapshot + history with a price change in between, the report,
and a wrong key."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from optimizer.config import ApiConfig
from optimizer.fluence.generation import connect
from optimizer.store.engine import open_store
from optimizer.store.ingest import take_snapshot
from tests.cli_run import run_main as run
from tests.fluence.cloud.fake import CFG_S, CL_A, CL_B, KEY, FakeCloud, vid
from tests.fluence.cloud.serve import serve

pytestmark = pytest.mark.http


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> FakeCloud:
    monkeypatch.setenv("FLUENCE_API_KEY", KEY)
    monkeypatch.setenv("COLUMNS", "250")
    return FakeCloud()


def test_market_offers_json_is_one_object_per_price_point(fake: FakeCloud, capsys) -> None:  # type: ignore[no-untyped-def]
    with serve(fake.handle) as url:
        code, out, err = run(capsys, "--api-url", url, "market", "offers", "--json")
    assert code == 0, err
    data = json.loads(out)
    assert len(data) == len(fake.prices) == 4
    points = {(d["clusterId"], d["configuration"]["slug"]) for d in data}
    assert (CL_A, "cpu-shared-2vcpu-2gb") in points and (CL_B, "cpu-regular-4vcpu-8gb") in points
    cheapest = data[0]  # cheapest first
    assert cheapest["clusterId"] == CL_B and cheapest["datacenter"]["countryCode"] == "FR"
    assert cheapest["configuration"]["price"] == "0.0110"  # the API's decimal string
    assert cheapest["priceUnit"] == "hour"


def test_market_tables_and_account_reads(fake: FakeCloud, capsys) -> None:  # type: ignore[no-untyped-def]
    with serve(fake.handle) as url:
        outs = {}
        for args in (
            ("market", "offers"),
            ("market", "configurations"),
            ("market", "countries"),
            ("market", "datacenters"),
            ("market", "images"),
            ("vms", "list"),
            ("vms", "status", vid(1)),
            ("ssh-keys", "list"),
        ):
            code, out, err = run(capsys, "--api-url", url, *args)
            assert code == 0, (args, err)
            outs[args] = out
    assert "USD/hour" in outs[("market", "offers")]
    assert "cpu-regular-4vcpu-8gb" in outs[("market", "configurations")]
    assert "FR" in outs[("market", "countries")] and "DE-FRA-1" in outs[("market", "datacenters")]
    assert "ubuntu" in outs[("market", "images")]
    assert "web-2" in outs[("vms", "list")] and "203.0.113.3" in outs[("vms", "list")]
    assert "203.0.113.2" in outs[("vms", "status", vid(1))]
    assert "SHA256:abc" in outs[("ssh-keys", "list")]


def test_snapshot_twice_and_history_shows_the_price_change(
    fake: FakeCloud, tmp_path: Path, capsys
) -> None:  # type: ignore[no-untyped-def]
    db = f"sqlite:///{tmp_path / 'o.db'}"
    with serve(fake.handle) as url:
        code, out, err = run(capsys, "--api-url", url, "--database", db, "snapshot")
        assert code == 0, err
        assert "4 offers seen, 4 new" in out
        fake.prices[(CFG_S, CL_A)] = "0.0099"
        code, out, err = run(capsys, "--api-url", url, "--database", db, "snapshot")
        assert code == 0, err
        assert "1 changed" in out
        code, out, err = run(capsys, "--database", db, "history", "offers", "--json")
        assert code == 0, err
        table = run(capsys, "--database", db, "history", "offers")[1]
    rows = json.loads(out)
    assert len(rows) == 4 and {r["priceUnit"] for r in rows} == {"hour"}
    moved = next(r for r in rows if r["priceMaxUsd"] != r["priceMinUsd"])
    assert moved["configuration"] == "cpu-shared-2vcpu-2gb" and moved["datacenter"] == "DE-FRA-1"
    assert [c["priceUsd"] for c in moved["changes"]] == ["0.012500", "0.009900"]
    assert "USD per hour" in table


def test_report_renders_from_cloud_price_points(fake: FakeCloud, tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    """Three days of snapshots from the cloud API (a stepped clock), then `report`."""
    db = f"sqlite:///{tmp_path / 'o.db'}"
    engine = open_store(db)
    api = connect(
        ApiConfig(base_url="https://api.example.test", max_retries=0),
        transport=fake.transport(),
        api_key=KEY,
    )

    class Clock:
        t = datetime.now(UTC) - timedelta(days=3)

        def now(self) -> datetime:
            return self.t

    clock = Clock()
    for step in range(12):
        fake.prices[(CFG_S, CL_A)] = str(Decimal("0.0125") - Decimal(step) / 10000)
        take_snapshot(engine, api, clock)  # type: ignore[arg-type]
        clock.t += timedelta(hours=6)
    engine.dispose()
    out_file = tmp_path / "r.html"
    code, _, err = run(capsys, "--database", db, "report", "--format", "html", "-o", str(out_file))
    assert code == 0, err
    html = out_file.read_text()
    assert "Prices: USD per hour" in html and "cpu-shared-2vcpu-2gb" in html
    code, _, err = run(
        capsys, "--database", db, "report", "--format", "md", "-o", str(tmp_path / "r.md")
    )
    assert code == 0 and "Prices in USD per hour" in (tmp_path / "r.md").read_text()


def test_wrong_key_exits_3_with_one_line(fake: FakeCloud, capsys, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("FLUENCE_API_KEY", "sk-wrong-key-424242")
    with serve(fake.handle) as url:
        code, out, err = run(capsys, "--api-url", url, "market", "offers", "--json")
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert code == 3 and out == ""
    assert len(lines) == 1 and lines[0].startswith("error: ") and "rejected the API key" in lines[0]
    assert "sk-wrong-key-424242" not in err


def test_api_generation_option_overrides_auto(fake: FakeCloud, capsys) -> None:  # type: ignore[no-untyped-def]
    with serve(fake.handle) as url:
        code, _, err = run(
            capsys, "--api-url", url, "--api-generation", "cloud", "market", "countries"
        )
        assert code == 0, err
        code, _, err = run(
            capsys, "--api-url", url, "--api-generation", "v4", "market", "countries"
        )
    assert code == 2 and "--api-generation" in err
    first = [r.url.path for r in fake.requests][:1]
    assert first == ["/v1/datacenters"]  # configured: no probe
