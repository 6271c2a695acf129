"""The cloud generation's request handler: `handle(sim, method, path, query, headers, body)`.

Order, as on the v3 face: route (404/405) → fault injection (the simulator's injector,
endpoint names "cloud.*") → auth (401; a read-only key gets 403 on writes) → the
endpoint. Errors are `{"code", "error"}` in 0.10.0 and `{"error"}` in 0.8.210 (its
ErrorBody). Routes a spec version does not have answer as that server would: 405 when
the path exists with other methods, else 404.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Callable
from datetime import date
from decimal import Decimal
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs

from optimizer.sim.app import JSON, SimResponse
from optimizer.sim.cloud import wire
from optimizer.sim.cloud.catalog import DEFAULT_IMAGES, SPEC_0_8, SPEC_0_10, Cluster
from optimizer.sim.cloud.resources import VM_STATUSES
from optimizer.sim.cloud.routes import ENDPOINTS, MUTATING, NO_AUTH, ROUTES, Route
from optimizer.sim.cloud.rules import CloudError, unprocessable
from optimizer.sim.cloud.world import CloudWorld

if TYPE_CHECKING:
    from optimizer.sim.simulator import Simulator

UUID_RE = re.compile(
    r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"
)


def _json(status: int, payload: Any, headers: dict[str, str] | None = None) -> SimResponse:
    body = json.dumps(payload, separators=(",", ":")).encode()
    return SimResponse(status, body, {**JSON, **(headers or {})})


def error(spec: str, err: CloudError, headers: dict[str, str] | None = None) -> SimResponse:
    """`{code, error}` in 0.10.0; 0.8.210's ErrorBody has only `error`."""
    if spec == SPEC_0_8:
        return _json(err.status, {"error": err.message}, headers)
    return _json(err.status, {"code": err.code, "error": err.message}, headers)


def _route(spec: str, method: str, path: str) -> tuple[Route, str | None] | SimResponse:
    allowed = False
    for r in ROUTES:
        m = r.regex.match(path)
        if m is None or spec not in r.specs:
            continue
        if r.method == method:
            return r, m.groupdict().get("id")
        allowed = True
    # a literal route (e.g. /v1/storages/delete) also matches {id}: prefer it, as above
    if allowed:
        return error(spec, CloudError(405, "bad_request", f"Method {method} not allowed on {path}"))
    return error(spec, CloudError(404, "not_found", f"Not found: {path}"))


def _key(headers: dict[str, str]) -> str:
    h = {k.lower(): v for k, v in headers.items()}
    if "x-api-key" in h:
        return h["x-api-key"].strip()
    auth = h.get("authorization", "")
    if auth[:10].lower() == "x-api-key ":
        return auth[10:].strip()
    return ""


def handle(  # noqa: C901 — route, faults, auth, dispatch in the order a gateway applies them,
    # under one lock so a drawn fault and the request it hits stay together
    sim: Simulator,
    method: str,
    path: str,
    query: str,
    headers: dict[str, str],
    body: bytes,
) -> SimResponse:
    """Answer one request to the simulated cloud API (thread-safe)."""
    w = sim.cloud
    path = "/" + path.strip("/")
    method = method.upper()
    found = _route(w.spec, method, path)
    if isinstance(found, SimResponse):
        return found
    route, ident = found
    endpoint = route.endpoint
    with sim._lock:
        sim.requests[endpoint] = sim.requests.get(endpoint, 0) + 1
        fault = sim.faults.draw(endpoint)
        if fault == "server_error":
            return error(
                w.spec, CloudError(503, "service_unavailable", "Service temporarily unavailable")
            )
        if fault == "rate_limit":
            ra = sim.faults.config.retry_after
            return error(
                w.spec,
                CloudError(429, "service_unavailable", "Too many requests"),
                {"retry-after": f"{ra:g}"},
            )
        if fault in ("timeout", "reset"):
            return SimResponse(0, drop=fault)
        if endpoint not in NO_AUTH:
            key = _key(headers)
            if key not in (sim.api_key, w.read_only_key):
                return error(
                    w.spec, CloudError(401, "unauthorized", "Auth failed. No such API Key")
                )
            if key == w.read_only_key and endpoint in MUTATING:
                return error(w.spec, CloudError(403, "forbidden", "This API key is read-only"))
        sim.sync()
        try:
            if ident is not None and not UUID_RE.match(ident):
                raise CloudError(400, "bad_request", f"Invalid URL: {ident!r} is not a UUID")
            resp = HANDLERS[endpoint](w, Query(query, w.spec), body, ident)
        except CloudError as err:
            resp = error(w.spec, err)
        if fault == "lost_response":
            return SimResponse(0, drop="timeout")
        if fault == "malformed":
            return SimResponse(200, b'{"items": [{"id": "upstream gave', dict(JSON))
        if fault == "wrong_shape":
            return _json(200, {"data": None, "message": "ok"})
        return resp


class Query:
    """Query parameters: repeated (`ids=a&ids=b`) or comma-joined arrays."""

    def __init__(self, raw: str, spec: str) -> None:
        self.q = parse_qs(raw, keep_blank_values=True)
        self.spec = spec

    def one(self, name: str) -> str | None:
        values = self.q.get(name)
        return values[-1] if values else None

    def many(self, name: str) -> list[str]:
        return [x for v in self.q.get(name, []) for x in v.split(",") if x]

    def integer(self, name: str, default: int) -> int:
        raw = self.one(name)
        if raw is None or raw == "":
            return default
        try:
            value = int(raw)
        except ValueError:
            raise CloudError(
                400, "bad_request", f"query {name}: {raw!r} is not an integer"
            ) from None
        if value < 0:
            raise CloudError(400, "bad_request", f"query {name}: must be >= 0")
        return value

    def flag(self, name: str) -> bool:
        raw = self.one(name)
        if raw is None:
            return False
        if raw.lower() in ("true", "false"):
            return raw.lower() == "true"
        raise CloudError(400, "bad_request", f"query {name}: {raw!r} is not a boolean")

    def day(self, name: str, *, required: bool = False) -> date | None:
        raw = self.one(name)
        if raw is None:
            if required:
                raise CloudError(400, "bad_request", f"query {name} is required")
            return None
        try:
            return date.fromisoformat(raw)
        except ValueError:
            raise CloudError(400, "bad_request", f"query {name}: {raw!r} is not a date") from None

    def page(self, w: CloudWorld) -> tuple[int, int]:
        """(page ≥ 1, per page): `per_page` in 0.8.210, `perPage` in 0.10.0 (the other
        name is unknown to that server and ignored)."""
        per_name = "per_page" if self.spec == SPEC_0_8 else "perPage"
        per_page = self.integer(per_name, w.config.default_per_page) or w.config.default_per_page
        return max(self.integer("page", 1), 1), min(per_page, w.config.max_per_page)

    def statuses(self, name: str, allowed: tuple[str, ...]) -> list[str]:
        """A status filter: one value in 0.8.210, a list in 0.10.0; unknown values → 400."""
        values = self.many(name) if self.spec == SPEC_0_10 else [v for v in [self.one(name)] if v]
        for v in values:
            if v not in allowed:
                raise CloudError(400, "bad_request", f"query {name}: unknown status {v!r}")
        return values


def _obj(body: bytes) -> dict[str, Any]:
    if not body.strip():
        raise CloudError(400, "bad_request", "Request body is required")
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise CloudError(400, "bad_request", "Request body is not valid JSON") from None
    if not isinstance(data, dict):
        raise unprocessable("Request body must be a JSON object")
    return data


def _ids(body: bytes) -> list[str]:
    ids = _obj(body).get("ids")
    if not isinstance(ids, list) or not all(isinstance(i, str) for i in ids):
        raise unprocessable("ids: expected a list of ids")
    return ids


def _sorted(items: list[Any], q: Query, default_desc: bool = True) -> list[Any]:
    field = q.one("sort") if q.spec == SPEC_0_10 else None
    order = q.one("order") if q.spec == SPEC_0_10 else None
    if field not in (None, "createdAt", "name", "status"):
        raise CloudError(400, "bad_request", f"query sort: unknown field {field!r}")
    if order not in (None, "asc", "desc"):
        raise CloudError(400, "bad_request", f"query order: unknown order {order!r}")
    attr = {"createdAt": "created_at", "name": "name", "status": "status"}[field or "createdAt"]
    desc = default_desc if order is None else order == "desc"
    return sorted(items, key=lambda x: (getattr(x, attr), x.id), reverse=desc)


# --- catalog -------------------------------------------------------------------------------


def _clusters(w: CloudWorld, q: Query, body: bytes, ident: str | None) -> SimResponse:
    return _json(
        200, wire.collection(w.spec, [wire.cluster(c, w.spec) for c in w.catalog.clusters])
    )


def _datacenters(w: CloudWorld, q: Query, body: bytes, ident: str | None) -> SimResponse:
    seen: dict[str, Cluster] = {}
    for c in w.catalog.clusters:
        seen.setdefault(c.datacenter_id, c)
    items = [wire.datacenter(c, w.spec) for c in seen.values()]
    return _json(200, wire.collection(w.spec, items))


def _configurations(w: CloudWorld, q: Query, body: bytes, ident: str | None) -> SimResponse:
    items = [wire.configuration(c) for c in w.catalog.listed_configurations(w.spec)]
    return _json(200, wire.collection(w.spec, items))


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


def _cluster_resources(w: CloudWorld, q: Query, body: bytes, ident: str | None) -> SimResponse:
    cl = w.catalog.cluster(ident or "")
    if cl is None:
        raise CloudError(404, "not_found", f"cluster {ident} not found")
    return _json(200, _resources(w, cl))


def _clusters_resources(w: CloudWorld, q: Query, body: bytes, ident: str | None) -> SimResponse:
    wanted = set(q.many("clusterIds"))
    chosen = [c for c in w.catalog.clusters if not wanted or c.id in wanted][:100]
    return _json(200, {"resources": {c.id: _resources(w, c) for c in chosen}})


def _cluster_filter(w: CloudWorld, q: Query) -> list[Cluster]:
    cid = q.one("clusterId")
    return [c for c in w.catalog.clusters if cid is None or c.id == cid]


def _prices_vm(w: CloudWorld, q: Query, body: bytes, ident: str | None) -> SimResponse:
    items = [
        {
            "vmTypeId": {"vmConfigurationId": cid, "clusterId": cl_id},
            "priceInfo": {"pricePerHourPerQty": str(price)},
        }
        for cl_id, cid, price in w.price_points(q.one("clusterId"))
    ]
    return _json(200, wire.collection(w.spec, items + w.raw("cloud.prices_vm")))


def _prices_storage(w: CloudWorld, q: Query, body: bytes, ident: str | None) -> SimResponse:
    items = [
        {
            "storageTypeId": {"storageType": "NVME", "replicated": rep, "clusterId": cl.id},
            "priceInfo": {"pricePerHourPerQty": str(cl.storage_gb_hour * (2 if rep else 1))},
        }
        for cl in _cluster_filter(w, q)
        for rep in (False, True)
    ]
    return _json(200, wire.collection(w.spec, items))


def _prices_public_ip(w: CloudWorld, q: Query, body: bytes, ident: str | None) -> SimResponse:
    items = [
        {
            "publicIpTypeId": {"addressType": "V4", "clusterId": cl.id},
            "priceInfo": {"pricePerHourPerQty": str(cl.public_ip_hour)},
        }
        for cl in _cluster_filter(w, q)
    ]
    return _json(200, wire.collection(w.spec, items))


def _prices_cost(w: CloudWorld, q: Query, body: bytes, ident: str | None) -> SimResponse:
    data = _obj(body)
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
    return _json(
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


def _default_images(w: CloudWorld, q: Query, body: bytes, ident: str | None) -> SimResponse:
    items = [wire.default_image(i, w.sim.clock.start) for i in DEFAULT_IMAGES]
    return _json(200, wire.collection(w.spec, items))


def _storage_types(w: CloudWorld, q: Query, body: bytes, ident: str | None) -> SimResponse:
    item = {
        "storageType": "NVME",
        "bootDisk": True,
        "minVolumeGb": w.config.boot_min_gb,
        "maxBandwidthReadMib": 2000,
        "maxBandwidthWriteMib": 1000,
        "maxIopsRead": 100000,
        "maxIopsWrite": 50000,
    }
    return _json(200, wire.collection(w.spec, [item]))


def _service_status(w: CloudWorld, q: Query, body: bytes, ident: str | None) -> SimResponse:
    return _json(200, {"maintenanceMode": False, "version": w.spec})


# --- VMs -----------------------------------------------------------------------------------


def _expand(w: CloudWorld, q: Query) -> frozenset[str]:
    if w.spec != SPEC_0_10:
        return frozenset()  # 0.8.210 has no expand: the parameter is ignored
    values = frozenset(q.many("expand"))
    unknown = values - {"bootDisk", "dataDisks", "publicIp", "subnets", "sshKeys",
                        "networkInterfaces"}  # fmt: skip
    if unknown:
        raise CloudError(400, "bad_request", f"query expand: unknown value {sorted(unknown)[0]!r}")
    return values


def _list_vms(w: CloudWorld, q: Query, body: bytes, ident: str | None) -> SimResponse:
    page, per_page = q.page(w)
    everything = w.visible(w.vms.values())
    vms = list(everything)
    ids = set(q.many("ids"))
    name = q.one("name")
    status = q.statuses("status", VM_STATUSES)
    exclude = q.statuses("excludeStatus", VM_STATUSES) if w.spec == SPEC_0_10 else []
    cluster_id, ip_id = q.one("clusterId"), q.one("publicIpId")
    vms = [
        v
        for v in vms
        if (not ids or v.id in ids)
        and (name is None or name in v.name)
        and (not status or v.status in status)
        and v.status not in exclude
        and (cluster_id is None or v.cluster_id == cluster_id)
        and (ip_id is None or v.public_ip == ip_id)
    ]
    expand = _expand(w, q)
    items: list[Any] = [wire.vm(w, v, expand) for v in _sorted(vms, q)]
    items += w.raw("cloud.list_vms")
    return _json(200, wire.paginated(items, page, per_page, len(everything)))


def _create_vm(w: CloudWorld, q: Query, body: bytes, ident: str | None) -> SimResponse:
    return _json(200, wire.vm(w, w.create_vm(_obj(body))))


def _get_vm(w: CloudWorld, q: Query, body: bytes, ident: str | None) -> SimResponse:
    return _json(200, wire.vm(w, w.vm(ident or ""), _expand(w, q)))


def _patch_vm(w: CloudWorld, q: Query, body: bytes, ident: str | None) -> SimResponse:
    return _json(200, wire.vm(w, w.rename_vm(ident or "", _obj(body))))


def _terminate_vm(w: CloudWorld, q: Query, body: bytes, ident: str | None) -> SimResponse:
    return _json(200, wire.vm(w, w.terminate_vm(ident or "")))


def _restart_vm(w: CloudWorld, q: Query, body: bytes, ident: str | None) -> SimResponse:
    return _json(200, wire.vm(w, w.restart_vm(ident or "", soft=False)))


def _softreboot_vm(w: CloudWorld, q: Query, body: bytes, ident: str | None) -> SimResponse:
    return _json(200, wire.vm(w, w.restart_vm(ident or "", soft=True)))


def _vm_add_ip(w: CloudWorld, q: Query, body: bytes, ident: str | None) -> SimResponse:
    return _json(200, wire.vm(w, w.vm_add_public_ip(ident or "", _obj(body))))


def _vm_remove_ip(w: CloudWorld, q: Query, body: bytes, ident: str | None) -> SimResponse:
    return _json(200, wire.vm(w, w.vm_remove_public_ip(ident or "")))


def _vm_add_storages(w: CloudWorld, q: Query, body: bytes, ident: str | None) -> SimResponse:
    return _json(200, wire.vm(w, w.vm_add_storages(ident or "", _obj(body))))


def _vm_remove_storages(w: CloudWorld, q: Query, body: bytes, ident: str | None) -> SimResponse:
    return _json(200, wire.vm(w, w.vm_remove_storages(ident or "", _obj(body))))


# --- disks, IPs, keys ----------------------------------------------------------------------


def _list_storages(w: CloudWorld, q: Query, body: bytes, ident: str | None) -> SimResponse:
    page, per_page = q.page(w)
    everything = w.visible(w.storages.values())
    statuses = ("new", "created", "ready", "updating", "failed", "removing", "removed")
    ids, name = set(q.many("ids")), q.one("name")
    status = q.statuses("status", statuses)
    exclude = q.statuses("excludeStatus", statuses) if w.spec == SPEC_0_10 else []
    detached = q.flag("excludeAttached") if w.spec == SPEC_0_10 else False
    stype = q.one("storageType")
    if stype is not None and stype not in ("HDD", "SSD", "NVMe"):
        raise CloudError(400, "bad_request", f"query storageType: unknown type {stype!r}")
    chosen = [
        s
        for s in everything
        if (not ids or s.id in ids)
        and (name is None or name in s.name)
        and (not status or s.status in status)
        and s.status not in exclude
        and (not detached or not s.attached_to)
        and (stype is None or stype == "NVMe")
    ]
    items = [wire.storage(w, s) for s in _sorted(chosen, q)] + w.raw("cloud.list_storages")
    return _json(200, wire.paginated(items, page, per_page, len(everything)))


def _create_storage(w: CloudWorld, q: Query, body: bytes, ident: str | None) -> SimResponse:
    return _json(200, wire.storage(w, w.create_storage(_obj(body))))


def _get_storage(w: CloudWorld, q: Query, body: bytes, ident: str | None) -> SimResponse:
    return _json(200, wire.storage(w, w.storage(ident or "")))


def _patch_storage(w: CloudWorld, q: Query, body: bytes, ident: str | None) -> SimResponse:
    return _json(200, wire.storage(w, w.rename_storage(ident or "", _obj(body))))


def _delete_storage(w: CloudWorld, q: Query, body: bytes, ident: str | None) -> SimResponse:
    return _json(200, wire.storage(w, w.delete_storages([ident or ""])[0]))


def _delete_storages(w: CloudWorld, q: Query, body: bytes, ident: str | None) -> SimResponse:
    return _json(200, [wire.storage(w, s) for s in w.delete_storages(_ids(body))])


def _list_public_ips(w: CloudWorld, q: Query, body: bytes, ident: str | None) -> SimResponse:
    page, per_page = q.page(w)
    everything = w.visible(w.public_ips.values())
    statuses = ("new", "created", "ready", "failed", "removing", "removed")
    ids, name, cluster_id = set(q.many("ids")), q.one("name"), q.one("clusterId")
    status = q.statuses("status", statuses)
    exclude = q.statuses("excludeStatus", statuses) if w.spec == SPEC_0_10 else []
    detached = q.flag("excludeAttached") if w.spec == SPEC_0_10 else False
    addr_type = q.one("addressType")
    if addr_type is not None and addr_type not in ("V4", "V6"):
        raise CloudError(400, "bad_request", f"query addressType: unknown type {addr_type!r}")
    chosen = [
        i
        for i in everything
        if (not ids or i.id in ids)
        and (name is None or name in i.name)
        and (cluster_id is None or i.cluster_id == cluster_id)
        and (not status or i.status in status)
        and i.status not in exclude
        and (not detached or not i.attached_to)
        and addr_type in (None, "V4")
    ]
    items = [wire.public_ip(w, i) for i in _sorted(chosen, q)] + w.raw("cloud.list_public_ips")
    return _json(200, wire.paginated(items, page, per_page, len(everything)))


def _create_public_ip(w: CloudWorld, q: Query, body: bytes, ident: str | None) -> SimResponse:
    return _json(200, wire.public_ip(w, w.create_public_ip(_obj(body))))


def _patch_public_ip(w: CloudWorld, q: Query, body: bytes, ident: str | None) -> SimResponse:
    return _json(200, wire.public_ip(w, w.rename_public_ip(ident or "", _obj(body))))


def _delete_public_ip(w: CloudWorld, q: Query, body: bytes, ident: str | None) -> SimResponse:
    return _json(200, wire.public_ip(w, w.delete_public_ips([ident or ""])[0]))


def _delete_public_ips(w: CloudWorld, q: Query, body: bytes, ident: str | None) -> SimResponse:
    return _json(200, [wire.public_ip(w, i) for i in w.delete_public_ips(_ids(body))])


def _list_ssh_keys(w: CloudWorld, q: Query, body: bytes, ident: str | None) -> SimResponse:
    page, per_page = q.page(w)
    everything = list(w.ssh_keys.values())
    ids = set(q.many("ids"))
    items = [wire.ssh_key(w, k) for k in everything if not ids or k.id in ids]
    items += w.raw("cloud.list_ssh_keys")
    return _json(200, wire.paginated(items, page, per_page, len(everything)))


def _add_ssh_key(w: CloudWorld, q: Query, body: bytes, ident: str | None) -> SimResponse:
    return _json(200, wire.ssh_key(w, w.add_ssh_key(_obj(body))))


def _delete_ssh_keys(w: CloudWorld, q: Query, body: bytes, ident: str | None) -> SimResponse:
    return _json(200, [wire.ssh_key(w, k) for k in w.delete_ssh_keys(_ids(body))])


def _delete_ssh_key(w: CloudWorld, q: Query, body: bytes, ident: str | None) -> SimResponse:
    return _json(200, wire.ssh_key(w, w.delete_ssh_keys([ident or ""])[0]))


# --- account -------------------------------------------------------------------------------


def _balances(w: CloudWorld, q: Query, body: bytes, ident: str | None) -> SimResponse:
    balance = w.sim.account.balance
    burn = w.hourly_burn()
    usage = sum((c.cost for c in w.charges.values()), Decimal(0))
    days_left = None
    if burn > 0:
        days_left = int(min(max(balance, Decimal(0)) / (burn * 24), Decimal(65535)))
    item = {
        "balance": wire.money(balance),
        "usage": wire.money(usage),
        "estimatedUsage": wire.money(usage + burn * 24 * 30),
        "overage": wire.money(max(-balance, Decimal(0))),
        "totalDepositedAmount": wire.money(w.deposited),
        "userId": w.user_id,
        "featureKey": "cloud_usd_balance",
        "usageDaysLeft": days_left,
    }
    key = q.one("entitlementKey") if w.spec == SPEC_0_10 else None
    return _json(200, [item] if key in (None, item["featureKey"]) else [])


def _charge_rows(w: CloudWorld, q: Query, *, dates_required: bool) -> list[Any]:
    start = q.day("startDate", required=dates_required)
    end = q.day("endDate", required=dates_required)
    rid, rtype = q.one("resourceId"), q.one("resourceType")
    return [
        c
        for c in w.charges.values()
        if (start is None or c.day >= start.isoformat())
        and (end is None or c.day <= end.isoformat())
        and (rid is None or c.resource_id == rid)
        and (rtype is None or c.resource_type == rtype)
    ]


def _charges_total(w: CloudWorld, q: Query, body: bytes, ident: str | None) -> SimResponse:
    rows = _charge_rows(w, q, dates_required=False)
    out = {"total": wire.money(sum((c.cost for c in rows), Decimal(0)))}
    for kind in ("VM", "STORAGE", "PUBLIC_IP"):
        out[kind] = wire.money(sum((c.cost for c in rows if c.resource_type == kind), Decimal(0)))
    return _json(200, out)


def _charges_aggregated(w: CloudWorld, q: Query, body: bytes, ident: str | None) -> SimResponse:
    rows = _charge_rows(w, q, dates_required=True)
    group = (q.one("groupBy") if w.spec == SPEC_0_10 else None) or "RESOURCE"
    period = q.one("period") if w.spec == SPEC_0_10 else None
    if group not in ("RESOURCE", "RESOURCE_TYPE", "CLUSTER"):
        raise CloudError(400, "bad_request", f"query groupBy: unknown value {group!r}")
    if period not in (None, "DAY", "MONTH"):
        raise CloudError(400, "bad_request", f"query period: unknown value {period!r}")
    buckets: dict[tuple[str, str | None], dict[str, Any]] = {}
    for c in rows:
        info = _resource_info(w, c.resource_id, c.resource_type)
        key_main = {"RESOURCE": c.resource_id, "RESOURCE_TYPE": c.resource_type,
                    "CLUSTER": info["clusterId"]}[group]  # fmt: skip
        bucket = None if period is None else (c.day if period == "DAY" else c.day[:7] + "-01")
        fresh = {"secs": Decimal(0), "cost": Decimal(0), "info": info, "type": c.resource_type}
        row = buckets.setdefault((key_main, bucket), fresh)
        row["secs"] += c.seconds
        row["cost"] += c.cost
    out = []
    for (_key, bucket), row in sorted(buckets.items(), key=lambda kv: (kv[0][1] or "", kv[0][0])):
        info = row["info"]
        entry: dict[str, Any] = {
            "userId": w.user_id,
            "totalUsageHours": wire.money(row["secs"] / 3600),
            "totalCost": wire.money(row["cost"]),
            "resourceType": row["type"] if group != "CLUSTER" else None,
            "clusterId": info["clusterId"] if group != "RESOURCE_TYPE" else None,
            "resourceId": info["id"] if group == "RESOURCE" else None,
            "resourceName": info["name"] if group == "RESOURCE" else None,
            "quantity": info["quantity"] if group == "RESOURCE" else None,
            "vmConfiguration": info["vmConfiguration"] if group == "RESOURCE" else None,
            "storageType": "NVMe" if group == "RESOURCE" and row["type"] == "STORAGE" else None,
            "replicatedStorage": info["replicated"] if group == "RESOURCE" else None,
            "ipAddressType": "V4" if group == "RESOURCE" and row["type"] == "PUBLIC_IP" else None,
        }
        if bucket is not None:
            entry["periodStart"] = bucket
        if w.spec == SPEC_0_8:  # 0.8.210 declares these non-null (it only groups by resource)
            entry = {k: v for k, v in entry.items() if v is not None or k in _NULLABLE_08}
        out.append(entry)
    if q.one("format") == "csv":
        buf = io.StringIO()
        fields = sorted({k for e in out for k in e})
        writer = csv.DictWriter(buf, fieldnames=fields, lineterminator="\n")
        writer.writeheader()
        writer.writerows(out)
        return SimResponse(200, buf.getvalue().encode(), {"content-type": "text/csv"})
    return _json(200, out)


_NULLABLE_08 = frozenset({"ipAddressType", "replicatedStorage", "storageType", "vmConfiguration"})


def _resource_info(w: CloudWorld, rid: str, rtype: str) -> dict[str, Any]:
    info: dict[str, Any] = {"id": rid, "name": "", "clusterId": "", "quantity": "1",
                            "vmConfiguration": None, "replicated": None}  # fmt: skip
    if rtype == "VM" and rid in w.vms:
        v = w.vms[rid]
        conf = w.catalog.config_by_id.get(v.configuration_id)
        if conf is not None and (w.spec == SPEC_0_10 or conf.since == SPEC_0_8):
            info["vmConfiguration"] = conf.slug
        info.update(name=v.name, clusterId=v.cluster_id)
    elif rtype == "STORAGE" and rid in w.storages:
        s = w.storages[rid]
        info.update(name=s.name, clusterId=s.cluster_id, quantity=str(s.volume_gb),
                    replicated=s.replicated)  # fmt: skip
    elif rtype == "PUBLIC_IP" and rid in w.public_ips:
        i = w.public_ips[rid]
        info.update(name=i.name, clusterId=i.cluster_id)
    return info


Handler = Callable[[CloudWorld, Query, bytes, "str | None"], SimResponse]
HANDLERS: dict[str, Handler] = {
    "cloud.service_status": _service_status,
    "cloud.clusters": _clusters,
    "cloud.clusters_resources": _clusters_resources,
    "cloud.cluster_resources": _cluster_resources,
    "cloud.datacenters": _datacenters,
    "cloud.configurations": _configurations,
    "cloud.prices_vm": _prices_vm,
    "cloud.prices_storage": _prices_storage,
    "cloud.prices_public_ip": _prices_public_ip,
    "cloud.prices_cost": _prices_cost,
    "cloud.default_images": _default_images,
    "cloud.storage_types": _storage_types,
    "cloud.list_vms": _list_vms,
    "cloud.create_vm": _create_vm,
    "cloud.get_vm": _get_vm,
    "cloud.patch_vm": _patch_vm,
    "cloud.terminate_vm": _terminate_vm,
    "cloud.restart_vm": _restart_vm,
    "cloud.softreboot_vm": _softreboot_vm,
    "cloud.vm_add_public_ip": _vm_add_ip,
    "cloud.vm_remove_public_ip": _vm_remove_ip,
    "cloud.vm_add_storages": _vm_add_storages,
    "cloud.vm_remove_storages": _vm_remove_storages,
    "cloud.list_storages": _list_storages,
    "cloud.create_storage": _create_storage,
    "cloud.get_storage": _get_storage,
    "cloud.patch_storage": _patch_storage,
    "cloud.delete_storage": _delete_storage,
    "cloud.delete_storages": _delete_storages,
    "cloud.list_public_ips": _list_public_ips,
    "cloud.create_public_ip": _create_public_ip,
    "cloud.patch_public_ip": _patch_public_ip,
    "cloud.delete_public_ip": _delete_public_ip,
    "cloud.delete_public_ips": _delete_public_ips,
    "cloud.list_ssh_keys": _list_ssh_keys,
    "cloud.add_ssh_key": _add_ssh_key,
    "cloud.delete_ssh_keys": _delete_ssh_keys,
    "cloud.delete_ssh_key": _delete_ssh_key,
    "cloud.balances": _balances,
    "cloud.charges_total": _charges_total,
    "cloud.charges_aggregated": _charges_aggregated,
}
assert set(HANDLERS) == set(ENDPOINTS)
