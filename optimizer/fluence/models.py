"""The provider-neutral model of the Fluence API, which is also the wire format of the
marketplace-v3 generation (see shared/fluence-api.md).

What the store, analysis, planner and executor see, whichever generation answered:
price points (`Offer`: a configuration in a datacenter at a price per `price_unit`),
VMs (`Vm`, with the resources they hold), SSH keys, images, datacenters. The v3 adapter
(`optimizer.fluence.client`) parses straight into these; the cloud adapter
(`optimizer.fluence.cloud.adapter`) maps its own wire models onto them. Fields only one
generation fills are optional and omitted from JSON when empty, so v3 output is as before.
Parsing is tolerant: unknown fields are ignored, optional fields may be missing, and the
documented variants are accepted. Money is `Decimal`. Attribute names are snake_case;
the camelCase wire names are aliases, so `model_dump(by_alias=True, mode="json")` gives
the exact documented JSON (Decimals as strings).
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable
from datetime import datetime
from decimal import Decimal
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

from optimizer.clock import EPOCH_HOURS
from optimizer.fluence.status import is_running
from optimizer.money import Usd

NAME_RE = re.compile(r"^[A-Za-z0-9-]{1,63}$")
#: characters of the token a deployed VM's name ends with (`<fleet>-<token>`)
VM_TOKEN_CHARS = 10
#: the longest resource name (VM, disk, IP) an API generation accepts, where it has a limit
NAME_LIMITS: dict[str, int] = {"cloud": 25}


def max_fleet_name(generation: str) -> int | None:
    """The longest fleet name whose VMs (`<fleet>-<token>`) the generation can name, or
    None when it sets no limit."""
    limit = NAME_LIMITS.get(generation)
    return None if limit is None else limit - 1 - VM_TOKEN_CHARS


SLUG_RE = re.compile(r"^cpu-(\d+)-ram-(\d+)gb-storage-(\d+)gb$")
#: a configuration slug of either generation: v3 `cpu-2-ram-4gb-storage-25gb`, cloud
#: `cpu-shared-2vcpu-2gb` / `cpu-regular-…` / `cpu-premium-…`
CONFIGURATION_RE = re.compile(r"^cpu-(\d+-ram-\d+gb-storage-\d+gb|[a-z]+-\d+vcpu-\d+gb)$")


class Wire(BaseModel):
    """Base for every wire model: camelCase aliases, unknown fields ignored."""

    model_config = ConfigDict(
        alias_generator=to_camel,
        populate_by_name=True,
        extra="ignore",
        frozen=False,
        # each model's validator is built on its first use, not at import: a command
        # uses a few of the ~60 wire models, and building all of them cost ~0.1 s
        defer_build=True,
    )

    def wire(self) -> dict[str, Any]:
        """The documented JSON shape (camelCase, Decimals as strings, no None fields)."""
        return self.model_dump(by_alias=True, mode="json", exclude_none=True)


# --- marketplace -------------------------------------------------------------------------


class Resource(Wire):
    type: str
    metadata: dict[str, Any] = Field(default_factory=dict)
    price: Usd | None = None


class BasicConfiguration(Wire):
    slug: str
    price: Usd


class Datacenter(Wire):
    id: str | int | None = None
    country_code: str | None = None
    city_code: str | None = None
    city_index: int | None = None
    tier: int | None = None
    certifications: list[str] = Field(default_factory=list)

    @property
    def label(self) -> str:
        """`FR-PAR-1`: how datacenters are named in configs, logs and reports."""
        return f"{self.country_code or '??'}-{self.city_code or '???'}-{self.city_index or 0}"


class AdditionalResource(Wire):
    type: str
    metadata: dict[str, Any] = Field(default_factory=dict)
    price: Usd | None = None
    supply: int | None = None
    per_vm_limit: int | None = None


class Server(Wire):
    available_basic_instances: int = 0
    additional_resources: list[AdditionalResource] = Field(default_factory=list)


#: what a price is per: a 24 h epoch (marketplace-v3) or an hour (cloud, billed per second)
PriceUnit = Literal["epoch", "hour"]
PRICE_UNIT_LABELS: dict[str, str] = {"epoch": "per 24 h", "hour": "per hour"}


class Offer(Wire):
    """One price point: identical servers of one configuration in one datacenter (v3: one
    provider's listing; cloud: one configuration in one cluster) at one price.

    v3 offers carry no id on the wire; `offer_key` derives a stable one. Cloud price
    points carry `cluster_id` and `configuration_id`, and their price is per hour. A
    cloud VM also holds a boot disk and (usually) a public IP, billed on their own: the
    cluster's prices for them, in the offer's unit, are `disk_price_per_gb` (per GB of
    the boot disk's storage type) and `public_ip_price` (None on v3, where the price
    covers the whole VM, and when the cluster does not list them).
    """

    configuration: BasicConfiguration
    resources: list[Resource] = Field(default_factory=list)
    datacenter: Datacenter
    servers: list[Server] = Field(default_factory=list)
    max_additional_supply: list[AdditionalResource] = Field(default_factory=list)
    cluster_id: str | None = None
    configuration_id: str | None = None
    #: None means "epoch" (the v3 wire has no such field)
    price_unit: PriceUnit | None = None
    disk_price_per_gb: Usd | None = None
    public_ip_price: Usd | None = None

    @property
    def price(self) -> Decimal:
        """The price as the API gives it, per `unit`."""
        return self.configuration.price

    @property
    def unit(self) -> PriceUnit:
        return self.price_unit or "epoch"

    @property
    def sizes(self) -> tuple[int | None, int | None, int | None]:
        """(vCPU, RAM GB, storage GB): from a v3 slug, else from the resources' metadata
        (`count` of VCPU, `gb` of RAM and STORAGE) as the cloud adapter fills it."""
        return offer_sizes(self.configuration.slug, lambda kind: _meta_of(self.resource(kind)))

    @property
    def capacity(self) -> int:
        """Basic instances that can still be deployed on this offer."""
        return sum(max(s.available_basic_instances, 0) for s in self.servers)

    @property
    def offer_key(self) -> str:
        return offer_key(self)

    def resource(self, kind: str) -> Resource | None:
        return next((r for r in self.resources if r.type == kind), None)


def _meta_of(resource: Resource | None) -> dict[str, Any] | None:
    return resource.metadata if resource is not None else None


def offer_sizes(
    slug: str, metadata: Callable[[str], dict[str, Any] | None]
) -> tuple[int | None, int | None, int | None]:
    """(vCPU, RAM GB, storage GB) of an offer: from a v3 slug, else from its resources'
    metadata (`metadata(kind)`: `count` of VCPU, `gb` of RAM and STORAGE)."""
    parsed = parse_slug(slug)
    if parsed is not None:
        return parsed

    def num(kind: str, key: str) -> int | None:
        value = (metadata(kind) or {}).get(key)
        return value if isinstance(value, int) and not isinstance(value, bool) else None

    return num("VCPU", "count"), num("RAM", "gb"), num("STORAGE", "gb")


def cloud_key(cluster_id: str, configuration: str) -> str:
    """The offer key of a cloud price point: cluster + configuration (id, else slug)."""
    return hashlib.sha256(json.dumps(["cloud", cluster_id, configuration]).encode()).hexdigest()[
        :16
    ]


def offer_key(offer: Offer) -> str:
    """Stable identity of an offer: slug + datacenter (country, city, index) + resource
    metadata (v3), or cluster + configuration (cloud). Independent of field order,
    prices, capacity and unknown fields."""
    if offer.cluster_id is not None:
        return cloud_key(offer.cluster_id, offer.configuration_id or offer.configuration.slug)
    dc = offer.datacenter
    resources = [resource_identity(r.type, r.metadata) for r in offer.resources]
    return identity_key(
        offer.configuration.slug, dc.country_code, dc.city_code, dc.city_index, resources
    )


def resource_identity(kind: str, metadata: dict[str, Any]) -> str:
    """One resource's part of an offer's identity: canonical JSON of type and metadata."""
    return json.dumps([kind, metadata], sort_keys=True, separators=(",", ":"), default=str)


def identity_key(
    slug: str,
    country: str | None,
    city: str | None,
    index: int | None,
    resources: list[str],
) -> str:
    """`offer_key` from its parts (`resources`: each resource's `resource_identity`, any
    order), for parsers that do not build `Offer` models."""
    ident = [slug, country, city, index, sorted(resources)]
    digest = hashlib.sha256(json.dumps(ident, separators=(",", ":")).encode()).hexdigest()
    return digest[:16]


def parse_slug(slug: str) -> tuple[int, int, int] | None:
    """`cpu-2-ram-4gb-storage-25gb` → (2, 4, 25); None for a slug of another form."""
    m = SLUG_RE.match(slug)
    return (int(m[1]), int(m[2]), int(m[3])) if m else None


class CpuSpec(Wire):
    manufacturer: str | None = None
    architecture: str | None = None


class MemorySpec(Wire):
    type: str | None = None
    generation: str | None = None


class StorageSpec(Wire):
    type: str | None = None


class Hardware(Wire):
    cpu: list[CpuSpec] = Field(default_factory=list)
    memory: list[MemorySpec] = Field(default_factory=list)
    storage: list[StorageSpec] = Field(default_factory=list)


class StorageRequest(Wire):
    type: str
    supply: int
    units: str = "GiB"


class AdditionalResourcesRequest(Wire):
    storage: list[StorageRequest] = Field(default_factory=list)


class DatacenterFilter(Wire):
    countries: list[str] = Field(default_factory=list)


#: `Constraints` fields that place a deploy on the cloud generation; the marketplace wire
#: has no such fields, so they are never sent there
PLACEMENT_FIELDS = frozenset({"cluster_id", "configuration_id"})


class Constraints(Wire):
    """Filters shared by offers search, estimate and deploy. Every part is optional.

    `cluster_id` and `configuration_id` pin a deploy to one cloud price point (the planner
    sets them from a cloud offer; the cloud adapter deploys exactly there). They are kept
    in the journal (`model_dump_json`) but left out of `wire()`, the marketplace JSON.
    `max_total_price_per_epoch_usd` is a whole VM's price per 24 h (on the cloud generation
    its boot disk and public IP included)."""

    basic_configuration: str | None = None
    additional_resources: AdditionalResourcesRequest | None = None
    hardware: Hardware | None = None
    datacenter: DatacenterFilter | None = None
    max_total_price_per_epoch_usd: Usd | None = None
    #: cloud generation: the price point to deploy on (cluster + configuration id), pinned
    #: by the planner; None lets the adapter pick the cheapest match (v3 ignores both)
    cluster_id: str | None = None
    configuration_id: str | None = None
    #: cloud generation: the boot disk size and public IP a whole VM is priced with (set by
    #: the executor from the fleet at estimate time; never on a wire nor in the journal)
    disk_gb: int | None = Field(default=None, exclude=True)
    public_ip: bool | None = Field(default=None, exclude=True)

    def wire(self) -> dict[str, Any]:
        """The marketplace JSON: as `Wire.wire`, without the cloud placement."""
        return self.model_dump(
            by_alias=True, mode="json", exclude_none=True, exclude=set(PLACEMENT_FIELDS)
        )


# --- virtual machines --------------------------------------------------------------------


class Estimate(Wire):
    deposit_amount_usdc: Usd
    deposit_epochs: int = 2
    total_price_per_epoch: Usd
    max_price_per_epoch: Usd
    instances: int


class Port(Wire):
    port: int
    protocol: Literal["tcp", "udp"] = "tcp"


class VmConfiguration(Wire):
    name: str
    open_ports: list[Port] = Field(default_factory=list)
    hostname: str | None = None
    os_image: str
    ssh_keys: list[str]
    #: cloud generation: the boot disk's size and whether the VM gets a public IPv4. Never
    #: on the marketplace-v3 wire (excluded from `wire()`), where the configuration fixes
    #: the disk and every VM has an address.
    disk_gb: int | None = Field(default=None, exclude=True)
    public_ip: bool | None = Field(default=None, exclude=True)


class DeployRequest(Wire):
    constraints: Constraints | None = None
    instances: int = 1
    vm_configuration: VmConfiguration

    def wire(self) -> dict[str, Any]:
        """The marketplace JSON: as `Wire.wire`, without the constraints' cloud placement."""
        return self.model_dump(
            by_alias=True,
            mode="json",
            exclude_none=True,
            exclude={"constraints": set(PLACEMENT_FIELDS)},
        )


class DeployedVm(Wire):
    vm_id: str
    vm_name: str
    #: cloud generation: the resources created with the VM (billed until deleted)
    boot_disk_id: str | None = None
    public_ip_id: str | None = None


class VmResource(Wire):
    type: str
    quantity: int | None = None
    supply: int | None = None
    units: str | None = None
    details: dict[str, Any] = Field(default_factory=dict)
    metadata: dict[str, Any] = Field(default_factory=dict)


class Vm(Wire):
    id: str
    vm_name: str = ""
    status: str
    price_per_epoch: Usd | None = None
    resources: list[VmResource] = Field(default_factory=list)
    created_at: datetime | None = None
    next_billing_at: datetime | None = None
    os_image: str | None = None
    datacenter: Datacenter | None = None
    public_ip: str | None = None
    #: the open ports; None where the API keeps no port list on a VM (cloud generation:
    #: firewalling is not a VM attribute there), so there is nothing to correct
    ports: list[Port] | None = Field(default_factory=list)
    reserved_balance: Usd | None = None
    total_spent: Usd | None = None
    # cloud generation: where it runs, its size, its hourly price, what it holds (a boot
    # disk and a public IP are resources of their own, billed until deleted)
    cluster_id: str | None = None
    configuration_id: str | None = None
    configuration_slug: str | None = None
    price_per_hour: Usd | None = None
    boot_disk_id: str | None = None
    public_ip_id: str | None = None
    data_disk_ids: list[str] | None = None

    @property
    def running(self) -> bool:
        return is_running(self.status)

    @property
    def cost_per_epoch(self) -> Usd | None:
        """What this VM costs per epoch (24 h) now, in the optimizer's one money unit: the
        API's price per epoch, else 24 × its hourly price; None when neither is known. The
        VM alone: a boot disk or public IP billed apart is not in it (this row does not
        carry their prices; the account's facts count them in the burn rate)."""
        if self.price_per_epoch is not None:
            return self.price_per_epoch
        if self.price_per_hour is not None:
            return self.price_per_hour * EPOCH_HOURS
        return None


#: statuses of a disk or IP that is being or has been deleted (it bills no more)
REMOVED_STATUSES = frozenset({"removing", "removed"})


class Detachable(Wire):
    """A resource billed on its own until deleted, attached to a VM or not (cloud
    generation: a disk or a public IP; terminating its VM deletes neither)."""

    id: str
    name: str = ""
    #: the VMs it is attached to (empty: detached)
    vm_ids: list[str] = Field(default_factory=list)
    status: str | None = None
    price_per_hour: Usd | None = None
    created_at: datetime | None = None
    cluster_id: str | None = None

    @property
    def attached(self) -> bool:
        return bool(self.vm_ids)

    @property
    def removed(self) -> bool:
        """Deleted or being deleted: it bills no more and cannot be deleted again."""
        return self.status in REMOVED_STATUSES


class Disk(Detachable):
    size_gb: int | None = None
    replicated: bool = False


class PublicIp(Detachable):
    address: str | None = None


class VmStatusEntry(Wire):
    id: str
    status: str | None = None
    public_ip: str | None = None


class VmUpdate(Wire):
    id: str
    vm_name: str | None = None
    open_ports: list[Port] | None = None


class DefaultImage(Wire):
    id: str | int | None = None
    name: str = ""
    distribution: str | None = None
    slug: str | None = None
    download_url: str
    username: str | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None


class SshKey(Wire):
    #: the key's id on the cloud generation (a VM references keys by id); None on v3
    id: str | None = None
    name: str
    fingerprint: str
    algorithm: str | None = None
    comment: str | None = None
    public_key: str
    active: bool = True
    created_at: datetime | None = None
