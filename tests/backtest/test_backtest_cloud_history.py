"""`backtest --from-db` on what `snapshot` recorded from the cloud API generation over
loopback HTTP: hourly price points, replayed per second (and per epoch, × 24)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from optimizer.cli.main import main
from optimizer.config import ApiConfig
from optimizer.fluence.generation import connect
from optimizer.sim import SimClock, Simulator, start_server
from optimizer.sim.cloud import CloudConfig
from optimizer.store.engine import open_store
from optimizer.store.ingest import take_snapshot
from optimizer.store.queries import offer_extras, price_observations

pytestmark = pytest.mark.http


def test_cloud_history_is_replayed_per_second(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two days of 6-hourly snapshots (the simulator's clock moves the prices; after the
    first day the cheapest point of a configuration also drops 20 %). Per second, static
    pays its point's recorded hourly price, plus its cluster's boot disk and public IP,
    for each of the 48 hours (VM-hours, not VM-epochs); the optimum is between the bound
    and that; per epoch, two epochs at 24 × the deploy-time whole price."""
    start = datetime.now(UTC) - timedelta(days=3)
    sim = Simulator(seed=11, clock=SimClock.stepped(start), cloud=CloudConfig(spec="0.10.0"))
    monkeypatch.setenv("FLUENCE_API_KEY", sim.api_key)
    db = f"sqlite:///{tmp_path / 'o.db'}"
    slugs = {c.id: c.slug for c in sim.cloud.catalog.configurations}
    cluster, conf, price = min(sim.cloud.price_points(), key=lambda p: p[2])
    with start_server(sim, api="cloud") as srv:
        engine = open_store(db)
        api = connect(ApiConfig(base_url=srv.url), api_key=sim.api_key)
        try:
            for i in range(9):
                if i == 4:
                    sim.cloud.set_price(
                        cluster, conf, (price * Decimal("0.8")).quantize(Decimal("0.000001"))
                    )
                take_snapshot(engine, api, sim.clock)
                sim.clock.advance(timedelta(hours=6))
        finally:
            api.close()
            engine.dispose()
    fleet = tmp_path / "fleet.toml"
    fleet.write_text(
        f'name = "web"\ninstances = 1\nos_image = "https://example.com/a.img"\n'
        f'ssh_keys = ["ops"]\n[constraints]\nconfigurations = ["{slugs[conf]}"]\n'
    )

    def backtest(*extra: str) -> dict:  # type: ignore[type-arg]
        try:
            main(["--database", db, "backtest", "--fleet-config", str(fleet), "--from-db",
                  "--since", "3650d", "--json", *extra])  # fmt: skip
        except SystemExit as e:
            assert not e.code, capsys.readouterr().err
        doc: dict = json.loads(capsys.readouterr().out)  # type: ignore[type-arg]
        return doc

    doc = backtest("--price-model", "per-second")
    assert doc["price_model"] == "per-second" and doc["snapshots"] == 8
    by = {p["policy"]: p for p in doc["policies"]}
    (key,) = by["static"]["vm_hours_per_offer"]
    assert by["static"]["vm_hours_per_offer"][key] == 48
    # independently: the recorded hourly prices of static's point, 6 h each, plus its
    # cluster's 25 GB boot disk and public IP (the store's current prices)
    engine = open_store(db)
    obs = price_observations(engine, None)
    extras = offer_extras(engine).set_index("offer_key").loc[key]
    engine.dispose()
    assert set(obs["price_unit"]) == {"hour"}
    assert "prices are whole VMs: the VM plus a 25 GB boot disk and a public IP" in doc["notes"]
    add = Decimal(extras["disk_price_per_gb"]) * 25 + Decimal(extras["public_ip_price"])
    mine = obs[obs["offer_key"] == key].sort_values("ts")["price_usd"].tolist()[:8]
    expected = sum((Decimal(str(p)) + add) * 6 for p in mine)
    assert Decimal(by["static"]["total_usd"]) == expected.quantize(Decimal("0.000000001"))
    assert Decimal(doc["lower_bound_usd"]) <= Decimal(by["optimum"]["total_usd"]) <= expected
    per_epoch = backtest("--price-model", "deal")
    by_epoch = {p["policy"]: p for p in per_epoch["policies"]}
    # per epoch the VM keeps its deploy price: two epochs at 24 × the first whole price
    assert Decimal(by_epoch["static"]["total_usd"]) == (Decimal(str(mine[0])) + add) * 24 * 2
