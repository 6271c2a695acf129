"""Spend against the per-epoch caps: the one arithmetic the planner's budget input and the
executor's last check before a deploy share.

Two caps can bind a fleet: `[budget] max_usd_per_epoch` over every running VM of the
account (foreign VMs included), and the fleet's own `budget.max_usd_per_epoch` over the
fleet's running VMs. Spend is what each running VM costs per epoch now (`Vm.cost_per_epoch`:
the API's price per epoch, or 24 × its hourly price; see
`optimizer.fluence.status.is_running`). Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Container, Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal

from optimizer.config import Config, FleetConfig
from optimizer.fluence.models import Vm


@dataclass(frozen=True)
class EpochCap:
    """One cap and what the VMs it covers cost per epoch now. `scope` is "account" or the
    fleet's name."""

    scope: str
    cap: Decimal
    spend: Decimal

    @property
    def headroom(self) -> Decimal:
        """What may still be added per epoch (negative when the cap is already exceeded)."""
        return self.cap - self.spend

    def spend_after(self, price: Decimal, replaced: Decimal = Decimal(0)) -> Decimal:
        """Spend per epoch once a VM at `price` is added and one at `replaced` removed."""
        return self.spend - replaced + price

    def exceeded_by(self, price: Decimal, replaced: Decimal = Decimal(0)) -> bool:
        """Would adding a VM at `price` (replacing one at `replaced`) go over the cap?"""
        return self.spend_after(price, replaced) > self.cap


def epoch_spend(vms: Iterable[Vm], whole: Mapping[str, Decimal] | None = None) -> Decimal:
    """What the running VMs among `vms` cost per epoch now: `whole[id]` where given (a
    fleet VM's whole price, boot disk and IP included: `whole_price.priced_vms`), else
    `Vm.cost_per_epoch`."""
    whole = whole or {}
    costs = (whole.get(v.id, v.cost_per_epoch) for v in vms if v.running)
    return sum((c for c in costs if c is not None), Decimal(0))


def epoch_caps(
    config: Config,
    fleet: FleetConfig,
    vms: Sequence[Vm],
    owned: Container[str],
    whole: Mapping[str, Decimal] | None = None,
) -> list[EpochCap]:
    """The caps that bind `fleet` (account first, then the fleet's own), each with the
    spend it covers: all `vms` for the account, those whose id is in `owned` for the
    fleet; `whole`: VM id → its whole price per epoch where known (see `epoch_spend`).
    Empty when neither cap is configured."""
    caps: list[EpochCap] = []
    if config.budget.max_usd_per_epoch is not None:
        spend = epoch_spend(vms, whole)
        caps.append(EpochCap("account", config.budget.max_usd_per_epoch, spend))
    if fleet.budget.max_usd_per_epoch is not None:
        own = epoch_spend((v for v in vms if v.id in owned), whole)
        caps.append(EpochCap(fleet.name, fleet.budget.max_usd_per_epoch, own))
    return caps
