"""The cloud generation behind the neutral edge: `CloudApi` answers `FluenceApi` calls
with the provider-neutral model, built from `CloudClient` calls.

- A price point (`Offer`) is one configuration in one cluster: its key is cluster +
  configuration, its price the API's hourly price (`price_unit = "hour"`), its
  datacenter the cluster's, its capacity 1 while the cluster lists the configuration as
  available (the API reports availability, not counts) and 0 otherwise.
- A VM (`Vm`) carries its cluster, configuration, hourly price and the ids of what it
  holds (boot disk, public IP, data disks); its status is mapped onto the neutral
  vocabulary (`STATUS_MAP`). Any other status is kept as the API spelled it: a status
  the optimizer does not know, which the planner leaves alone.
- Changing VMs (estimate, deploy, patch, delete) on this generation is the next step
  (issue 15: per-second billing, boot disks and IPs that outlive their VM); until then
  those calls raise a one-line error and nothing is sent.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from decimal import Decimal

from optimizer.billing import PER_SECOND, BillingModel
from optimizer.errors import ClientRequestError
from optimizer.fluence.cloud.client import CloudClient
from optimizer.fluence.cloud.wire import (
    CloudDatacenter,
    CloudVm,
    Cluster,
    ClusterResources,
    VmConfiguration,
)
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
    Estimate,
    Hardware,
    Offer,
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


class CloudApi:
    """`FluenceApi` over the cloud generation."""

    generation = "cloud"
    #: every resource per second at its hourly price, a 6 h balance floor
    billing: BillingModel = PER_SECOND
    #: "configured" or "detected" (set by optimizer.fluence.generation.connect)
    generation_source = "configured"

    def __init__(self, client: CloudClient) -> None:
        self.client = client

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
        price per 24 h compared with 24 × the hourly price)."""
        c = self.client
        configs = {x.id: x for x in c.vm_configurations()}
        clusters = {x.id: x for x in c.clusters()}
        dcs = {x.id: x for x in c.datacenters()}
        prices = c.vm_prices()
        resources = c.all_cluster_resources(sorted(clusters))
        offers = []
        for p in prices:
            cfg = configs.get(p.vm_type_id.vm_configuration_id)
            cluster = clusters.get(p.vm_type_id.cluster_id)
            if cfg is None or cluster is None:
                continue  # a price for a configuration or cluster no longer listed
            dc = dcs.get(cluster.dc_id or "")
            offer = _offer(cfg, cluster, dc, p.per_hour, resources.get(cluster.id))
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

    def estimate(self, constraints: Constraints | None, instances: int) -> Estimate:
        raise _not_yet("estimating a deployment")

    def deploy(self, request: DeployRequest) -> list[DeployedVm]:
        raise _not_yet("deploying VMs")

    def patch_vms(self, updates: Sequence[VmUpdate]) -> None:
        raise _not_yet("changing VMs")

    def delete_vms(self, ids: Iterable[str]) -> None:
        raise _not_yet("deleting VMs")

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


def _not_yet(what: str) -> ClientRequestError:
    return ClientRequestError(
        f"{what} is not supported yet on the cloud API generation (use mode = observe or recommend)"
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
