"""What each fleet is doing now, from the store alone: the report's first section answers
"what do my fleets cost, what did the optimizer save, what would it do now" with it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from optimizer.clock import utc
from optimizer.executor.journal import OPEN_STATES
from optimizer.money import from_micros
from optimizer.store.engine import store_errors
from optimizer.store.tables import table_of
from optimizer.store.tables.alerts import PlanCash
from optimizer.store.tables.journal import FleetVm, JournalAction


@dataclass(frozen=True)
class FleetOutlook:
    """One fleet now. `open_actions` are the journal's unfinished actions ("migrate: why");
    `available_per_epoch` is what the last plan said moving would still save per epoch,
    as of `planned_at` (None before the daemon planned the fleet)."""

    fleet: str
    vms: int
    open_actions: tuple[str, ...]
    available_per_epoch: Decimal | None
    planned_at: datetime | None


def fleet_outlook(engine: Engine) -> list[FleetOutlook]:
    """Every fleet that owns a VM, has an open action or was planned; sorted by name.
    Raise StoreError when the database fails."""
    vm_t = table_of(FleetVm)
    act_t = table_of(JournalAction)
    plan_t = table_of(PlanCash)
    with store_errors(engine), engine.connect() as conn:
        vms: dict[str, int] = dict(
            conn.execute(
                sa.select(vm_t.c.fleet, sa.func.count())
                .where(vm_t.c.released_at.is_(None))
                .group_by(vm_t.c.fleet)
            ).all()
        )
        actions: dict[str, list[str]] = {}
        for row in conn.execute(
            sa.select(act_t.c.fleet, act_t.c.kind, act_t.c.reason)
            .where(act_t.c.state.in_(OPEN_STATES))
            .order_by(act_t.c.id)
        ):
            actions.setdefault(row.fleet, []).append(
                f"{row.kind}: {row.reason}" if row.reason else row.kind
            )
        plans = {r.fleet: r for r in conn.execute(sa.select(plan_t))}
    names = sorted(set(vms) | set(actions) | set(plans))
    return [
        FleetOutlook(
            fleet=name,
            vms=int(vms.get(name, 0)),
            open_actions=tuple(actions.get(name, ())),
            available_per_epoch=(
                from_micros(plans[name].savings_micros) if name in plans else None
            ),
            planned_at=utc(plans[name].planned_at) if name in plans else None,
        )
        for name in names
    ]
