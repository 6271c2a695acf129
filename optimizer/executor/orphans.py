"""The foreign orphans of the account now: list the disks and IPs, take out every one the
journal holds, keep those that bill without a live VM (`reaper.foreign_orphans`, pure).

Shared by the daemon's snapshot tick (for the `resources.orphaned` alert) and `fleets
status`. On an API whose disks and IPs are not resources of their own (marketplace-v3)
the lists are empty: no journal read, nothing found.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy.engine import Engine

from optimizer.executor.api import ExecutorClient
from optimizer.executor.reaper import Orphan, foreign_orphans
from optimizer.fluence.models import Vm


def list_foreign_orphans(
    client: ExecutorClient,
    engine: Engine,
    vms: Sequence[Vm],
    prices: Mapping[str, Decimal | None] | None = None,
) -> list[Orphan]:
    """Detached disks and IPs the optimizer did not create, billing now. `prices`: id →
    hourly price for resources the listing carries no price for (the account facts'
    billed resources, priced from the price lists). Raise ApiError / StoreError."""
    from optimizer.executor import journal as jr

    disks, ips = client.list_disks(), client.list_public_ips()
    if not disks and not ips:
        return []
    found = foreign_orphans(disks, ips, vms, jr.resource_ids(engine))
    prices = prices or {}
    return [
        replace(o, price_per_hour=prices.get(o.id)) if o.price_per_hour is None else o
        for o in found
    ]


def orphan_json(o: Orphan) -> dict[str, Any]:
    """An orphan as stored with the account facts (`optimizer.store.account`)."""
    return {
        "kind": o.kind,
        "id": o.id,
        "name": o.name,
        "price_per_hour": None if o.price_per_hour is None else str(o.price_per_hour),
        "created_at": None if o.created_at is None else o.created_at.isoformat(),
    }


def orphan_from_json(d: dict[str, Any]) -> Orphan:
    price, created = d.get("price_per_hour"), d.get("created_at")
    return Orphan(
        kind=d["kind"],
        id=d["id"],
        name=d.get("name") or "",
        price_per_hour=None if price is None else Decimal(price),
        created_at=None if created is None else datetime.fromisoformat(created),
    )
