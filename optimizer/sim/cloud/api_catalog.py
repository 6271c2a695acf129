"""Handlers of the catalog routes: service status, clusters, datacenters, configurations,
cluster resources, prices and cost, default images, storage types."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from optimizer.sim.app import SimResponse
from optimizer.sim.cloud import wire
from optimizer.sim.cloud.catalog import DEFAULT_IMAGES, Cluster
from optimizer.sim.cloud.errors import CloudError, unprocessable
from optimizer.sim.cloud.params import Query, answer, body_object
from optimizer.sim.cloud.world import CloudWorld


def clusters(w: CloudWorld, q: Query, body: bytes, ident: str | None) -> SimResponse:
    return answer(
        200, wire.collection(w.spec, [wire.cluster(c, w.spec) for c in w.catalog.clusters])
    )


def datacenters(w: CloudWorld, q: Query, body: bytes, ident: str | None) -> SimResponse:
    seen: dict[str, Cluster] = {}
    for c in w.catalog.clusters:
        seen.setdefault(c.datacenter_id, c)
    items = [wire.datacenter(c, w.spec) for c in seen.values()]
    return answer(200, wire.collection(w.spec, items))


def configurations(w: CloudWorld, q: Query, body: bytes, ident: str | None) -> SimResponse:
    items = [wire.configuration(c) for c in w.catalog.listed_configurations(w.spec)]
    return answer(200, wire.collection(w.spec, items))


def _resources(w: CloudWorld, cl: Cluster) -> dict[str, Any]:
    confs = [
        wire.configuration(c)
        for c in w.catalog.listed_configurations(w.spec)
        if c.id in cl.configurations and cl.capacity.get(c.id, 0) > 0
    ]
    gb = max(cl.free_storage_gb, 0)
    storage = [
        {"storageType": "NVME", "replicated": False, "volumeGb": gb},
        {"storageType": "NVME", "replicated": True, "volumeGb": gb // 2},
    ]
    return {
        "availableConfigurations": confs,
        "availablePublicIps": {"V4": min(max(cl.free_ips, 0), 65535)},
        "availableStorage": {f: storage for f in cl.families},
    }


def cluster_resources(w: CloudWorld, q: Query, body: bytes, ident: str | None) -> SimResponse:
    cl = w.catalog.cluster(ident or "")
    if cl is None:
        raise CloudError(404, "not_found", f"cluster {ident} not found")
    return answer(200, _resources(w, cl))


def clusters_resources(w: CloudWorld, q: Query, body: bytes, ident: str | None) -> SimResponse:
    wanted = set(q.many("clusterIds"))
    chosen = [c for c in w.catalog.clusters if not wanted or c.id in wanted][:100]
    return answer(200, {"resources": {c.id: _resources(w, c) for c in chosen}})


def _cluster_filter(w: CloudWorld, q: Query) -> list[Cluster]:
    cid = q.one("clusterId")
    return [c for c in w.catalog.clusters if cid is None or c.id == cid]


def prices_vm(w: CloudWorld, q: Query, body: bytes, ident: str | None) -> SimResponse:
    items = [
        {
            "vmTypeId": {"vmConfigurationId": cid, "clusterId": cl_id},
            "priceInfo": {"pricePerHourPerQty": str(price)},
        }
        for cl_id, cid, price in w.price_points(q.one("clusterId"))
    ]
    return answer(200, wire.collection(w.spec, items + w.raw("cloud.prices_vm")))


def prices_storage(w: CloudWorld, q: Query, body: bytes, ident: str | None) -> SimResponse:
    items = [
        {
            "storageTypeId": {"storageType": "NVME", "replicated": rep, "clusterId": cl.id},
            "priceInfo": {"pricePerHourPerQty": str(cl.storage_gb_hour * (2 if rep else 1))},
        }
        for cl in _cluster_filter(w, q)
        for rep in (False, True)
    ]
    return answer(200, wire.collection(w.spec, items))


def prices_public_ip(w: CloudWorld, q: Query, body: bytes, ident: str | None) -> SimResponse:
    items = [
        {
            "publicIpTypeId": {"addressType": "V4", "clusterId": cl.id},
            "priceInfo": {"pricePerHourPerQty": str(cl.public_ip_hour)},
        }
        for cl in _cluster_filter(w, q)
    ]
    return answer(200, wire.collection(w.spec, items))


def prices_cost(w: CloudWorld, q: Query, body: bytes, ident: str | None) -> SimResponse:
    data = body_object(body)
    secs = data.get("secs")
    if secs is None:
        secs = 3600
    if not isinstance(secs, int) or isinstance(secs, bool) or secs < 0:
        raise unprocessable("secs: expected a non-negative integer")
    resources = data.get("resources")
    if not isinstance(resources, list):
        raise unprocessable("resources: expected a list")
    out, total = [], Decimal(0)
    for i, res in enumerate(resources):
        hourly = _resource_hourly(w, res, f"resources[{i}]")
        per_sec = hourly / 3600
        total += per_sec
        out.append({"resource": res, "costPerSec": wire.money(per_sec, "0.000000001")})
    return answer(
        200,
        {
            "costOfResources": out,
            "totalCostPerSec": wire.money(total, "0.000000001"),
            "periodSecs": secs,
            "totalCost": wire.money(total * secs),
        },
    )


def _resource_hourly(w: CloudWorld, res: Any, where: str) -> Decimal:
    if not isinstance(res, dict) or len(res) != 1:
        raise unprocessable(f"{where}: expected one of vm, storage, publicIp")
    kind, spec = next(iter(res.items()))
    rid = spec.get("resource_id") if isinstance(spec, dict) else None
    if not isinstance(rid, dict):
        raise unprocessable(f"{where}.{kind}.resource_id: expected an object")
    cl = w.catalog.cluster(str(rid.get("clusterId")))
    if cl is None:
        raise unprocessable(f"{where}.{kind}.resource_id.clusterId: unknown cluster")
    if kind == "vm":
        conf_id = str(rid.get("vmConfigurationId"))
        price = w.catalog.vm_price(cl.id, conf_id) if w.listed(conf_id) else None
        if price is None:
            raise CloudError(404, "not_found", f"{where}: configuration not sold in this cluster")
        return price
    if kind == "storage":
        gb = spec.get("volume_gb")
        if not isinstance(gb, int) or isinstance(gb, bool) or gb < 0:
            raise unprocessable(f"{where}.storage.volume_gb: expected a non-negative integer")
        return cl.storage_gb_hour * gb * (2 if rid.get("replicated") else 1)
    if kind == "publicIp":
        return cl.public_ip_hour
    raise unprocessable(f"{where}: unknown resource kind {kind!r}")


def default_images(w: CloudWorld, q: Query, body: bytes, ident: str | None) -> SimResponse:
    items = [wire.default_image(i, w.sim.clock.start) for i in DEFAULT_IMAGES]
    return answer(200, wire.collection(w.spec, items))


def storage_types(w: CloudWorld, q: Query, body: bytes, ident: str | None) -> SimResponse:
    item = {
        "storageType": "NVME",
        "bootDisk": True,
        "minVolumeGb": w.config.boot_min_gb,
        "maxBandwidthReadMib": 2000,
        "maxBandwidthWriteMib": 1000,
        "maxIopsRead": 100000,
        "maxIopsWrite": 50000,
    }
    return answer(200, wire.collection(w.spec, [item]))


def service_status(w: CloudWorld, q: Query, body: bytes, ident: str | None) -> SimResponse:
    return answer(200, {"maintenanceMode": False, "version": w.spec})
