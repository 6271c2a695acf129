"""Simulated VMs and the account that pays for them.

Billing (fluence-api.md, "Epoch"): at deploy a VM is charged one epoch (its price moves
from the balance to `totalSpent`) and one more epoch moves from the balance into the VM's
reserve (`reservedBalance`). Every 24 h from creation (`nextBillingAt`) one epoch is paid
out of the reserve and the reserve is topped up again from the balance. Deleting a VM
refunds its reserve to the balance; the current epoch is not refunded.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from optimizer.fluence.models import Datacenter, Port, Vm, VmResource
from optimizer.fluence.status import VmStatus, is_ended
from optimizer.sim.market import SimDatacenter, SimOffer


@dataclass
class LedgerEntry:
    """One movement of money. kinds: charge (balance → spent), reserve (balance → reserve),
    charge_reserve (reserve → spent), refund (reserve → balance), deposit (→ balance)."""

    at: datetime
    vm_id: str | None
    kind: str
    amount: Decimal
    balance_after: Decimal


@dataclass
class Account:
    """The simulated account's cash. `balance` excludes what the VMs' reserves hold."""

    balance: Decimal
    ledger: list[LedgerEntry] = field(default_factory=list)

    def move(self, at: datetime, vm_id: str | None, kind: str, amount: Decimal) -> None:
        if kind in ("charge", "reserve"):
            self.balance -= amount
        elif kind in ("refund", "deposit"):
            self.balance += amount
        self.ledger.append(LedgerEntry(at, vm_id, kind, amount, self.balance))


@dataclass
class SimVm:
    """A VM as the simulator keeps it. `price` is fixed at deploy time (rental agreement)."""

    id: str
    name: str
    status: str
    price: Decimal
    offer: SimOffer | None
    server: int
    extra_storage: int
    datacenter: SimDatacenter
    slug: str
    vcpu: int
    ram_gb: int
    disk_gb: int
    cpu: dict[str, str]
    ram: dict[str, str]
    storage_type: str
    created_at: datetime
    launching_at: datetime
    active_at: datetime
    next_billing_at: datetime | None
    os_image: str
    ports: list[Port]
    hostname: str
    ssh_keys: list[str]
    ip: str
    public_ip: str | None = None
    reserved: Decimal = Decimal(0)
    spent: Decimal = Decimal(0)
    ended_at: datetime | None = None
    hidden_after: datetime | None = None
    foreign: bool = False

    @property
    def running(self) -> bool:
        return not is_ended(self.status)

    def resources_wire(self) -> list[dict[str, Any]]:
        rs = [
            VmResource(type="VCPU", quantity=self.vcpu, metadata=self.cpu,
                       details={"model": f"{self.cpu['brand']} gen {self.cpu['generation']}"}),
            VmResource(type="RAM", supply=self.ram_gb, units="GiB", metadata=self.ram),
            VmResource(type="STORAGE", supply=self.disk_gb + self.extra_storage, units="GiB",
                       metadata={"type": self.storage_type}),
            VmResource(type="PUBLIC_IP", quantity=1, metadata={"version": "4"}),
        ]  # fmt: skip
        return [r.wire() for r in rs]

    def model(self) -> Vm:
        """The wire model of this VM (what GET /vms/v3 lists)."""
        ended = is_ended(self.status)
        dc = None
        if self.status != VmStatus.TERMINATED:
            dc = Datacenter.model_validate(self.datacenter.wire())
        return Vm(
            id=self.id,
            vm_name=self.name,
            status=self.status,
            price_per_epoch=self.price,
            resources=[VmResource.model_validate(r) for r in self.resources_wire()],
            created_at=self.created_at,
            next_billing_at=None if ended else self.next_billing_at,
            os_image=self.os_image,
            datacenter=dc,
            public_ip=self.public_ip,
            ports=self.ports,
            reserved_balance=self.reserved,
            total_spent=self.spent,
        )

    def wire(self) -> dict[str, Any]:
        """The documented VM JSON; absent IP/datacenter/billing time are explicit nulls."""
        out = self.model().wire()
        out.setdefault("publicIp", None)
        out.setdefault("datacenter", None)
        out.setdefault("nextBillingAt", None)
        return out
