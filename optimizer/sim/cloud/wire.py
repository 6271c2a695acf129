"""JSON shapes of the cloud generation, per published spec version.

Where the two specs differ, a server of each version answers its own way (the drifts a
client must handle):
- lists of clusters, datacenters, configurations, prices, default images and storage
  types are bare arrays in 0.8.210 and `{items: [...]}` in 0.10.0;
- a cluster's datacenter id is `dc_id` in 0.8.210 and `dcId` in 0.10.0;
- a public IP's `attachedTo` is a VM id in 0.8.210 and `{id, name}` in 0.10.0;
- errors are `{error}` in 0.8.210 and `{code, error}` in 0.10.0;
- page size is `per_page` in 0.8.210 and `perPage` in 0.10.0 (app.Query.page);
- 0.10.0 adds routes: GET /v2/vms/{id}, GET and DELETE /v1/storages/{id},
  DELETE /v1/public_ips/{id} and /v1/ssh_keys/{id}, GET /v1/clusters/resources;
  and query parameters: `expand`, `excludeStatus`, `sort`/`order`, status lists;
- 0.10.0 adds fields 0.8.210 does not send: a datacenter's `cityName`; a VM's
  `allowedActions`, `configurationSlug`, `configurationName`, `vcpu`, `ramGb`, price
  snapshots, `cloudInit`, `expanded`; a disk's `replicated`, `image`, `allowedActions`;
  and the `cpu-shared-*` configurations.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from optimizer.sim.cloud.catalog import (
    DEFAULT_IMAGES,
    SPEC_0_8,
    SPEC_0_10,
    Cluster,
    Configuration,
)
from optimizer.sim.cloud.resources import CloudPublicIp, CloudSshKey, CloudStorage, CloudVm

if TYPE_CHECKING:
    from optimizer.sim.cloud.world import CloudWorld

HOURS_PER_MONTH = 730


def ts(at: datetime | None) -> str | None:
    """RFC 3339 in UTC with a Z."""
    return None if at is None else at.isoformat().replace("+00:00", "Z")


def money(value: Decimal, places: str = "0.000001") -> str:
    return str(value.quantize(Decimal(places)))


def collection(spec: str, items: list[Any]) -> Any:
    """A non-paginated list: bare in 0.8.210, `{items}` in 0.10.0."""
    return items if spec == SPEC_0_8 else {"items": items}


def paginated(items: list[Any], page: int, per_page: int, total: int) -> dict[str, Any]:
    """One page of `items` (already filtered) with its PaginationInfo."""
    start = (page - 1) * per_page
    filtered = len(items)
    return {
        "items": items[start : start + per_page],
        "pagination": {
            "totalRecords": total,
            "filteredRecords": filtered,
            "totalPages": (filtered + per_page - 1) // per_page,
            "currentPage": page,
            "perPage": per_page,
        },
    }


def cluster(cl: Cluster, spec: str) -> dict[str, Any]:
    key = "dc_id" if spec == SPEC_0_8 else "dcId"
    return {"id": cl.id, "name": cl.name, key: cl.datacenter_id}


def datacenter(cl: Cluster, spec: str) -> dict[str, Any]:
    dc = cl.datacenter
    out: dict[str, Any] = {
        "id": cl.datacenter_id,
        "countryCode": dc.country,
        "cityCode": dc.city,
        "index": dc.index,
        "tier": dc.tier,
        "certifications": list(dc.certifications),
        "slug": cl.slug,
    }
    if spec == SPEC_0_10:
        out["cityName"] = cl.city_name
    return out


def configuration(c: Configuration) -> dict[str, Any]:
    return {
        "id": c.id,
        "slug": c.slug,
        "name": c.name,
        "vcpu": c.vcpu,
        "ramGb": c.ram_gb,
        "dedicated": c.dedicated,
        "cpuFamilies": list(c.families),
        "preset": c.preset,
        "tags": [c.cls],
        "description": f"{c.vcpu} {'dedicated' if c.dedicated else 'shared'} vCPU, "
        f"{c.ram_gb} GB RAM",
    }


def _price_fields(out: dict[str, Any], hourly: Decimal | None) -> None:
    out["priceHourlyUsd"] = None if hourly is None else money(hourly)
    out["priceMonthlyUsd"] = None if hourly is None else money(hourly * HOURS_PER_MONTH, "0.01")


def vm(w: CloudWorld, v: CloudVm, expand: frozenset[str] = frozenset()) -> dict[str, Any]:
    spec = w.spec
    out: dict[str, Any] = {
        "id": v.id,
        "userId": w.user_id,
        "clusterId": v.cluster_id,
        "configurationId": v.configuration_id,
        "name": v.name,
        "status": v.status,
        "restartRequired": False,
        "dataDisks": list(v.data_disks),
        "subnets": [],
        "sshKeys": list(v.ssh_keys),
        "networkInterfaces": [v.network_interface],
        "createdAt": ts(v.created_at),
        "updatedAt": ts(v.updated_at or v.created_at),
        "bootDisk": v.boot_disk,
        "publicIp": v.public_ip,
        "lastPaidAt": ts(w.billed_to) if v.billable else None,
        "paidUntil": None,
        "readySince": ts(v.ready_since),
        "terminatedAt": ts(v.terminated_at),
    }
    if spec == SPEC_0_10:
        conf = w.catalog.config_by_id.get(v.configuration_id)
        out["allowedActions"] = list(v.allowed_actions)
        out["configurationSlug"] = conf.slug if conf else None
        out["configurationName"] = conf.name if conf else None
        out["vcpu"] = conf.vcpu if conf else None
        out["ramGb"] = conf.ram_gb if conf else None
        out["cloudInit"] = {} if v.cloud_init is not None else None
        _price_fields(out, w.catalog.vm_price(v.cluster_id, v.configuration_id))
        if expand:
            out["expanded"] = _expanded(w, v, expand)
    return out


def _expanded(w: CloudWorld, v: CloudVm, expand: frozenset[str]) -> dict[str, Any]:
    ex: dict[str, Any] = {}
    if "bootDisk" in expand:
        st = w.storages.get(v.boot_disk or "")
        ex["bootDisk"] = storage(w, st) if st is not None else None
    if "dataDisks" in expand:
        ex["dataDisks"] = [storage(w, w.storages[d]) for d in v.data_disks if d in w.storages]
    if "publicIp" in expand:
        ip = w.public_ips.get(v.public_ip or "")
        ex["publicIp"] = public_ip(w, ip) if ip is not None else None
    if "sshKeys" in expand:
        ex["sshKeys"] = [ssh_key(w, w.ssh_keys[k]) for k in v.ssh_keys if k in w.ssh_keys]
    if "subnets" in expand:
        ex["subnets"] = []
    if "networkInterfaces" in expand:
        ex["networkInterfaces"] = [
            {"id": v.network_interface, "default": True, "securityGroup": None,
             "kind": {"public": {"public_ip": v.public_ip}}}
            if v.public_ip
            else {"id": v.network_interface, "default": True, "securityGroup": None,
                  "kind": {"private": {"subnet": v.network_interface}}}
        ]  # fmt: skip
    return ex


def storage(w: CloudWorld, s: CloudStorage) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": s.id,
        "userId": w.user_id,
        "clusterId": s.cluster_id,
        "name": s.name,
        "storageType": "NVME",
        "status": s.status,
        "role": s.role,
        "volumeGb": s.volume_gb,
        "attachedTo": list(s.attached_to),
        "createdAt": ts(s.created_at),
        "initUrl": s.os_image,
        "lastPaidAt": ts(w.billed_to) if s.billable else None,
        "paidUntil": None,
        "readySince": ts(s.ready_since),
        "removedAt": ts(s.removed_at),
    }
    if w.spec == SPEC_0_10:
        out["replicated"] = s.replicated
        out["allowedActions"] = list(s.allowed_actions)
        img = next((i for i in DEFAULT_IMAGES if i["id"] == s.image_id), None)
        out["image"] = (
            None if img is None else {k: img[k] for k in ("id", "name", "slug", "distribution")}
        )
        _price_fields(out, w.storage_hourly(s))
    return out


def public_ip(w: CloudWorld, ip: CloudPublicIp) -> dict[str, Any]:
    attached: Any = ip.attached_to
    if w.spec == SPEC_0_10 and ip.attached_to is not None:
        owner = w.vms.get(ip.attached_to)
        attached = {"id": ip.attached_to, "name": owner.name if owner else ""}
    out: dict[str, Any] = {
        "id": ip.id,
        "userId": w.user_id,
        "clusterId": ip.cluster_id,
        "name": ip.name,
        "addressType": "V4",
        "status": ip.status,
        "createdAt": ts(ip.created_at),
        "address": ip.address if ip.status == "ready" else None,
        "attachedTo": attached,
        "lastPaidAt": ts(w.billed_to) if ip.billable else None,
        "paidUntil": None,
        "readySince": ts(ip.ready_since),
        "removedAt": ts(ip.removed_at),
    }
    if w.spec == SPEC_0_10:
        out["allowedActions"] = list(ip.allowed_actions)
        _price_fields(out, w.ip_hourly(ip))
    return out


def ssh_key(w: CloudWorld, k: CloudSshKey) -> dict[str, Any]:
    return {
        "id": k.id,
        "userId": w.user_id,
        "name": k.name,
        "publicKey": k.public_key,
        "algorithm": k.algorithm,
        "fingerprint": k.fingerprint,
    }


def default_image(img: dict[str, str], at: datetime) -> dict[str, Any]:
    return {
        **img,
        "iconUrl": f"https://images.sim.local/icons/{img['distribution'].lower()}.svg",
        "createdAt": ts(at),
        "updatedAt": ts(at),
    }
