"""Done-when scenario on the simulator: a fleet whose prices rise crosses the forecast
threshold, the webhook gets exactly one alert and, when prices fall back, one
"resolved"; `budget` agrees with the simulator's own accounting to the cent."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from freezegun import freeze_time
from sqlalchemy.engine import Engine
from typer.testing import CliRunner

from optimizer.alerts.sinks.log import LogSink
from optimizer.alerts.sinks.webhook import WebhookSink
from optimizer.alerts.tick import run_alerts
from optimizer.cli.main import app
from optimizer.config import parse_config
from optimizer.fluence.client import FluenceClient
from optimizer.fluence.models import Constraints, DatacenterFilter, DeployRequest
from optimizer.sim import SimClock, SimConfig, Simulator
from optimizer.store.ingest import ingest_snapshot, ingest_vms
from tests.alerts.helpers import Recorder

START = datetime(2026, 3, 3, tzinfo=UTC)
SLUG = "cpu-2-ram-4gb-storage-25gb"
TICK = timedelta(hours=12)


def config(db_url: str) -> object:
    return parse_config(
        {
            "database": {"url": db_url},
            "alerts": {"price_spike_pct": 1000},  # only the budget rule matters here
            "fleets": [
                {
                    "name": "web",
                    "instances": 2,
                    "os_image": "https://example.com/ubuntu.img",
                    "ssh_keys": ["ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGq9 test"],
                    # IS: no random sim offers there, only the scripted one
                    "constraints": {"configurations": [SLUG], "countries": ["IS"]},
                    "budget": {"monthly_usd": "66", "thresholds": [1.0]},
                }
            ],
        }
    )


def price_on(day: int) -> str:
    """Flat 1.00 for five epochs, up 0.15 a day for four, then back to 1.00."""
    if 5 <= day <= 8:
        return f"{1 + 0.15 * (day - 4):.2f}"
    return "1.00"


def test_rising_prices_fire_one_forecast_alert_then_resolve(engine: Engine, db_url: str,
                                                           tmp_path) -> None:  # fmt: skip
    cfg = config(db_url)
    sim = Simulator(seed=3, clock=SimClock.stepped(START), offers=60,
                    config=SimConfig(termination_rate=0))  # fmt: skip
    offer = sim.add_offer(configuration=SLUG, country="IS", price="1.00", capacity=10)
    client = FluenceClient(sim.http_client())
    client.deploy(
        DeployRequest(
            constraints=Constraints(basic_configuration=SLUG,
                                    datacenter=DatacenterFilter(countries=["IS"])),
            instances=2,
            vm_configuration={"name": "web-a1b2c3", "osImage": "https://example.com/u.img",
                              "sshKeys": ["ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGq9 t"]},
        )  # type: ignore[arg-type]
    )  # fmt: skip
    timeline: list[tuple[datetime, str, str]] = []
    with Recorder() as rec:
        sinks = [LogSink(), WebhookSink("0:webhook", rec.url, 2)]
        for step in range(int(timedelta(days=18) / TICK)):
            now = sim.now()
            sim.set_offer_price(offer.key, price_on((now - START).days))
            ingest_snapshot(engine, client.list_offers(None), now)
            ingest_vms(engine, client.list_vms(), now)
            result = run_alerts(engine, cfg, now, sinks=sinks)
            for a in result.notified:
                timeline.append((now, a.key, a.status))
            sim.advance(TICK)
            if step > 0 and any(s == "resolved" for _, _, s in timeline):
                break
        received = [(b["key"], b["status"]) for b in rec.received]
    assert received == [("budget.forecast:web", "firing"), ("budget.forecast:web", "resolved")]
    fired, resolved = timeline[0][0], timeline[1][0]
    assert START + timedelta(days=5) < fired < START + timedelta(days=9)  # while rising
    assert resolved > START + timedelta(days=9)  # after the fall back
    assert rec.received[0]["text"].startswith("[FIRING] Forecast at 100 % of the monthly budget")

    # `budget` (the CLI) vs the simulator's ledger, to the cent
    now = sim.now()
    ingest_vms(engine, client.list_vms(), now)
    month_start = datetime(now.year, now.month, 1, tzinfo=UTC)
    charged = [e for e in sim.ledger if e.kind in ("charge", "charge_reserve")]
    sim_month = sum((e.amount for e in charged if e.at >= month_start), Decimal(0))
    sim_day = sum(
        (e.amount for e in charged if e.at >= now.replace(hour=0, minute=0, second=0)),
        Decimal(0),
    )
    cfg_file = tmp_path / "opt.toml"
    cfg_file.write_text(f'[database]\nurl = "{db_url}"\n\n[[fleets]]\nname = "web"\n'
                        'instances = 2\nos_image = "https://example.com/u.img"\n'
                        'ssh_keys = ["k"]\n')  # fmt: skip
    with freeze_time(now):
        out = CliRunner().invoke(app, ["-c", str(cfg_file), "budget", "--json"])
    assert out.exit_code == 0, out.output
    report = json.loads(out.output)
    assert "runway" not in report and "orphans" not in report  # no balance on this API
    scopes = {s["scope"]: s for s in report["scopes"]}
    web = scopes["web"]
    cent = Decimal("0.01")
    assert Decimal(web["total_spent_usd"]).quantize(cent) == sim.total_spent().quantize(cent)
    assert Decimal(web["spend_month_usd"]).quantize(cent) == sim_month.quantize(cent)
    assert Decimal(web["spend_epoch_usd"]).quantize(cent) == sim_day.quantize(cent)
    assert Decimal(web["reserves_usd"]).quantize(cent) == sim.reserved_total().quantize(cent)
    assert sim_month > 0 and web["vms"] == 2
