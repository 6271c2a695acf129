"""The account's resources on the cloud generation: VMs, disks, public IPs, SSH keys.

Each is billed on its own (see `world.CloudWorld.bill_to`): a VM from creation until it
is terminated or fails, a disk and an IP from creation until deleted — whatever happened
to the VM they were created with. `billable` says whether the meter runs now.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

#: resource names: 1-25 of [a-z0-9-], not starting or ending with a hyphen
RESOURCE_NAME_RE = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,23}[a-z0-9])?$")

VM_STATUSES = (
    "new", "launching", "launched", "failed", "updating", "terminating", "terminated",
    "suspending", "suspended", "restarting", "softRebooting",
)  # fmt: skip
#: VM actions allowed per status (`allowedActions`); anything else answers 406
VM_ACTIONS: dict[str, tuple[str, ...]] = {
    "launched": (
        "addPublicIp", "removePublicIp", "addStorages", "removeStorages",
        "updateNetworkInterface", "restart", "softReboot", "terminate",
    ),
    "launching": ("terminate",),
    "failed": ("terminate",),
    "suspended": ("terminate",),
}  # fmt: skip
VM_BILLED = frozenset({"new", "launching", "launched", "updating", "restarting", "softRebooting"})


@dataclass
class CloudVm:
    id: str
    name: str
    cluster_id: str
    configuration_id: str
    status: str
    created_at: datetime
    ssh_keys: list[str]
    network_interface: str
    boot_disk: str | None
    public_ip: str | None
    data_disks: list[str] = field(default_factory=list)
    cloud_init: str | None = None
    #: hourly price fixed at creation (used when the world bills "fixed"); else the catalog's
    price_at_create: Decimal = Decimal(0)
    updated_at: datetime | None = None
    ready_since: datetime | None = None
    terminated_at: datetime | None = None
    #: until when `GET /v2/vms` still lists it after it ended
    hidden_after: datetime | None = None
    foreign: bool = False
    #: whether the VM still takes one instance of its cluster's capacity
    holds_capacity: bool = True
    spent: Decimal = Decimal(0)

    @property
    def billable(self) -> bool:
        return self.status in VM_BILLED

    @property
    def allowed_actions(self) -> tuple[str, ...]:
        return VM_ACTIONS.get(self.status, ())


class _Detachable:
    """Disks and public IPs: billed until removed, deletable only while detached."""

    status: str
    attached_to: object

    @property
    def billable(self) -> bool:
        return self.status not in ("removing", "removed", "failed")

    @property
    def allowed_actions(self) -> tuple[str, ...]:
        if self.status in ("removing", "removed"):
            return ()
        return ("update", "attachToVm") if self.attached_to else ("update", "delete", "attachToVm")


@dataclass
class CloudStorage(_Detachable):
    id: str
    name: str
    cluster_id: str
    volume_gb: int
    role: str  # BOOT | DATA
    status: str  # new created ready updating failed removing removed
    created_at: datetime
    replicated: bool = False
    os_image: str | None = None
    image_id: str | None = None
    attached_to: list[str] = field(default_factory=list)
    ready_since: datetime | None = None
    removed_at: datetime | None = None
    hidden_after: datetime | None = None
    spent: Decimal = Decimal(0)


@dataclass
class CloudPublicIp(_Detachable):
    id: str
    name: str
    cluster_id: str
    status: str  # new created ready failed removing removed
    created_at: datetime
    address: str
    attached_to: str | None = None
    ready_since: datetime | None = None
    removed_at: datetime | None = None
    hidden_after: datetime | None = None
    spent: Decimal = Decimal(0)


@dataclass
class CloudSshKey:
    id: str
    name: str
    public_key: str
    algorithm: str
    fingerprint: str
    created_at: datetime


@dataclass
class Charge:
    """Usage of one resource on one UTC day: what `/v1/billing/charges/*` aggregate."""

    resource_id: str
    resource_type: str  # VM | STORAGE | PUBLIC_IP
    day: str  # YYYY-MM-DD
    seconds: Decimal = Decimal(0)
    cost: Decimal = Decimal(0)
