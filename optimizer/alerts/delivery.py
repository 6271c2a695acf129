"""Delivery: notifications go to the log at once, and to every other sink through a
stored queue (`alert_delivery`), so a failing sink is retried across ticks with
exponential backoff (30 s, 1 min, 2 min … capped at 1 h; given up after 20 attempts,
about 14 h) and nothing is lost on restart.

A tick never waits on a slow sink beyond its timeout: each sink's due rows are sent in
its own worker thread, all sinks in parallel, one after another while at least half the
sink's timeout of its budget is left (the budget is one timeout from the start: fast
receivers get every due row in one tick, a slow one gets fewer), and the tick joins
each thread until its timeout plus a short grace (0.5 s) — so delivery adds at most the
largest sink timeout + 0.5 s to a tick. A send still
running then counts as a failure ("timed out") and is retried later; if it did get
through after all, the receiver may see that notification twice — the one duplicate
this design accepts rather than block the tick.

Per sink and alert key, notifications go out in order: a later one (resolved) waits
while an earlier one (firing) for the same sink and key is still pending.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
import structlog
from sqlalchemy.engine import Connection, Engine

from optimizer.alerts.model import Alert
from optimizer.alerts.sinks import Sink, SinkError
from optimizer.clock import utc
from optimizer.store import fencing
from optimizer.store.tables import table_of
from optimizer.store.tables.alerts import AlertDelivery

log = structlog.get_logger("optimizer.alerts")
delivery_t = table_of(AlertDelivery)

MAX_ATTEMPTS = 20
BACKOFF_BASE = timedelta(seconds=30)
BACKOFF_CAP = timedelta(hours=1)
GRACE_SECONDS = 0.5
MAX_PER_TICK = 200


def backoff(attempts: int) -> timedelta:
    """Wait after the `attempts`-th failed attempt (1-based)."""
    return min(BACKOFF_BASE * 2.0 ** max(attempts - 1, 0), BACKOFF_CAP)


@dataclass
class DeliveryReport:
    sent: int = 0
    failed: int = 0
    abandoned: int = 0
    pending: int = 0
    errors: list[str] = field(default_factory=list)


def send_to_log(sinks: Sequence[Sink], alerts: Sequence[Alert]) -> None:
    """The log sink(s) get every notification at once (they cannot fail usefully)."""
    for sink in sinks:
        if sink.name == "log":
            for a in alerts:
                sink.send(a)


def queue_rows(
    sink_names: Sequence[str], alerts: Sequence[Alert], now: datetime
) -> list[dict[str, object]]:
    """`alert_delivery` rows queueing each notification for each named sink."""
    return [
        {
            "alert_key": a.key,
            "sink": name,
            "status": a.status,
            "payload": a.to_json(),
            "state": "pending",
            "attempts": 0,
            "created_at": utc(now),
            "next_attempt_at": utc(now),
        }
        for a in alerts
        for name in sink_names
    ]


def enqueue(engine: Engine, sinks: Sequence[Sink], alerts: Sequence[Alert], now: datetime) -> int:
    """Queue each notification for every sink except the log; return rows written."""
    rows = queue_rows([s.name for s in sinks if s.name != "log"], alerts, now)
    if rows:
        with engine.begin() as conn:
            fencing.check(engine, conn)
            conn.execute(sa.insert(delivery_t), rows)
    return len(rows)


@dataclass
class _Job:
    sink: Sink
    rows: list[sa.Row[Any]]
    results: dict[int, str | None] = field(default_factory=dict)  # row id → error or None
    running: int | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)
    abandoned: bool = False


def _work(job: _Job, deadline: float) -> None:
    for i, row in enumerate(job.rows):
        if i > 0 and deadline - time.monotonic() < job.sink.timeout / 2:
            return  # too little of the tick's budget left for another send to finish
        with job.lock:
            if job.abandoned:
                return
            job.running = row.id
        err: str | None
        try:
            job.sink.send(Alert.from_json(row.payload))
            err = None
        except SinkError as e:
            err = str(e)
        except Exception as e:  # noqa: BLE001 — a broken plug-in must not kill delivery
            err = f"{type(e).__name__}: {e}"[:300]
        with job.lock:
            if job.abandoned:
                return
            job.results[row.id] = err
            job.running = None
            if err is not None:
                return  # the sink is failing: leave the rest for a later tick


def deliver(engine: Engine, sinks: Sequence[Sink], now: datetime) -> DeliveryReport:
    """Try every due pending delivery once; record the outcomes. Returns a report."""
    now = utc(now)
    jobs, orphans = _due_jobs(engine, {s.name: s for s in sinks if s.name != "log"}, now)
    if jobs:
        _run_jobs(jobs)
    report = DeliveryReport()
    with engine.begin() as conn:
        fencing.check(engine, conn)
        if orphans:
            conn.execute(
                delivery_t.update()
                .where(delivery_t.c.id.in_(orphans))
                .values(state="abandoned", last_error="sink no longer configured")
            )
        for job in jobs.values():
            rows = {r.id: r for r in job.rows}
            for rid, err in job.results.items():
                _record(conn, rows[rid], err, now, report)
        report.pending = conn.execute(
            sa.select(sa.func.count())
            .select_from(delivery_t)
            .where(delivery_t.c.state == "pending")
        ).scalar_one()
    return report


def _due_jobs(
    engine: Engine, by_name: Mapping[str, Sink], now: datetime
) -> tuple[dict[str, _Job], list[int]]:
    """Per sink, the pending rows due now (only the earliest per sink and alert key, at
    most MAX_PER_TICK); and the ids of rows whose sink is no longer configured."""
    with engine.connect() as conn:
        fencing.check(engine, conn)  # a deposed leader sends nothing
        pending = conn.execute(
            sa.select(delivery_t)
            .where(delivery_t.c.state == "pending")
            .order_by(delivery_t.c.id)
            .limit(MAX_PER_TICK * 5)
        ).all()
    jobs: dict[str, _Job] = {}
    blocked: set[tuple[str, str]] = set()
    orphans: list[int] = []
    for row in pending:
        lane = (row.sink, row.alert_key)
        if lane in blocked:
            continue
        blocked.add(lane)  # only the earliest pending row per sink and key
        if row.sink not in by_name:
            orphans.append(row.id)  # the sink was removed from the config
            continue
        if row.next_attempt_at > now:
            continue
        job = jobs.setdefault(row.sink, _Job(by_name[row.sink], []))
        if len(job.rows) < MAX_PER_TICK:
            job.rows.append(row)
    return jobs, orphans


def _run_jobs(jobs: Mapping[str, _Job]) -> None:
    """One thread per sink, each bounded by the sink's timeout; a send still running at
    the deadline is recorded as timed out and its late result ignored."""
    start = time.monotonic()
    threads = []
    for job in jobs.values():
        t = threading.Thread(
            target=_work,
            args=(job, start + job.sink.timeout),
            name=f"alert-{job.sink.name}",
            daemon=True,
        )
        t.start()
        threads.append((t, start + job.sink.timeout + GRACE_SECONDS))
    for t, until in threads:
        t.join(max(until - time.monotonic(), 0))
    for job in jobs.values():
        with job.lock:
            job.abandoned = True
            if job.running is not None and job.running not in job.results:
                job.results[job.running] = f"{job.sink.name}: timed out after {job.sink.timeout:g}s"


def _record(
    conn: Connection, row: sa.Row[Any], err: str | None, now: datetime, report: DeliveryReport
) -> None:
    """Write one attempt's outcome: sent, retry later (with backoff), or given up."""
    attempts = row.attempts + 1
    if err is None:
        report.sent += 1
        conn.execute(
            delivery_t.update()
            .where(delivery_t.c.id == row.id)
            .values(state="sent", attempts=attempts, delivered_at=now, last_error=None)
        )
        return
    report.errors.append(err)
    values: dict[str, object]
    if attempts >= MAX_ATTEMPTS:
        report.abandoned += 1
        log.error("alert delivery given up", sink=row.sink, key=row.alert_key, error=err)
        values = {"state": "abandoned"}
    else:
        report.failed += 1
        log.warning(
            "alert delivery failed; will retry",
            sink=row.sink,
            key=row.alert_key,
            error=err,
            attempt=attempts,
        )
        values = {"next_attempt_at": now + backoff(attempts)}
    conn.execute(
        delivery_t.update()
        .where(delivery_t.c.id == row.id)
        .values(attempts=attempts, last_error=err, **values)
    )


def send_now(sink: Sink, alert: Alert) -> str | None:
    """Send one alert through one sink right away, bounded by its timeout (for
    `alerts test`). Return None on success, else the one-line error."""
    out: dict[str, str | None] = {}

    def run() -> None:
        try:
            sink.send(alert)
            out["err"] = None
        except SinkError as e:
            out["err"] = str(e)
        except Exception as e:  # noqa: BLE001 — report, don't crash the command
            out["err"] = f"{type(e).__name__}: {e}"[:300]

    t = threading.Thread(target=run, name=f"alert-test-{sink.name}", daemon=True)
    t.start()
    t.join(sink.timeout + GRACE_SECONDS)
    if "err" not in out:
        return f"{sink.name}: timed out after {sink.timeout:g}s"
    return out["err"]
