"""A VM in a status the optimizer does not know (a newer API's status, a malformed one)
is left alone: counted as part of its fleet, never replaced, removed or migrated."""

from __future__ import annotations

from decimal import Decimal

import pytest

from optimizer.planner.inputs import BudgetState
from tests.planner.test_planner_rules import fleet, market, offer, plan, vm


@pytest.mark.parametrize("status", ["hibernating", "unknown", "draft", ""])
def test_unknown_status_is_left_alone_on_scale_down(status: str) -> None:
    # dearest by far, and the fleet looks one VM too big: still nothing touches it, and
    # the healthy VM is not removed because of it either
    p = plan(fleet(instances=1), [vm("a", "1.00"), vm("b", "9.00", status=status)], market())
    assert p.actions == ()
    verdict = next(v for v in p.verdicts if v.vm_id == "b")
    assert verdict.decision == "stay" and "left alone" in verdict.reason


def test_unknown_status_is_not_replaced_nor_migrated() -> None:
    # a much cheaper offer and a fleet of two: the unknown VM is not migrated, and no VM
    # is deployed to stand in for it
    p = plan(
        fleet(instances=2),
        [vm("a", "1.00"), vm("b", "1.00", status="hibernating", age_h=500)],
        market(offer("x", "0.10")),
    )
    assert all(a.vm_id != "b" for a in p.actions)
    assert [a.kind for a in p.actions if a.kind == "deploy"] == []


def test_unknown_status_is_not_removed_by_the_budget_cap() -> None:
    p = plan(
        fleet(instances=1),
        [vm("a", "5.00", status="hibernating")],
        market(),
        budget=BudgetState(cap_per_epoch=Decimal("1.00"), spend_per_epoch=Decimal("5.00")),
    )
    assert p.actions == ()
