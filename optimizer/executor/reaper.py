"""Nothing left billing: the disks and public IPs that outlive their VM.

Where the API bills a VM's boot disk and public IP apart from it (cloud generation),
terminating the VM deletes neither; they bill until deleted. The executor journals every
one it creates (and those of owned VMs it deletes) in `fleet_resource`; this module

- `reap(...)`: deletes OURS — journaled, not deleted yet — that are detached and whose VM
  is gone (listed as ended, or no longer listed) once `grace` has passed since the VM was
  deleted or first seen gone. It never touches a disk or IP the journal does not hold,
  nor one still attached to anything. The daemon runs it after the executor (act mode).
- `foreign_orphans(...)`: reports, without touching them, the detached disks and IPs the
  optimizer did NOT create, with what they cost per month (pure: the caller lists).

On marketplace-v3 the journal holds no disks or IPs and the lists are empty: `reap` makes
no call and `foreign_orphans` finds nothing.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal

import structlog
from sqlalchemy.engine import Engine

from optimizer.errors import ApiError
from optimizer.executor import journal as jr
from optimizer.executor.api import ExecutorClient
from optimizer.fluence.models import Detachable, Vm
from optimizer.fluence.status import is_ended
from optimizer.store.engine import store_errors
from optimizer.store.tables.journal import FleetResource

log = structlog.get_logger("optimizer.reaper")

#: hours in a billing month, as the API prices a month (`priceMonthlyUsd` = hourly × 730)
HOURS_PER_MONTH = Decimal(730)


@dataclass
class Reaped:
    """What one `reap` pass did: ids deleted, ids found already gone, ids waiting out the
    grace, and one line per delete the API refused (retried next pass)."""

    deleted: list[str] = field(default_factory=list)
    gone: list[str] = field(default_factory=list)
    waiting: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def summary(self) -> str:
        parts = [
            f"{label}={len(ids)}"
            for label, ids in (
                ("deleted", self.deleted),
                ("gone", self.gone),
                ("waiting", self.waiting),
                ("errors", self.errors),
            )
            if ids
        ]
        return ", ".join(parts)


def reap(
    client: ExecutorClient,
    engine: Engine,
    now: datetime,
    vms: Sequence[Vm] | None,
    grace: timedelta,
) -> Reaped:
    """Delete our detached disks and IPs whose VM is gone, `grace` after it went.

    `vms` is the tick's VM list (None: listed here, when needed). Makes no call at all
    unless the journal holds disks or IPs not yet deleted (never on marketplace-v3);
    deletes one at a time so one refusal (e.g. attached again, 406) does not hold back
    the others."""
    out = Reaped()
    live = jr.live_resources(engine)
    if not live:
        return out
    if vms is None:
        vms = client.list_vms()
    listed: dict[str, Detachable] = {r.id: r for r in client.list_disks()}
    listed.update({r.id: r for r in client.list_public_ips()})
    by_id = {v.id: v for v in vms}
    gone_now: list[str] = []  # VM gone: the grace starts now
    for row in live:
        vm = by_id.get(row.vm_id) if row.vm_id is not None else None
        verdict = _verdict(row, listed.get(row.resource_id), vm, now, grace)
        if verdict == "start":
            gone_now.append(row.resource_id)
            verdict = "delete" if grace <= timedelta(0) else "wait"
        if verdict == "gone":
            out.gone.append(row.resource_id)
        elif verdict == "wait":
            out.waiting.append(row.resource_id)
        elif verdict == "delete":
            _delete(client, row, out)
    _mark(engine, now, gone_now, [*out.deleted, *out.gone])
    return out


def _verdict(
    row: FleetResource, res: Detachable | None, vm: Vm | None, now: datetime, grace: timedelta
) -> str:
    """What to do with one journaled disk or IP: "gone" (deleted already, by us earlier or
    by the API), "busy" (attached, or its VM still listed as not ended), "start" (its VM
    is seen gone now: the grace starts), "wait" (within the grace) or "delete"."""
    if res is None or res.removed:
        # not listed: deleted already — unless it is too new to be listed yet
        return "gone" if res is not None or now - row.created_at >= grace else "busy"
    if res.attached or (vm is not None and not is_ended(vm.status)):
        return "busy"
    if row.vm_gone_at is None:
        return "start"
    return "wait" if now - row.vm_gone_at < grace else "delete"


def _delete(client: ExecutorClient, row: FleetResource, out: Reaped) -> None:
    try:
        if row.kind == "disk":
            client.delete_disks([row.resource_id])
        else:
            client.delete_public_ips([row.resource_id])
    except ApiError as err:
        if err.status == 404:
            out.gone.append(row.resource_id)
            return
        out.errors.append(f"{row.kind} {row.resource_id}: {err}")
        log.warning("delete failed", kind=row.kind, id=row.resource_id, error=str(err))
        return
    out.deleted.append(row.resource_id)
    log.info("deleted", kind=row.kind, id=row.resource_id, fleet=row.fleet, vm_id=row.vm_id)


def _mark(engine: Engine, now: datetime, vm_gone: Iterable[str], deleted: Iterable[str]) -> None:
    with store_errors(engine), jr.session(engine) as s:
        for rid in vm_gone:
            row = s.get(FleetResource, rid)
            if row is not None and row.vm_gone_at is None:
                row.vm_gone_at = now
                s.add(row)
        for rid in deleted:
            row = s.get(FleetResource, rid)
            if row is not None and row.deleted_at is None:
                row.deleted_at = now
                s.add(row)
        s.commit()


@dataclass(frozen=True)
class Orphan:
    """A detached disk or IP the optimizer did not create: it bills until someone deletes
    it. `monthly_usd` is None when the API gave no price."""

    kind: str  # "disk" | "ip"
    id: str
    name: str
    price_per_hour: Decimal | None
    created_at: datetime | None

    @property
    def monthly_usd(self) -> Decimal | None:
        return None if self.price_per_hour is None else self.price_per_hour * HOURS_PER_MONTH


def foreign_orphans(
    disks: Iterable[Detachable],
    public_ips: Iterable[Detachable],
    vms: Sequence[Vm],
    ours: set[str],
) -> list[Orphan]:
    """The disks and IPs not in `ours` (every id the journal holds, `jr.resource_ids`)
    that bill without a live VM: detached, or attached only to VMs listed as ended.
    Reported, never touched. Pure."""
    live = {v.id for v in vms if not is_ended(v.status)}
    out = []
    for kind, items in (("disk", disks), ("ip", public_ips)):
        for r in items:
            if r.id in ours or r.removed or set(r.vm_ids) & live:
                continue
            out.append(Orphan(kind, r.id, r.name, r.price_per_hour, r.created_at))
    return sorted(out, key=lambda o: (o.kind, o.name, o.id))


__all__ = ["HOURS_PER_MONTH", "Orphan", "Reaped", "foreign_orphans", "reap"]
