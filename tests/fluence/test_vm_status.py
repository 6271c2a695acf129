"""One vocabulary for VM statuses: every known status has exactly one meaning."""

from __future__ import annotations

import pytest

from optimizer.fluence.models import Vm
from optimizer.fluence.status import (
    VmStatus,
    is_ended,
    is_healthy,
    is_launching,
    is_running,
    is_unknown,
)


@pytest.mark.parametrize(
    ("status", "meaning"),
    [
        ("New", "launching"),
        ("Launching", "launching"),
        ("Active", "healthy"),
        ("SmallBalance", "healthy"),
        ("InsufficientFunds", "healthy"),
        ("Terminated", "ended"),
        ("Stopped", "ended"),
        ("Hibernating", "unknown"),  # a status a newer API might add
        ("active", "unknown"),  # spelled as the API spells it, or not at all
        (None, "unknown"),
    ],
)
def test_each_status_has_exactly_one_meaning(status: str | None, meaning: str) -> None:
    answers = {
        "launching": is_launching(status),
        "healthy": is_healthy(status),
        "ended": is_ended(status),
        "unknown": is_unknown(status),
    }
    assert [k for k, v in answers.items() if v] == [meaning]
    assert is_running(status) == (meaning in ("launching", "healthy"))


def test_the_enum_lists_every_known_status_and_compares_as_the_wire_string() -> None:
    assert [s.value for s in VmStatus] == [
        "New", "Launching", "Active", "SmallBalance", "InsufficientFunds", "Terminated",
        "Stopped",
    ]  # fmt: skip
    assert all(not is_unknown(s) for s in VmStatus)
    assert VmStatus.ACTIVE == "Active"


def test_a_wire_vm_with_an_unknown_status_parses_and_is_not_running() -> None:
    vm = Vm.model_validate({"id": "0x1", "vmName": "web-a", "status": "Hibernating"})
    assert vm.status == "Hibernating"
    assert not vm.running
