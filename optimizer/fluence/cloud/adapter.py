"""The cloud generation behind the neutral edge: `CloudApi` answers `FluenceApi` calls
with the provider-neutral model, built from `CloudClient` calls.

- A price point (`Offer`) is one configuration in one cluster: its key is cluster +
  configuration, its price the API's hourly price (`price_unit = "hour"`), its
  datacenter the cluster's, its capacity 1 while the cluster lists the configuration as
  available (the API reports availability, not counts) and 0 otherwise.
- A VM there also holds a boot disk and a public IP, each billed per hour on its own: an
  offer carries its cluster's price per GB-hour of the boot disk's storage (the disk the
  executor creates: `CreateStorage`'s defaults, non-replicated NVMe) and per hour of a
  public IPv4 (`CreatePublicIp`'s default), or None when the cluster lists no such price;
  the planner adds them up into the VM's whole price.
- A VM (`Vm`) carries its cluster, configuration, hourly price and the ids of what it
  holds (boot disk, public IP, data disks); its status is mapped onto the neutral
  vocabulary (`STATUS_MAP`). Any other status is kept as the API spelled it: a status
  the optimizer does not know, which the planner leaves alone.
- Changing VMs: `estimate` prices a whole VM (VM + boot disk + public IP, from `POST
  /v1/prices/cost`) per 24 h; `deploy` creates the VM with an inline boot disk and public
  IP, all three named like the VM; `delete_vms` terminates; `patch_vms` renames. A VM's
  disk and IP outlive it and bill until `delete_disks` / `delete_public_ips`: the
  executor's journal and reaper (optimizer.executor.reaper) see to that.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence
from datetime import date
from decimal import Decimal
from typing import Any

from optimizer.billing import PER_SECOND, BillingModel
from optimizer.errors import ClientRequestError, NoMatchingOffers, RequestInvalid
from optimizer.fluence.account import AccountFacts
from optimizer.fluence.cloud.account import account_facts
from optimizer.fluence.cloud.client import CloudClient
from optimizer.fluence.cloud.wire import (
    CloudDatacenter,
    CloudVm,
    Cluster,
    ClusterResources,
    CreatePublicIp,
    CreateStorage,
    CreateVm,
    PublicIpPrice,
    Storage,
    StoragePrice,
    VmConfiguration,
)
from optimizer.fluence.cloud.wire import PublicIp as CloudPublicIp
from optimizer.fluence.cloud.wire import SshKey as CloudSshKey
from optimizer.fluence.credentials import Secret
from optimizer.fluence.models import (
    BasicConfiguration,
    Constraints,
    CpuSpec,
    Datacenter,
    DefaultImage,
    DeployedVm,
    DeployRequest,
    Disk,
    Estimate,
    Hardware,
    Offer,
    PublicIp,
    Resource,
    Server,
    SshKey,
    StorageSpec,
    Vm,
    VmResource,
    VmStatusEntry,
    VmUpdate,
)

HOURS_PER_EPOCH = Decimal(24)
SECONDS_PER_EPOCH = 24 * 3600
MICRO = Decimal("0.000001")
#: the boot disk's size when neither the request nor the constraints give one
DEFAULT_DISK_GB = 25
#: the one storage type a user creates on this generation
BOOT_STORAGE_TYPE = "NVME"
#: resource names (VMs, disks, IPs): 1-25 of [a-z0-9-], not starting or ending with a hyphen
MAX_RESOURCE_NAME = 25
RESOURCE_NAME_RE = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,23}[a-z0-9])?$")

#: cloud VM status → the neutral (v3-spelled) status the optimizer reasons with
STATUS_MAP: dict[str, str] = {
    "new": "New",
    "launching": "Launching",
    "launched": "Active",
    "updating": "Active",
    "restarting": "Active",
    "softRebooting": "Active",
    "suspending": "InsufficientFunds",
    "suspended": "InsufficientFunds",
    # ended: by the provider (failed launch) → finalize and replace; by a terminate → gone
    "failed": "Terminated",
    "terminating": "Stopped",
    "terminated": "Stopped",
}

_STORAGE_TYPES = {"NVME": "NVMe", "SSD": "SSD", "HDD": "HDD"}
#: the boot disk and the address every VM gets, as the executor creates them: what the
#: offers' `disk_price_per_gb` and `public_ip_price` price
BOOT_DISK_TYPE: str = CreateStorage.model_fields["storage_type"].default
BOOT_DISK_REPLICATED: bool = CreateStorage.model_fields["replicated"].default
PUBLIC_IP_TYPE: str = CreatePublicIp.model_fields["address_type"].default


class CloudApi:
    """`FluenceApi` over the cloud generation."""

    generation = "cloud"
    #: every resource per second at its hourly price, a 6 h balance floor
    billing: BillingModel = PER_SECOND
    #: the API has no per-VM port set (a VM's firewall is its own business)
    sets_ports = False
    #: "configured" or "detected" (set by optimizer.fluence.generation.connect)
    generation_source = "configured"

    def __init__(self, client: CloudClient) -> None:
        self.client = client
        #: key body (`type base64`) → the account's key id, for keys registered or adopted
        self._key_ids: dict[str, str] = {}

    @property
    def secret(self) -> Secret | None:
        return self.client.secret

    def __repr__(self) -> str:
        return f"CloudApi({self.client!r})"

    def close(self) -> None:
        self.client.close()

    # --- market --------------------------------------------------------------------------

    def list_offers(self, constraints: Constraints | None = None) -> list[Offer]:
        """Every (configuration, cluster) price point that matches `constraints`
        (configuration slug, countries, CPU manufacturer, storage type, and a maximum
        price per 24 h compared with 24 × the hourly price of the VM alone: a lower bound of
        the whole VM's, so nothing the cap allows is left out)."""
        c = self.client
        configs = {x.id: x for x in c.vm_configurations()}
        clusters = {x.id: x for x in c.clusters()}
        dcs = {x.id: x for x in c.datacenters()}
        prices = c.vm_prices()
        resources = c.all_cluster_resources(sorted(clusters))
        disks = _boot_disk_prices(c.storage_prices())
        ips = _public_ip_prices(c.public_ip_prices())
        offers = []
        for p in prices:
            cfg = configs.get(p.vm_type_id.vm_configuration_id)
            cluster = clusters.get(p.vm_type_id.cluster_id)
            if cfg is None or cluster is None:
                continue  # a price for a configuration or cluster no longer listed
            dc = dcs.get(cluster.dc_id or "")
            offer = _offer(cfg, cluster, dc, p.per_hour, resources.get(cluster.id))
            offer.disk_price_per_gb = disks.get(cluster.id)
            offer.public_ip_price = ips.get(cluster.id)
            if _matches(offer, constraints):
                offers.append(offer)
        return offers

    def offers_answer(self) -> bytes:
        """Every price point as a JSON list of neutral `Offer`s (the snapshot's input)."""
        return json.dumps([o.wire() for o in self.list_offers()]).encode()

    def basic_configurations(self) -> list[str]:
        return [x.slug for x in self.client.vm_configurations()]

    def countries(self) -> list[str]:
        """Countries of the datacenters that have clusters."""
        dcs = {x.id: x for x in self.client.datacenters()}
        used = {cl.dc_id for cl in self.client.clusters()}
        return sorted({d.country_code for i, d in dcs.items() if i in used and d.country_code})

    def hardware(self) -> Hardware:
        """CPU families of the configurations and storage types of the storage prices."""
        cpus = {fam for x in self.client.vm_configurations() for fam in x.cpu_families}
        kinds = {p.storage_type_id.storage_type for p in self.client.storage_prices()}
        return Hardware(
            cpu=[_cpu_spec(f) for f in sorted(cpus)],
            storage=[StorageSpec(type=_STORAGE_TYPES.get(k, k)) for k in sorted(kinds)],
        )

    def datacenters(self) -> list[Datacenter]:
        return [_datacenter(d) for d in self.client.datacenters()]

    def default_images(self) -> list[DefaultImage]:
        return [
            DefaultImage(
                id=i.id,
                name=i.name,
                distribution=i.distribution,
                slug=i.slug,
                download_url=i.download_url,
                username=i.username,
                created_at=i.created_at,
                updated_at=i.updated_at,
            )
            for i in self.client.default_images()
        ]

    # --- VMs -----------------------------------------------------------------------------

    def list_vms(self) -> list[Vm]:
        """Every VM of the account (all pages), with its datacenter and public address."""
        return self._vms(self.client.list_vms())

    def vm_status(self, ids: Iterable[str]) -> list[VmStatusEntry]:
        id_list = list(ids)
        if not id_list:
            return []
        vms = self._vms(self.client.list_vms(ids=id_list))
        return [VmStatusEntry(id=v.id, status=v.status, public_ip=v.public_ip) for v in vms]

    def _vms(self, raw: Sequence[CloudVm]) -> list[Vm]:
        if not raw:
            return []
        c = self.client
        clusters = {x.id: x for x in c.clusters()}
        dcs = {x.id: x for x in c.datacenters()}
        addresses = {ip.id: ip.address for ip in c.public_ips()}
        out = []
        for v in raw:
            cluster = clusters.get(v.cluster_id or "")
            dc = dcs.get(cluster.dc_id or "") if cluster else None
            out.append(_vm(v, _datacenter(dc) if dc else None, addresses))
        return out

    # --- changes ---------------------------------------------------------------------------

    def estimate(self, constraints: Constraints | None, instances: int) -> Estimate:
        """The price of `instances` whole VMs (VM + boot disk + public IP) on the price
        point `constraints` pin (else the cheapest match), asked of `POST /v1/prices/cost`,
        in the common unit: USD per 24 h. Nothing is prepaid here: deposit 0."""
        c = constraints or Constraints()
        point = self._price_point(c)
        disk_gb = c.disk_gb if c.disk_gb is not None else DEFAULT_DISK_GB
        one = self._whole_per_epoch(point, disk_gb, c.public_ip is not False)
        per_epoch = (one * instances).quantize(MICRO)
        return Estimate(
            deposit_amount_usdc=Decimal(0),
            deposit_epochs=0,
            total_price_per_epoch=per_epoch,
            max_price_per_epoch=per_epoch,
            instances=instances,
        )

    def deploy(self, request: DeployRequest) -> list[DeployedVm]:
        """Create one VM named `vm_configuration.name` on the pinned (else cheapest matching)
        price point, with an inline boot disk (`os_image`, `disk_gb`) and, unless
        `public_ip` is false, a public IPv4 — both named like the VM, so that after a lost
        answer all three are found by name. The fleet's SSH keys are registered once (a key
        the account has is adopted). Open ports and hostname have no place on this
        generation's VM and are not sent. Never retried."""
        vc = request.vm_configuration
        if request.instances != 1:
            raise RequestInvalid(
                f"the cloud API generation creates one VM per deploy, not {request.instances}",
                status=422,
                endpoint="POST /v2/vms",
            )
        name = vc.name
        if not RESOURCE_NAME_RE.match(name):
            raise RequestInvalid(
                f"VM name {name!r} does not fit the cloud API generation's names (1-"
                f"{MAX_RESOURCE_NAME} lowercase letters, digits, hyphens): shorten the fleet name",
                status=422,
                endpoint="POST /v2/vms",
            )
        c = request.constraints or Constraints()
        point = self._price_point(c)
        cluster = point.cluster_id or ""
        disk_gb = vc.disk_gb or c.disk_gb or DEFAULT_DISK_GB
        want_ip = vc.public_ip if vc.public_ip is not None else c.public_ip is not False
        body = CreateVm(
            name=name,
            cluster_id=cluster,
            configuration_id=point.configuration_id or "",
            boot_disk=CreateStorage(
                cluster_id=cluster, name=name, volume_gb=disk_gb, os_image=vc.os_image
            ),
            public_ip=CreatePublicIp(cluster_id=cluster, name=name) if want_ip else None,
            ssh_keys=self._ssh_key_ids(vc.ssh_keys),
        )
        vm = self.client.create_vm(body)
        return [
            DeployedVm(
                vm_id=vm.id,
                vm_name=vm.name or name,
                boot_disk_id=vm.boot_disk,
                public_ip_id=vm.public_ip,
            )
        ]

    def patch_vms(self, updates: Sequence[VmUpdate]) -> None:
        """Rename VMs (`PATCH /v2/vms/{id}`), the one change this generation's VMs take.
        Open ports are not a VM attribute here: such an update is refused before anything
        is sent. Never retried."""
        for u in updates:
            if u.open_ports is not None:
                raise RequestInvalid(
                    f"VM {u.id}: open ports cannot be changed on the cloud API generation "
                    "(it has no port list on a VM)",
                    status=422,
                    endpoint="PATCH /v2/vms/{vm_id}",
                )
        for u in updates:
            if u.vm_name is not None:
                self.client.rename_vm(u.id, u.vm_name)

    def delete_vms(self, ids: Iterable[str]) -> None:
        """Terminate each VM (`POST /v2/vms/{id}/terminate`). Its boot disk and public IP
        stay, and bill, until deleted with `delete_disks` / `delete_public_ips` once the
        VM is terminated. A VM the API no longer knows (404) counts as gone."""
        for vm_id in ids:
            try:
                self.client.terminate_vm(vm_id)
            except ClientRequestError as err:
                if err.status != 404:
                    raise

    # --- disks and public IPs ------------------------------------------------------------

    def list_disks(self) -> list[Disk]:
        """Every disk of the account (all pages), attached or not. Its hourly price is the
        API's (0.10.0) or, where the answer has none (0.8.210), its cluster's storage
        price × size from `GET /v1/prices/storage` (asked only then)."""
        disks = [_disk(s) for s in self.client.storages()]
        if any(d.price_per_hour is None for d in disks):
            per_gb = {
                (p.storage_type_id.cluster_id, p.storage_type_id.replicated): (
                    p.price_info.price_per_hour_per_qty
                )
                for p in self.client.storage_prices()
                if p.storage_type_id.storage_type == BOOT_STORAGE_TYPE
            }
            for d in disks:
                price = per_gb.get((d.cluster_id or "", d.replicated))
                if d.price_per_hour is None and price is not None and d.size_gb is not None:
                    d.price_per_hour = price * d.size_gb
        return disks

    def list_public_ips(self) -> list[PublicIp]:
        """Every public IP of the account (all pages), attached or not, priced like disks
        (the API's hourly price, else its cluster's from `GET /v1/prices/public-ip`)."""
        ips = [_public_ip(ip) for ip in self.client.public_ips()]
        if any(ip.price_per_hour is None for ip in ips):
            per_ip = {
                p.public_ip_type_id.cluster_id: p.price_info.price_per_hour_per_qty
                for p in self.client.public_ip_prices()
                if p.public_ip_type_id.address_type == "V4"
            }
            for ip in ips:
                if ip.price_per_hour is None:
                    ip.price_per_hour = per_ip.get(ip.cluster_id or "")
        return ips

    def delete_disks(self, ids: Iterable[str]) -> None:
        """Delete detached disks (all or none; an attached one refuses with 406)."""
        self.client.delete_storages(ids)

    def delete_public_ips(self, ids: Iterable[str]) -> None:
        """Delete detached public IPs (all or none; an attached one refuses with 406)."""
        self.client.delete_public_ips(ids)

    # --- helpers -------------------------------------------------------------------------

    def _price_point(self, c: Constraints) -> Offer:
        """The price point `c` lands on: its pinned cluster + configuration when given,
        else the cheapest match that has capacity. NoMatchingOffers when there is none.
        A pinned point is not filtered by the price cap: the caller compares the whole
        VM's estimate with it and says by how much it is above."""
        if c.cluster_id is not None:
            c = c.model_copy(update={"max_total_price_per_epoch_usd": None})
        offers = [o for o in self.list_offers(c) if o.capacity > 0]
        if c.cluster_id is not None:
            offers = [o for o in offers if o.cluster_id == c.cluster_id]
        if c.configuration_id is not None:
            offers = [o for o in offers if o.configuration_id == c.configuration_id]
        if not offers:
            where = f" in cluster {c.cluster_id}" if c.cluster_id else ""
            raise NoMatchingOffers(
                f"no price point with capacity matches the constraints{where}",
                status=422,
                endpoint="GET /v1/prices/vm",
            )
        return min(offers, key=lambda o: (o.price, o.offer_key))

    def _whole_per_epoch(self, point: Offer, disk_gb: int, public_ip: bool) -> Decimal:
        """What a VM on `point` with its boot disk and (maybe) public IP costs over 24 h,
        from `POST /v1/prices/cost` asked for those 24 h at once (so the API's rounding
        is the only one, as fine as a micro-USD)."""
        cluster = point.cluster_id or ""
        resources: list[dict[str, Any]] = [
            {
                "vm": {
                    "resource_id": {
                        "vmConfigurationId": point.configuration_id,
                        "clusterId": cluster,
                    }
                }
            },
            {
                "storage": {
                    "resource_id": {
                        "storageType": BOOT_STORAGE_TYPE,
                        "replicated": False,
                        "clusterId": cluster,
                    },
                    "volume_gb": disk_gb,
                }
            },
        ]
        if public_ip:
            resources.append(
                {"publicIp": {"resource_id": {"addressType": "V4", "clusterId": cluster}}}
            )
        return self.client.cost(resources, secs=SECONDS_PER_EPOCH).total_cost

    def _ssh_key_ids(self, keys: Sequence[str]) -> list[str]:
        """Key ids for the fleet's `ssh_keys` entries: a public key is registered once per
        adapter (or the account's key with the same body adopted), a name is looked up
        among the stored keys."""
        ids: list[str] = []
        stored: list[CloudSshKey] | None = None
        for entry in keys:
            if _is_public_key(entry):
                body = " ".join(entry.split()[:2])
                if body not in self._key_ids:
                    parts = entry.split()
                    label = parts[2] if len(parts) > 2 else "fluence-optimizer"
                    self._key_ids[body] = self.client.register_ssh_key(label, entry).id
                ids.append(self._key_ids[body])
                continue
            if stored is None:
                stored = self.client.ssh_keys()
            found = next((k for k in stored if k.name == entry), None)
            if found is None:
                raise RequestInvalid(
                    f"SSH key {entry!r} is neither a public key nor a key name stored in the "
                    "account",
                    status=422,
                    endpoint="GET /v1/ssh_keys",
                )
            ids.append(found.id)
        return ids

    # --- account -------------------------------------------------------------------------

    def account(self, since: date, today: date) -> AccountFacts:
        """Balance, billed resources and charges (`optimizer.fluence.cloud.account`)."""
        return account_facts(self.client, since, today)

    # --- SSH keys ------------------------------------------------------------------------

    def ssh_keys(self) -> list[SshKey]:
        return [_ssh_key(k) for k in self.client.ssh_keys()]

    def add_ssh_key(self, name: str, public_key: str) -> SshKey | None:
        """Register the key (or adopt the stored one with the same body)."""
        return _ssh_key(self.client.register_ssh_key(name, public_key))

    def remove_ssh_key(self, fingerprint: str) -> None:
        ids = [k.id for k in self.client.ssh_keys() if k.fingerprint == fingerprint]
        if not ids:
            raise ClientRequestError(
                f"no stored SSH key has the fingerprint {fingerprint}",
                status=404,
                endpoint="POST /v1/ssh_keys/delete",
            )
        self.client.delete_ssh_keys(ids)


# --- mapping -----------------------------------------------------------------------------------


def _is_public_key(entry: str) -> bool:
    """`ssh-ed25519 AAAA…`, `ecdsa-sha2-… AAAA…`, `sk-…`: a key, not a stored key's name."""
    parts = entry.split()
    return len(parts) >= 2 and parts[0].startswith(("ssh-", "ecdsa-", "sk-"))


def _disk(s: Storage) -> Disk:
    return Disk(
        id=s.id,
        name=s.name,
        vm_ids=list(s.attached_to),
        status=s.status,
        price_per_hour=s.price_hourly_usd,
        created_at=s.created_at,
        cluster_id=s.cluster_id,
        size_gb=s.volume_gb,
        replicated=bool(s.replicated),
    )


def _public_ip(ip: CloudPublicIp) -> PublicIp:
    vm = ip.attached_vm_id
    return PublicIp(
        id=ip.id,
        name=ip.name,
        vm_ids=[vm] if vm else [],
        status=ip.status,
        price_per_hour=ip.price_hourly_usd,
        created_at=ip.created_at,
        cluster_id=ip.cluster_id,
        address=ip.address,
    )


def _cpu_spec(family: str) -> CpuSpec:
    """`AMD_ZEN3` → manufacturer AMD, architecture ZEN3."""
    maker, _, arch = family.partition("_")
    return CpuSpec(manufacturer=maker or None, architecture=arch or None)


def _datacenter(d: CloudDatacenter) -> Datacenter:
    return Datacenter(
        id=d.id,
        country_code=d.country_code,
        city_code=d.city_code,
        city_index=d.index,
        tier=d.tier,
        certifications=d.certifications,
    )


def _offer(
    cfg: VmConfiguration,
    cluster: Cluster,
    dc: CloudDatacenter | None,
    per_hour: Decimal,
    resources: ClusterResources | None,
) -> Offer:
    available = resources is not None and any(
        a.id == cfg.id or a.slug == cfg.slug for a in resources.available_configurations
    )
    cpu = _cpu_spec(cfg.cpu_families[0]) if cfg.cpu_families else CpuSpec()
    res = [
        Resource(
            type="VCPU",
            metadata={
                k: v
                for k, v in {
                    "manufacturer": cpu.manufacturer,
                    "architecture": cpu.architecture,
                    "dedicated": cfg.dedicated,
                    "count": cfg.vcpu,
                }.items()
                if v is not None
            },
        ),
        Resource(type="RAM", metadata={"gb": cfg.ram_gb} if cfg.ram_gb is not None else {}),
    ]
    kinds = sorted(
        {
            s.storage_type
            for v in (resources.available_storage.values() if resources else ())
            for s in v
        }
    )
    if kinds:
        res.append(
            Resource(type="STORAGE", metadata={"type": _STORAGE_TYPES.get(kinds[0], kinds[0])})
        )
    return Offer(
        configuration=BasicConfiguration(slug=cfg.slug, price=per_hour),
        resources=res,
        datacenter=_datacenter(dc) if dc else Datacenter(id=cluster.dc_id),
        servers=[Server(available_basic_instances=1 if available else 0)],
        cluster_id=cluster.id,
        configuration_id=cfg.id,
        price_unit="hour",
    )


def _boot_disk_prices(prices: Iterable[StoragePrice]) -> dict[str, Decimal]:
    """Cluster id → price per GB-hour of the storage a boot disk is made of (the lowest,
    should a cluster list it twice)."""
    out: dict[str, Decimal] = {}
    for p in prices:
        t = p.storage_type_id
        if t.storage_type.upper() == BOOT_DISK_TYPE and t.replicated == BOOT_DISK_REPLICATED:
            price = p.price_info.price_per_hour_per_qty
            out[t.cluster_id] = min(price, out.get(t.cluster_id, price))
    return out


def _public_ip_prices(prices: Iterable[PublicIpPrice]) -> dict[str, Decimal]:
    """Cluster id → price per hour of a public address of the type a VM gets."""
    out: dict[str, Decimal] = {}
    for p in prices:
        t = p.public_ip_type_id
        if t.address_type.upper() == PUBLIC_IP_TYPE:
            price = p.price_info.price_per_hour_per_qty
            out[t.cluster_id] = min(price, out.get(t.cluster_id, price))
    return out


def _matches(offer: Offer, constraints: Constraints | None) -> bool:
    if constraints is None:
        return True
    c = constraints
    if c.basic_configuration and offer.configuration.slug != c.basic_configuration:
        return False
    if c.datacenter and c.datacenter.countries:
        wanted = {x.upper() for x in c.datacenter.countries}
        if (offer.datacenter.country_code or "").upper() not in wanted:
            return False
    cap = c.max_total_price_per_epoch_usd
    if cap is not None and offer.price * HOURS_PER_EPOCH > cap:
        return False
    if c.hardware is not None:
        meta = offer.resource("VCPU")
        makers = {x.manufacturer.lower() for x in c.hardware.cpu if x.manufacturer}
        if (
            makers
            and str((meta.metadata if meta else {}).get("manufacturer", "")).lower() not in makers
        ):
            return False
        kinds = {x.type.lower() for x in c.hardware.storage if x.type}
        st = offer.resource("STORAGE")
        if kinds and str((st.metadata if st else {}).get("type", "")).lower() not in kinds:
            return False
    return True


def _vm(v: CloudVm, dc: Datacenter | None, addresses: dict[str, str | None]) -> Vm:
    resources = []
    if v.vcpu is not None:
        resources.append(VmResource(type="VCPU", quantity=v.vcpu))
    if v.ram_gb is not None:
        resources.append(VmResource(type="RAM", quantity=v.ram_gb, units="GB"))
    return Vm(
        id=v.id,
        vm_name=v.name,
        status=STATUS_MAP.get(v.status, v.status),
        resources=resources,
        created_at=v.created_at,
        datacenter=dc,
        public_ip=addresses.get(v.public_ip) if v.public_ip else None,
        cluster_id=v.cluster_id,
        configuration_id=v.configuration_id,
        configuration_slug=v.configuration_slug,
        price_per_hour=v.price_hourly_usd,
        boot_disk_id=v.boot_disk,
        public_ip_id=v.public_ip,
        data_disk_ids=list(v.data_disks) or None,
        ports=None,  # no port list on this generation's VMs
    )


def _ssh_key(k: CloudSshKey) -> SshKey:
    parts = k.public_key.split(maxsplit=2)
    return SshKey(
        id=k.id,
        name=k.name,
        fingerprint=k.fingerprint,
        algorithm=k.algorithm or (parts[0] if parts else None),
        comment=parts[2] if len(parts) > 2 else None,
        public_key=k.public_key,
    )
