"""The alerts stage end to end on a real store: plans, journal failures, snapshot outages."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from sqlalchemy.engine import Engine
from sqlmodel import Session

from optimizer.alerts.rules import PlanSummary
from optimizer.alerts.sinks.log import LogSink
from optimizer.alerts.tick import load_budget, run_alerts
from optimizer.config import parse_config
from optimizer.store.ingest import ingest_snapshot, record_failed_snapshot
from optimizer.store.tables.journal import JournalAction

T0 = datetime(2026, 5, 4, 12, tzinfo=UTC)
TICK = timedelta(minutes=15)
CFG = parse_config({
    "mode": "recommend",
    "alerts": {"snapshot_failures": 2},
    "fleets": [{"name": "web", "instances": 1, "os_image": "https://x/i.img", "ssh_keys": ["k"]}],
})  # fmt: skip


def notified(engine: Engine, now: datetime, **kw: object) -> list[tuple[str, str]]:
    r = run_alerts(engine, CFG, now, sinks=[LogSink()], **kw)  # type: ignore[arg-type]
    return [(a.key, a.status) for a in r.notified]


def test_savings_alert_needs_a_plan_to_fire_and_to_resolve(engine: Engine) -> None:
    plan = {"web": PlanSummary("web", savings_per_epoch=Decimal("0.3"),
                               deposit_needed=Decimal("1.2"))}  # fmt: skip
    assert notified(engine, T0, plans=plan) == [("savings.available:web", "firing")]
    # a tick without planning neither repeats nor resolves it
    assert notified(engine, T0 + TICK) == []
    # the deposit of the last plan is what `budget` shows
    report, _ = load_budget(engine, CFG, T0 + TICK)
    assert report.scope("web").deposit_needed == Decimal("1.2")
    done = {"web": PlanSummary("web")}
    assert notified(engine, T0 + 2 * TICK, plans=done) == [("savings.available:web", "resolved")]


def test_failed_journal_action_alerts_once(engine: Engine) -> None:
    with Session(engine) as s:
        s.add(JournalAction(fleet="web", kind="migrate", state="failed", token="web-zz9",
                            reason="cheaper", created_at=T0, updated_at=T0, finished_at=T0,
                            error="the new VM ended as Terminated"))  # fmt: skip
        s.commit()
    got = notified(engine, T0 + TICK)
    assert got == [("migration.failed:1", "firing")]
    assert notified(engine, T0 + 2 * TICK) == []
    assert notified(engine, T0 + timedelta(days=2)) == []  # closed quietly, no "resolved"


def test_snapshot_outage_fires_after_the_limit_and_resolves(engine: Engine) -> None:
    ingest_snapshot(engine, [], T0)
    for i in range(1, 3):
        record_failed_snapshot(engine, T0 + i * TICK, 100, "HTTP 503 from /marketplace/offers")
        assert notified(engine, T0 + i * TICK) == []
    record_failed_snapshot(engine, T0 + 3 * TICK, 100, "HTTP 503 from /marketplace/offers")
    assert notified(engine, T0 + 3 * TICK) == [("snapshot.failing:api", "firing")]
    ingest_snapshot(engine, [], T0 + 4 * TICK)
    assert notified(engine, T0 + 4 * TICK) == [("snapshot.failing:api", "resolved")]
