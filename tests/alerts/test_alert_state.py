"""Stored alert state: fire once, escalate, re-notify, resolve, survive restarts."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from sqlalchemy.engine import Engine

from optimizer.alerts.model import Alert
from optimizer.alerts.state import list_alerts, reconcile

T0 = datetime(2026, 3, 1, 12, tzinfo=UTC)
FAMS = {"budget.forecast", "migration.failed"}


def forecast(level: float) -> Alert:
    return Alert(
        key="budget.forecast:web",
        severity="warning",
        title=f"at {level}",
        text="x",
        fleet="web",
        level=level,
    )


def test_fires_once_then_stays_quiet_then_resolves(engine: Engine) -> None:
    first = reconcile(engine, [forecast(0.5)], FAMS, T0)
    assert [(a.key, a.status) for a in first] == [("budget.forecast:web", "firing")]
    assert first[0].fired_at == T0
    for i in range(1, 4):
        assert reconcile(engine, [forecast(0.5)], FAMS, T0 + timedelta(minutes=15 * i)) == []
    gone = reconcile(engine, [], FAMS, T0 + timedelta(hours=2))
    assert [(a.key, a.status) for a in gone] == [("budget.forecast:web", "resolved")]
    assert reconcile(engine, [], FAMS, T0 + timedelta(hours=3)) == []
    (row,) = list_alerts(engine)
    assert not row.active and row.notify_count == 1


def test_restart_does_not_refire(open_engine: Callable[[], Engine]) -> None:
    reconcile(open_engine(), [forecast(0.8)], FAMS, T0)
    # a new process: a new engine on the same database
    assert reconcile(open_engine(), [forecast(0.8)], FAMS, T0 + timedelta(hours=1)) == []
    assert [a.key for a in list_alerts(open_engine(), active_only=True)] == ["budget.forecast:web"]


def test_escalation_notifies_only_on_new_highs(engine: Engine) -> None:
    reconcile(engine, [forecast(0.5)], FAMS, T0)
    up = reconcile(engine, [forecast(0.8)], FAMS, T0 + timedelta(minutes=15))
    assert [a.level for a in up] == [0.8]
    assert reconcile(engine, [forecast(0.5)], FAMS, T0 + timedelta(minutes=30)) == []
    assert reconcile(engine, [forecast(0.8)], FAMS, T0 + timedelta(minutes=45)) == []


def test_renotify_after_interval(engine: Engine) -> None:
    every = timedelta(hours=6)
    reconcile(engine, [forecast(0.5)], FAMS, T0, every)
    assert reconcile(engine, [forecast(0.5)], FAMS, T0 + timedelta(hours=5), every) == []
    again = reconcile(engine, [forecast(0.5)], FAMS, T0 + timedelta(hours=6), every)
    assert len(again) == 1 and again[0].data["renotify"] is True
    assert again[0].fired_at == T0


def test_unevaluated_family_is_not_resolved(engine: Engine) -> None:
    reconcile(engine, [forecast(0.5)], FAMS, T0)
    assert reconcile(engine, [], {"snapshot.failing"}, T0 + timedelta(hours=1)) == []
    assert list_alerts(engine, active_only=True)


def test_event_alert_closes_quietly_and_refires_after_resolution(engine: Engine) -> None:
    ev = Alert(key="migration.failed:7", severity="warning", title="t", text="x", event=True)
    assert len(reconcile(engine, [ev], FAMS, T0)) == 1
    assert reconcile(engine, [], FAMS, T0 + timedelta(days=1)) == []
    reconcile(engine, [forecast(0.5)], FAMS, T0)
    reconcile(engine, [], FAMS, T0 + timedelta(hours=1))
    back = reconcile(engine, [forecast(0.5)], FAMS, T0 + timedelta(hours=2))
    assert [(a.status, a.fired_at) for a in back] == [("firing", T0 + timedelta(hours=2))]


def test_notifications_are_queued_in_the_same_transaction(engine: Engine) -> None:
    import sqlalchemy as sa

    from optimizer.store.tables.alerts import AlertDelivery

    def queued() -> list[tuple[str, str]]:
        t = AlertDelivery.__table__
        with engine.connect() as c:
            return [(r.sink, r.status) for r in c.execute(sa.select(t).order_by(t.c.id))]

    reconcile(engine, [forecast(0.5)], FAMS, T0, deliver_to=["0:webhook", "1:email"])
    reconcile(engine, [forecast(0.5)], FAMS, T0 + timedelta(minutes=15), deliver_to=["0:webhook"])
    reconcile(engine, [], FAMS, T0 + timedelta(hours=1), deliver_to=["0:webhook"])
    assert queued() == [("0:webhook", "firing"), ("1:email", "firing"), ("0:webhook", "resolved")]
