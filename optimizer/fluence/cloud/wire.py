"""Wire models of the cloud generation (shared/fluence-cloud-api/, specs 0.8.210 and 0.10.0).

Tolerant like the v3 models: unknown fields ignored, enums kept as plain strings (an
unknown status or storage type parses; the adapter decides what it means), optional
fields may be missing, money is `Decimal` (the API sends decimal strings). Where the two
specs differ the model accepts both (`dcId` / `dc_id`).
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from pydantic import AliasChoices, Field

from optimizer.fluence.models import Wire
from optimizer.money import Usd

#: VM statuses of the specs (0.10.0 adds "unknown"); anything else is tolerated
VM_STATUSES = (
    "new",
    "launching",
    "launched",
    "failed",
    "updating",
    "terminating",
    "terminated",
    "suspending",
    "suspended",
    "restarting",
    "softRebooting",
    "unknown",
)


class Cluster(Wire):
    id: str
    name: str = ""
    dc_id: str | None = Field(default=None, validation_alias=AliasChoices("dcId", "dc_id"))


class CloudDatacenter(Wire):
    id: str
    country_code: str | None = None
    city_code: str | None = None
    city_name: str | None = None
    index: int | None = None
    tier: int | None = None
    certifications: list[str] = Field(default_factory=list)
    slug: str | None = None


class VmConfiguration(Wire):
    id: str
    slug: str
    name: str = ""
    vcpu: int | None = None
    ram_gb: int | None = None
    dedicated: bool | None = None
    cpu_families: list[str] = Field(default_factory=list)
    preset: str | None = None
    tags: list[str] = Field(default_factory=list)
    description: str | None = None


class AvailableStorage(Wire):
    storage_type: str
    replicated: bool = False
    volume_gb: int = 0


class ClusterResources(Wire):
    """What a cluster can still host: configurations, public IPs per address type,
    storage per CPU family."""

    available_configurations: list[VmConfiguration] = Field(default_factory=list)
    available_public_ips: dict[str, int] = Field(default_factory=dict)
    available_storage: dict[str, list[AvailableStorage]] = Field(default_factory=dict)


class PriceInfo(Wire):
    price_per_hour_per_qty: Usd


class VmTypeId(Wire):
    vm_configuration_id: str
    cluster_id: str


class VmPrice(Wire):
    """The hourly price of one configuration in one cluster: one price point."""

    vm_type_id: VmTypeId
    price_info: PriceInfo

    @property
    def per_hour(self) -> Decimal:
        return self.price_info.price_per_hour_per_qty


class StorageTypeId(Wire):
    storage_type: str
    replicated: bool = False
    cluster_id: str


class StoragePrice(Wire):
    """Hourly price per GB of one storage type in one cluster."""

    storage_type_id: StorageTypeId
    price_info: PriceInfo


class PublicIpTypeId(Wire):
    address_type: str
    cluster_id: str


class PublicIpPrice(Wire):
    public_ip_type_id: PublicIpTypeId
    price_info: PriceInfo


class ResourceCost(Wire):
    resource: dict[str, Any] = Field(default_factory=dict)
    cost_per_sec: Usd


class CostResult(Wire):
    """`POST /v1/prices/cost`: what the resources cost over `period_secs`."""

    cost_of_resources: list[ResourceCost] = Field(default_factory=list)
    total_cost_per_sec: Usd
    period_secs: int | None = None
    total_cost: Usd


class DefaultImage(Wire):
    id: str
    name: str = ""
    distribution: str | None = None
    slug: str | None = None
    download_url: str
    icon_url: str | None = None
    username: str | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None


class SshKey(Wire):
    id: str
    user_id: str | None = None
    name: str = ""
    public_key: str
    algorithm: str | None = None
    fingerprint: str = ""


class StorageImage(Wire):
    id: str | None = None
    name: str | None = None
    slug: str | None = None
    distribution: str | None = None


class Storage(Wire):
    """A disk: billed per second until deleted, attached or not."""

    id: str
    cluster_id: str | None = None
    name: str = ""
    storage_type: str | None = None
    status: str | None = None
    role: str | None = None
    volume_gb: int | None = None
    replicated: bool | None = None
    attached_to: list[str] = Field(default_factory=list)
    created_at: datetime | None = None
    removed_at: datetime | None = None
    price_hourly_usd: Usd | None = None
    image: StorageImage | None = None
    init_url: str | None = None


class VmReference(Wire):
    id: str
    name: str | None = None


class PublicIp(Wire):
    """A public IP: billed per second until deleted, attached or not."""

    id: str
    cluster_id: str | None = None
    name: str = ""
    address: str | None = None
    address_type: str | None = None
    status: str | None = None
    #: 0.10.0: {id, name}; 0.8.210: the bare VM id
    attached_to: VmReference | str | None = None
    created_at: datetime | None = None
    removed_at: datetime | None = None
    price_hourly_usd: Usd | None = None

    @property
    def attached_vm_id(self) -> str | None:
        a = self.attached_to
        return a.id if isinstance(a, VmReference) else a


class VmExpanded(Wire):
    boot_disk: Storage | None = None
    public_ip: PublicIp | None = None
    data_disks: list[Storage] | None = None
    ssh_keys: list[SshKey] | None = None


class CloudVm(Wire):
    id: str
    user_id: str | None = None
    cluster_id: str | None = None
    configuration_id: str | None = None
    configuration_slug: str | None = None
    configuration_name: str | None = None
    name: str = ""
    status: str = "unknown"
    allowed_actions: list[str] = Field(default_factory=list)
    boot_disk: str | None = None
    data_disks: list[str] = Field(default_factory=list)
    public_ip: str | None = None
    ssh_keys: list[str] = Field(default_factory=list)
    created_at: datetime | None = None
    updated_at: datetime | None = None
    ready_since: datetime | None = None
    terminated_at: datetime | None = None
    last_paid_at: datetime | None = None
    paid_until: datetime | None = None
    price_hourly_usd: Usd | None = None
    vcpu: int | None = None
    ram_gb: int | None = None
    expanded: VmExpanded | None = None


class Pagination(Wire):
    total_records: int | None = None
    filtered_records: int | None = None
    total_pages: int | None = None
    current_page: int | None = None
    per_page: int | None = None


class Balance(Wire):
    """One entitlement's balance (`GET /v2/users/balances`), USD as decimal strings."""

    balance: Usd
    usage: Usd | None = None
    estimated_usage: Usd | None = None
    overage: Usd | None = None
    total_deposited_amount: Usd | None = None
    usage_days_left: int | None = None
    user_id: str | None = None
    feature_key: str | None = None


class ChargesEntry(Wire):
    """One row of `GET /v1/billing/charges/aggregated`."""

    user_id: str | None = None
    cluster_id: str | None = None
    resource_id: str | None = None
    resource_name: str | None = None
    resource_type: str | None = None
    vm_configuration: str | None = None
    period_start: datetime | None = None
    quantity: str | None = None
    total_usage_hours: Usd
    total_cost: Usd


# --- requests ------------------------------------------------------------------------------


class CreateStorage(Wire):
    """An inline boot disk (or a standalone disk): NVME is the only type a user creates."""

    cluster_id: str
    name: str
    storage_type: str = "NVME"
    volume_gb: int
    replicated: bool = False
    os_image: str | None = None


class CreatePublicIp(Wire):
    cluster_id: str
    name: str
    address_type: str = "V4"


class CloudInit(Wire):
    user_data: str | None = None


class CreateVm(Wire):
    """`POST /v2/vms`: the boot disk and the public IP are an existing id or created inline."""

    name: str
    cluster_id: str
    configuration_id: str
    boot_disk: CreateStorage | str
    public_ip: CreatePublicIp | str | None = None
    ssh_keys: list[str] = Field(default_factory=list)
    cloud_init: CloudInit | None = None
