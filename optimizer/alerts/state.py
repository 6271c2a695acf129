"""Stored alert state: fire once, re-notify on escalation or after `alerts.renotify`,
resolve when the condition clears. Restarts read the same rows, so nothing re-fires.

Rules per key, given the alerts whose condition holds now and the families evaluated:

- new key, or a key resolved earlier → **fire** (status firing) and store it active;
- active key, level above the highest level notified in this firing → **fire** again
  (escalation, e.g. the forecast passing 80 % after 50 %); a lower level is quiet;
- active key, `renotify` set and that long since the last notification → **fire** again
  (`data.renotify = true`); never for one-shot event alerts;
- active key no longer reported, in an evaluated family → **resolved** (event alerts are
  closed quietly); keys of families not evaluated this tick are left alone.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from optimizer.alerts.model import Alert
from optimizer.clock import utc
from optimizer.store import fencing
from optimizer.store.tables import table_of
from optimizer.store.tables.alerts import AlertDelivery, AlertState

state_t = table_of(AlertState)
delivery_t = table_of(AlertDelivery)


@dataclass(frozen=True)
class StoredAlert:
    """One row of `alert_state`, for `alerts list`."""

    key: str
    family: str
    fleet: str | None
    severity: str
    title: str
    active: bool
    first_fired_at: datetime
    last_seen_at: datetime
    last_notified_at: datetime | None
    resolved_at: datetime | None
    notify_count: int
    alert: Alert


def _row_alert(row: sa.Row[Any]) -> Alert:
    return Alert.from_json(row.payload)


def reconcile(
    engine: Engine,
    alerts: Iterable[Alert],
    families: set[str],
    now: datetime,
    renotify: timedelta | None = None,
    deliver_to: Sequence[str] = (),
) -> list[Alert]:
    """Update the stored state with this tick's alerts; return the notifications to send
    (each an Alert with status firing or resolved and `fired_at` set), in key order.

    With `deliver_to` (sink names), a pending delivery per notification and sink is queued
    in the same transaction, so a crash cannot record an alert as notified without
    queueing its delivery."""
    now = utc(now)
    current = {a.key: a for a in alerts}
    out: list[Alert] = []
    with engine.begin() as conn:
        fencing.check(engine, conn)  # a deposed leader's alert state is refused
        rows = {
            r.key: r
            for r in conn.execute(
                sa.select(state_t).where(
                    sa.or_(
                        state_t.c.resolved_at.is_(None),
                        state_t.c.key.in_(list(current)) if current else sa.false(),
                    )
                )
            )
        }
        for key in sorted(current):
            a = current[key]
            row = rows.get(key)
            if row is None or row.resolved_at is not None:
                fired = a.with_status("firing", now)
                values = dict(
                    family=a.family,
                    fleet=a.fleet,
                    severity=a.severity,
                    title=a.title,
                    level=a.level,
                    event=a.event,
                    payload=fired.to_json(),
                    first_fired_at=now,
                    last_seen_at=now,
                    last_notified_at=now,
                    resolved_at=None,
                    notify_count=1,
                )
                if row is None:
                    conn.execute(sa.insert(state_t).values(key=key, **values))
                else:
                    conn.execute(state_t.update().where(state_t.c.key == key).values(**values))
                out.append(fired)
                continue
            fired_at = row.first_fired_at
            notify = False
            if a.level > row.level:
                notify = True
            elif (
                renotify is not None
                and not a.event
                and row.last_notified_at is not None
                and now - row.last_notified_at >= renotify
            ):
                notify = True
                a = replace(a, data={**a.data, "renotify": True})
            updated = a.with_status("firing", fired_at)
            values = dict(
                severity=a.severity,
                title=a.title,
                payload=updated.to_json(),
                last_seen_at=now,
                level=max(a.level, row.level),
                fleet=a.fleet,
            )
            if notify:
                values.update(last_notified_at=now, notify_count=row.notify_count + 1)
                out.append(updated)
            conn.execute(state_t.update().where(state_t.c.key == key).values(**values))
        for key, row in sorted(rows.items()):
            if key in current or row.resolved_at is not None or row.family not in families:
                continue
            conn.execute(state_t.update().where(state_t.c.key == key).values(resolved_at=now))
            if not row.event:
                prev = _row_alert(row)
                out.append(
                    replace(
                        prev,
                        status="resolved",
                        fired_at=row.first_fired_at,
                        text=f"condition cleared (last seen: {prev.text})",
                    )
                )
        if deliver_to and out:
            from optimizer.alerts.delivery import queue_rows

            conn.execute(sa.insert(delivery_t), queue_rows(deliver_to, out, now))
    return out


def list_alerts(engine: Engine, *, active_only: bool = False) -> list[StoredAlert]:
    """Stored alerts, active first, newest first."""
    stmt = sa.select(state_t)
    if active_only:
        stmt = stmt.where(state_t.c.resolved_at.is_(None))
    with engine.connect() as conn:
        rows = conn.execute(stmt).all()
    out = [
        StoredAlert(
            key=r.key,
            family=r.family,
            fleet=r.fleet,
            severity=r.severity,
            title=r.title,
            active=r.resolved_at is None,
            first_fired_at=r.first_fired_at,
            last_seen_at=r.last_seen_at,
            last_notified_at=r.last_notified_at,
            resolved_at=r.resolved_at,
            notify_count=r.notify_count,
            alert=_row_alert(r),
        )
        for r in rows
    ]
    out.sort(key=lambda s: (not s.active, -s.first_fired_at.timestamp(), s.key))
    return out
