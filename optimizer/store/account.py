"""Keep the account's latest facts (`optimizer.fluence.account.AccountFacts`) in the store
(table `account_state`, one row): written by the snapshot stage, read by `budget` and
the alerts stage."""

from __future__ import annotations

import json
from dataclasses import asdict
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from optimizer.clock import utc
from optimizer.fluence.account import AccountFacts, BilledResource, ResourceCharge
from optimizer.store import fencing
from optimizer.store.engine import store_errors, writing
from optimizer.store.tables.account import account_state_table as t


def save_account(
    engine: Engine,
    facts: AccountFacts,
    observed_at: datetime,
    *,
    orphans: list[dict[str, Any]] | None = None,
) -> None:
    """Replace the stored facts with `facts`, observed at `observed_at` (fenced write),
    with the foreign orphans listed at the same time (`executor.orphans.orphan_json`;
    None: not listed). Raise StoreError on database failure."""
    payload = json.dumps({**asdict(facts), "orphans": orphans}, default=_plain, sort_keys=True)
    with store_errors(engine), writing(engine).begin() as conn:
        fencing.check(engine, conn)
        conn.execute(t.delete())
        conn.execute(sa.insert(t).values(id=1, observed_at=utc(observed_at), payload=payload))


def load_account(engine: Engine) -> tuple[AccountFacts, datetime] | None:
    """The stored facts and when they were observed, or None when none are stored."""
    with store_errors(engine), engine.connect() as conn:
        row = conn.execute(sa.select(t.c.observed_at, t.c.payload).where(t.c.id == 1)).first()
    if row is None:
        return None
    return facts_from_json(json.loads(row.payload)), utc(row.observed_at)


def load_orphans(engine: Engine) -> tuple[list[dict[str, Any]], datetime] | None:
    """The foreign orphans stored with the facts (as `orphan_json` wrote them) and when
    they were listed, or None when none were listed."""
    with store_errors(engine), engine.connect() as conn:
        row = conn.execute(sa.select(t.c.observed_at, t.c.payload).where(t.c.id == 1)).first()
    if row is None:
        return None
    orphans = json.loads(row.payload).get("orphans")
    return None if orphans is None else (list(orphans), utc(row.observed_at))


def facts_from_json(d: dict[str, Any]) -> AccountFacts:
    """The inverse of the stored JSON."""

    def money(v: Any) -> Decimal | None:
        return None if v is None else Decimal(str(v))

    def charges(rows: list[dict[str, Any]] | None) -> tuple[ResourceCharge, ...] | None:
        if rows is None:
            return None
        return tuple(
            ResourceCharge(r["resource_id"], r["name"], r["kind"], Decimal(r["cost"])) for r in rows
        )

    resources = d.get("resources")
    since = d.get("charges_since")
    return AccountFacts(
        balance=money(d.get("balance")),
        resources=None
        if resources is None
        else tuple(
            BilledResource(r["id"], r["name"], r["kind"], money(r["per_hour"]), r.get("attached"))
            for r in resources
        ),
        charges_since=None if since is None else date.fromisoformat(since),
        charged=charges(d.get("charged")),
        charged_today=charges(d.get("charged_today")),
        notes=tuple(d.get("notes") or ()),
    )


def _plain(v: object) -> str:
    if isinstance(v, Decimal):
        return str(v)
    if isinstance(v, date):
        return v.isoformat()
    raise TypeError(f"not JSON: {type(v).__name__}")
