"""Plans as plain data (for `plan --json`, logs and reports). Pure."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from optimizer.planner.inputs import Action, Plan


def _s(d: Decimal | None) -> str | None:
    return None if d is None else str(d)


def action_dict(a: Action) -> dict[str, Any]:
    return {
        "kind": a.kind,
        "fleet": a.fleet,
        "vmId": a.vm_id,
        "reason": a.reason,
        "targetOffer": a.offer.offer_key if a.offer else None,
        "targetDatacenter": a.offer.datacenter if a.offer else None,
        "configuration": a.offer.configuration if a.offer else None,
        "constraints": a.constraints.wire() if a.constraints else None,
        "capUsd": _s(a.cap),
        "expectedPriceUsd": _s(a.expected_price),
        "oldPriceUsd": _s(a.old_price),
        "savingPerEpochUsd": _s(a.saving_per_epoch),
        "savingOverHorizonUsd": _s(a.saving_over_horizon),
        "notBefore": a.not_before.isoformat() if a.not_before else None,
        "cutoverAt": a.cutover_at.isoformat() if a.cutover_at else None,
    }


def plan_dict(p: Plan) -> dict[str, Any]:
    """The plan as JSON-ready data (money as decimal strings)."""
    return {
        "fleet": p.fleet,
        "mode": p.mode,
        "billing": p.billing.name,
        "now": p.now.isoformat(),
        "targetInstances": p.target_instances,
        "healthyInstances": p.healthy_instances,
        "costPerEpochNowUsd": str(p.cost_per_epoch_now),
        "costPerEpochPlannedUsd": str(p.cost_per_epoch_planned),
        "savingPerEpochUsd": str(p.saving_per_epoch),
        "depositsNeededUsd": str(p.deposits_needed),
        "reservesHeldUsd": str(p.reserves_held),
        "budgetLimited": p.budget_limited,
        "notes": list(p.notes),
        "actions": [action_dict(a) for a in p.actions],
        "vms": [
            {"id": v.vm_id, "name": v.name, "decision": v.decision, "reason": v.reason}
            for v in p.verdicts
        ],
    }
