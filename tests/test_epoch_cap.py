"""Spend against the per-epoch caps: the arithmetic the planner's budget and the executor's
pre-deploy check share (`optimizer.epoch_cap`)."""

from __future__ import annotations

from decimal import Decimal

from optimizer.config import parse_config
from optimizer.epoch_cap import EpochCap, epoch_caps, epoch_spend
from optimizer.executor.fleets import budget_state
from optimizer.fluence.models import Vm
from optimizer.planner.market_view import owned_vm

FLEET = {"name": "web", "instances": 2, "os_image": "https://i.example/u.img", "ssh_keys": ["k"]}


def _vm(vm_id: str, status: str, price: str | None) -> Vm:
    return Vm.model_validate(
        {"id": vm_id, "vmName": f"web-{vm_id}", "status": status, "pricePerEpoch": price}
    )


VMS = [
    _vm("a", "Active", "1.00"),
    _vm("b", "Launching", "0.50"),
    _vm("c", "Terminated", "9.00"),  # ended: costs nothing more
    _vm("d", "Active", None),  # price unknown: not counted
    _vm("x", "SmallBalance", "2.00"),  # a foreign VM: counts for the account only
]


def test_spend_counts_running_vms_with_a_price() -> None:
    assert epoch_spend(VMS) == Decimal("3.50")


def test_caps_bind_account_then_fleet_each_with_the_spend_it_covers() -> None:
    cfg = parse_config(
        {
            "budget": {"max_usd_per_epoch": "5"},
            "fleets": [{**FLEET, "budget": {"max_usd_per_epoch": "2"}}],
        }
    )
    caps = epoch_caps(cfg, cfg.fleets[0], VMS, {"a", "b", "c", "d"})
    assert caps == [
        EpochCap("account", Decimal(5), Decimal("3.50")),
        EpochCap("web", Decimal(2), Decimal("1.50")),
    ]
    fleet_cap = caps[1]
    assert fleet_cap.headroom == Decimal("0.50")
    assert not fleet_cap.exceeded_by(Decimal("0.50"))
    assert fleet_cap.exceeded_by(Decimal("0.51"))
    # a migration replaces a VM: its price leaves as the new one's comes
    assert not fleet_cap.exceeded_by(Decimal("1.40"), replaced=Decimal("1.00"))
    assert fleet_cap.spend_after(Decimal("1.40"), Decimal("1.00")) == Decimal("1.90")


def test_no_cap_configured_gives_no_caps() -> None:
    cfg = parse_config({"fleets": [FLEET]})
    assert epoch_caps(cfg, cfg.fleets[0], VMS, {"a"}) == []


def test_the_planner_gets_the_tighter_cap() -> None:
    cfg = parse_config(
        {
            "budget": {"max_usd_per_epoch": "4"},
            "fleets": [{**FLEET, "budget": {"max_usd_per_epoch": "3"}}],
        }
    )
    mine = [owned_vm(v) for v in VMS if v.id in {"a", "b", "c", "d"}]
    state = budget_state(cfg, cfg.fleets[0], VMS, mine)
    # account: 4 − 3.50 = 0.50 left; fleet: 3 − 1.50 = 1.50 left → the account binds
    assert (state.cap_per_epoch, state.spend_per_epoch) == (Decimal(4), Decimal("3.50"))


def test_a_vm_priced_per_hour_counts_24_hours_of_it() -> None:
    """A cloud VM has no price per epoch, only an hourly one: it costs 24 × that per epoch,
    in the account's spend and its fleet's (one definition: `Vm.cost_per_epoch`)."""
    hourly = Vm.model_validate(
        {"id": "h", "vmName": "web-h", "status": "Active", "pricePerHour": "0.05"}
    )
    assert hourly.cost_per_epoch == Decimal("1.20")
    assert epoch_spend([*VMS, hourly]) == Decimal("4.70")
    cfg = parse_config({"budget": {"max_usd_per_epoch": "5"}, "fleets": [FLEET]})
    (cap,) = epoch_caps(cfg, cfg.fleets[0], [*VMS, hourly], {"h"})
    assert cap.spend == Decimal("4.70")
