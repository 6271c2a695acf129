"""Journal, ownership and savings-ledger access (tables in optimizer.store.tables.journal).

Everything the executor remembers between ticks and across restarts lives here. The
planner never reads this module; `fleet_inputs` turns it into planner inputs.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from sqlalchemy import or_
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from optimizer.clock import EPOCH, EPOCH_SECONDS, utc
from optimizer.errors import ExecutionError
from optimizer.fluence.models import VM_TOKEN_CHARS, Vm
from optimizer.money import from_micros, to_micros
from optimizer.planner.inputs import (
    DEFAULT_LEAD_TIME,
    Action,
    InFlight,
    LaunchStats,
    Plan,
)
from optimizer.store import fencing
from optimizer.store.engine import store_errors
from optimizer.store.tables.journal import FleetResource, FleetVm, JournalAction, SavingsEntry

OPEN_STATES = ("planned", "deploying", "launching", "cutover")
FINAL_STATES = ("done", "failed", "aborted")


def vm_name(fleet: str, token: str) -> str:
    """The unique VM name the executor deploys with: `<fleet>-<token>`."""
    return f"{fleet}-{token}"


def new_token() -> str:
    return secrets.token_hex(VM_TOKEN_CHARS // 2)


def session(engine: Engine) -> Session:
    """A journal session. When a leader elector registered a fence for `engine`
    (optimizer.store.fencing), every commit first checks the leader term (raising
    LeadershipLost, nothing written) and stamps it on the journal rows."""
    return fencing.apply(Session(engine, expire_on_commit=False), engine)


# -- ownership --------------------------------------------------------------------------


def owned_ids(engine: Engine, fleet: str | None = None) -> dict[str, FleetVm]:
    """VM id → ownership row for every VM currently owned (by `fleet`, or by any fleet)."""
    with store_errors(engine), session(engine) as s:
        q = select(FleetVm).where(col(FleetVm.released_at).is_(None))
        if fleet is not None:
            q = q.where(FleetVm.fleet == fleet)
        return {row.vm_id: row for row in s.exec(q)}


def own(
    s: Session,
    vm_id: str,
    fleet: str,
    now: datetime,
    *,
    source: str,
    name: str = "",
    action_id: int | None = None,
    created_at: datetime | None = None,
) -> None:
    """Record `vm_id` as owned by `fleet`. `created_at` is the VM's `createdAt` when known
    (else recorded by `reconcile_ownership` when the VM is first listed)."""
    row = s.get(FleetVm, vm_id)
    if row is None:
        s.add(
            FleetVm(
                vm_id=vm_id,
                fleet=fleet,
                source=source,
                vm_name=name,
                action_id=action_id,
                owned_at=now,
                vm_created_at=utc(created_at) if created_at is not None else None,
                absent_ticks=0,
            )
        )
    else:
        row.fleet, row.source, row.released_at, row.owned_at = fleet, source, None, now
        row.vm_name = name or row.vm_name
        row.action_id = action_id
        row.vm_created_at = utc(created_at) if created_at is not None else None
        row.absent_ticks = 0
        s.add(row)


def same_vm(row: FleetVm, vm: Vm) -> bool:
    """Whether listed `vm` is the VM `row` took ownership of. Ids are the API's and may be
    reused: once the VM's `createdAt` is recorded, a VM under that id with another (or no)
    `createdAt` is a different VM and must not be acted on."""
    if row.vm_created_at is None:
        return True  # not seen yet since ownership (a deploy whose VM is not listed yet)
    return vm.created_at is not None and utc(vm.created_at) == row.vm_created_at


#: An owned VM missing from this many VM lists in a row is taken to be gone: its ownership
#: is released, so its id, if the API ever hands it to another VM, is not owned. The
#: executor checks the tick's list each time it runs for the fleet (act mode: every tick
#: while the fleet has open actions, else every planning tick). Deleting a VM releases it
#: at once.
RELEASE_AFTER_ABSENT_TICKS = 4


@dataclass(frozen=True)
class Released:
    vm_id: str
    fleet: str
    why: str


def reconcile_ownership(
    engine: Engine, vms: Sequence[Vm], now: datetime, fleet: str | None = None
) -> list[Released]:
    """Check the ownership rows (of `fleet`, or all) against one VM list `vms`.

    A listed VM gets its `createdAt` recorded the first time and its absence count reset;
    a listed VM whose `createdAt` differs from the recorded one is another VM that got
    the id, and the ownership is released; an unlisted one counts one more absence and
    is released after RELEASE_AFTER_ABSENT_TICKS. Returns what was released and why."""
    by_id = {v.id: v for v in vms}
    out: list[Released] = []
    with store_errors(engine), session(engine) as s:
        q = select(FleetVm).where(col(FleetVm.released_at).is_(None))
        if fleet is not None:
            q = q.where(FleetVm.fleet == fleet)
        for row in s.exec(q):
            vm = by_id.get(row.vm_id)
            why = None
            if vm is None:
                row.absent_ticks += 1
                if row.absent_ticks >= RELEASE_AFTER_ABSENT_TICKS:
                    why = f"missing from {row.absent_ticks} VM lists in a row"
            elif not same_vm(row, vm):
                why = (
                    f"the id now names another VM (createdAt {_iso(vm.created_at)}, "
                    f"owned one created {_iso(row.vm_created_at)})"
                )
            else:
                row.absent_ticks = 0
                if row.vm_created_at is None and vm.created_at is not None:
                    row.vm_created_at = utc(vm.created_at)
            s.add(row)
            if why is not None:
                release(s, row.vm_id, now)
                out.append(Released(row.vm_id, row.fleet, why))
        s.commit()
    return out


def _iso(t: datetime | None) -> str:
    return t.isoformat() if t is not None else "unknown"


def release(s: Session, vm_id: str, now: datetime) -> None:
    row = s.get(FleetVm, vm_id)
    if row is not None and row.released_at is None:
        row.released_at = now
        s.add(row)
    for entry in s.exec(
        select(SavingsEntry).where(
            SavingsEntry.new_vm_id == vm_id, col(SavingsEntry.ended_at).is_(None)
        )
    ):
        entry.ended_at = now
        s.add(entry)


def adopt(
    engine: Engine, fleet: str, vms: Sequence[Vm], vm_ids: Iterable[str], now: datetime
) -> list[str]:
    """Record `vm_ids` as owned by `fleet`. Each must exist in `vms` (the account's VM list)
    and must not belong to another fleet. Raise ExecutionError naming the first bad id."""
    by_id = {v.id: v for v in vms}
    current = owned_ids(engine)
    done = []
    with store_errors(engine), session(engine) as s:
        for vm_id in vm_ids:
            vm = by_id.get(vm_id)
            if vm is None:
                raise ExecutionError(f"no VM {vm_id} in this account", fleet=fleet)
            other = current.get(vm_id)
            if other is not None and other.fleet != fleet:
                raise ExecutionError(
                    f"VM {vm_id} already belongs to fleet {other.fleet}; release it first",
                    fleet=fleet,
                )
            own(s, vm_id, fleet, now, source="adopted", name=vm.vm_name, created_at=vm.created_at)
            done.append(vm_id)
        s.commit()
    return done


def release_vms(engine: Engine, fleet: str, vm_ids: Iterable[str], now: datetime) -> list[str]:
    """Stop owning `vm_ids` (the VMs keep running; the daemon no longer touches them)."""
    current = owned_ids(engine, fleet)
    done = []
    with store_errors(engine), session(engine) as s:
        for vm_id in vm_ids:
            if vm_id not in current:
                raise ExecutionError(f"VM {vm_id} is not owned by fleet {fleet}", fleet=fleet)
            release(s, vm_id, now)
            done.append(vm_id)
        s.commit()
    return done


# -- disks and public IPs ---------------------------------------------------------------


def vm_resources(vm: Vm) -> list[tuple[str, str]]:
    """(kind, id) of what a VM holds that bills apart from it: its boot disk ("disk") and
    public IP ("ip"). Empty on marketplace-v3, whose VMs hold nothing of their own."""
    out = []
    if vm.boot_disk_id:
        out.append(("disk", vm.boot_disk_id))
    if vm.public_ip_id:
        out.append(("ip", vm.public_ip_id))
    return out


def record_resource(
    s: Session,
    resource_id: str,
    kind: str,
    fleet: str,
    now: datetime,
    *,
    name: str = "",
    vm_id: str | None = None,
    action_id: int | None = None,
) -> None:
    """Journal a disk or IP the optimizer is responsible for (idempotent: a known one only
    gets the VM or name it lacked)."""
    row = s.get(FleetResource, resource_id)
    if row is None:
        s.add(
            FleetResource(
                resource_id=resource_id,
                kind=kind,
                fleet=fleet,
                name=name,
                vm_id=vm_id,
                action_id=action_id,
                created_at=now,
            )
        )
        return
    if row.vm_id is None and vm_id is not None:
        row.vm_id = vm_id
    row.name = row.name or name
    s.add(row)


def vm_gone(s: Session, vm_id: str, now: datetime) -> None:
    """The VM `vm_id` was deleted (or seen gone): its disks' and IPs' grace starts now."""
    for row in s.exec(
        select(FleetResource).where(
            FleetResource.vm_id == vm_id, col(FleetResource.vm_gone_at).is_(None)
        )
    ):
        row.vm_gone_at = now
        s.add(row)


def live_resources(engine: Engine) -> list[FleetResource]:
    """The journaled disks and IPs not deleted yet, oldest first."""
    with store_errors(engine), session(engine) as s:
        q = select(FleetResource).where(col(FleetResource.deleted_at).is_(None))
        return list(s.exec(q.order_by(col(FleetResource.created_at))))


def resource_ids(engine: Engine) -> set[str]:
    """Every disk and IP id the journal has ever held (ours, deleted or not)."""
    with store_errors(engine), session(engine) as s:
        return set(s.exec(select(FleetResource.resource_id)))


# -- journal ----------------------------------------------------------------------------


def open_actions(engine: Engine, fleet: str | None = None) -> list[JournalAction]:
    with store_errors(engine), session(engine) as s:
        q = select(JournalAction).where(col(JournalAction.state).in_(OPEN_STATES))
        if fleet is not None:
            q = q.where(JournalAction.fleet == fleet)
        return list(s.exec(q.order_by(col(JournalAction.id))))


def recent_actions(engine: Engine, fleet: str | None, since: datetime) -> list[JournalAction]:
    with store_errors(engine), session(engine) as s:
        q = select(JournalAction).where(
            or_(
                col(JournalAction.state).in_(OPEN_STATES),
                col(JournalAction.updated_at) >= since,
            )
        )
        if fleet is not None:
            q = q.where(JournalAction.fleet == fleet)
        return list(s.exec(q.order_by(col(JournalAction.id))))


def failed_actions(engine: Engine, fleet: str | None, since: datetime) -> list[JournalAction]:
    """Actions (of `fleet`, or all) that ended as failed at or after `since`."""
    with store_errors(engine), session(engine) as s:
        q = select(JournalAction).where(
            JournalAction.state == "failed",
            col(JournalAction.finished_at) >= since,
        )
        if fleet is not None:
            q = q.where(JournalAction.fleet == fleet)
        return list(s.exec(q.order_by(col(JournalAction.id))))


def record_plan(
    engine: Engine, plan: Plan, now: datetime, fencing_token: int | None = None
) -> list[int]:
    """Write the plan's actions to the journal (state "planned"), skipping any action on a
    VM that an open action already works on. Returns the new action ids."""
    busy = {a.old_vm_id for a in open_actions(engine, plan.fleet) if a.old_vm_id}
    ids: list[int] = []
    with store_errors(engine), session(engine) as s:
        rows = []
        for a in plan.actions:
            if a.vm_id is not None and a.vm_id in busy:
                continue
            rows.append(_row(a, now, fencing_token))
        s.add_all(rows)
        s.commit()
        ids = [r.id for r in rows if r.id is not None]
    return ids


def _row(a: Action, now: datetime, fencing_token: int | None) -> JournalAction:
    def m(d: Decimal | None) -> int | None:
        return to_micros(d) if d is not None else None

    return JournalAction(
        fleet=a.fleet,
        kind=a.kind,
        state="planned",
        token=new_token(),
        reason=a.reason,
        constraints_json=a.constraints.model_dump_json(by_alias=True, exclude_none=True)
        if a.constraints is not None
        else None,
        cap_micros=m(a.cap),
        expected_price_micros=m(a.expected_price),
        old_price_micros=m(a.old_price),
        target_datacenter=a.offer.datacenter if a.offer is not None else None,
        old_vm_id=a.vm_id,
        new_vm_ids="",
        not_before=a.not_before,
        cutover_at=a.cutover_at,
        created_at=now,
        updated_at=now,
        attempts=0,
        fencing_token=fencing_token,
    )


def in_flight(engine: Engine, fleet: str, vms: Sequence[Vm], now: datetime) -> InFlight:
    """What unfinished (and recent) journal actions mean for the planner (see InFlight)."""
    rows = recent_actions(engine, fleet, now - EPOCH)
    busy: set[str] = set()
    new: set[str] = set()
    scaling = migrations = 0
    recent: list[datetime] = []
    avoid: set[str] = set()
    for r in rows:
        is_open = r.state in OPEN_STATES
        if is_open:
            if r.old_vm_id:
                busy.add(r.old_vm_id)
            new.update(x for x in r.new_vm_ids.split(",") if x)
            if r.kind == "migrate":
                migrations += 1
            else:
                scaling += 1
        # a migration counts against the per-epoch limit once it disrupted something: it is
        # under way or created a VM; one that ended before any VM existed (aborted at the
        # estimate, or no deploy took effect) moved nothing
        started = is_open or bool(r.new_vm_ids)
        if r.kind == "migrate" and started and now - r.created_at < EPOCH:
            recent.append(r.created_at)
        # only the datacenter's own launch failures, not our restarts or API trouble
        if r.state == "failed" and r.failure_cause == "launch" and r.target_datacenter:
            avoid.add(r.target_datacenter)
    return InFlight(
        busy=frozenset(busy),
        new_vm_ids=frozenset(new),
        scaling=scaling,
        migrations=migrations,
        recent_migrations=tuple(sorted(recent)),
        avoid_datacenters=frozenset(avoid),
    )


def launch_stats(
    engine: Engine,
    now: datetime,
    *,
    window: timedelta = timedelta(days=30),
    default: timedelta = DEFAULT_LEAD_TIME,
) -> LaunchStats:
    """Lead time for new VMs: the 80th percentile of observed deploy → Active durations
    (finished deploys in `window`; seen at tick granularity, so slightly pessimistic),
    plus a 2-minute margin; `default` when fewer than 3 launches were observed."""
    with store_errors(engine), session(engine) as s:
        rows = s.exec(
            select(JournalAction).where(
                col(JournalAction.kind).in_(("deploy", "replace_stuck")),
                JournalAction.state == "done",
                col(JournalAction.finished_at) >= now - window,
            )
        )
        durations = sorted(
            r.finished_at - r.deploy_started_at
            for r in rows
            if r.finished_at is not None and r.deploy_started_at is not None
        )
    if len(durations) < 3:
        return LaunchStats(lead_time=default)
    p80 = durations[min(len(durations) - 1, (len(durations) * 8) // 10)]
    return LaunchStats(lead_time=p80 + timedelta(minutes=2))


# -- savings ----------------------------------------------------------------------------


@dataclass(frozen=True)
class FleetSavings:
    fleet: str
    migrations: int
    saving_per_epoch: Decimal  # of migrations whose new VM still runs
    realized: Decimal  # accumulated so far


def savings(engine: Engine, now: datetime) -> dict[str, FleetSavings]:
    """Realized savings per fleet: Σ (old − new price) × epochs since each completed
    migration (until its new VM was removed or moved on)."""
    out: dict[str, FleetSavings] = {}
    with store_errors(engine), session(engine) as s:
        for e in s.exec(select(SavingsEntry).order_by(col(SavingsEntry.id))):
            diff = from_micros(e.old_price_micros - e.new_price_micros)
            end = e.ended_at or now
            epochs = Decimal(
                int(max((end - e.completed_at), timedelta(0)).total_seconds())
            ) / Decimal(EPOCH_SECONDS)
            prev = out.get(e.fleet, FleetSavings(e.fleet, 0, Decimal(0), Decimal(0)))
            out[e.fleet] = FleetSavings(
                e.fleet,
                prev.migrations + 1,
                prev.saving_per_epoch + (diff if e.ended_at is None else Decimal(0)),
                prev.realized + (diff * epochs).quantize(Decimal("0.000001")),
            )
    return out


__all__ = [
    "FINAL_STATES",
    "OPEN_STATES",
    "RELEASE_AFTER_ABSENT_TICKS",
    "FleetSavings",
    "Released",
    "adopt",
    "in_flight",
    "live_resources",
    "open_actions",
    "owned_ids",
    "reconcile_ownership",
    "record_plan",
    "record_resource",
    "release_vms",
    "resource_ids",
    "same_vm",
    "savings",
    "vm_gone",
    "vm_name",
    "vm_resources",
]
