"""The cloud generation's request handler: `handle(sim, method, path, query, headers, body)`.

Order, as on the v3 face: route (404/405) → fault injection (the simulator's injector,
endpoint names "cloud.*") → auth (401; a read-only key gets 403 on writes) → the
endpoint. Errors are `{"code", "error"}` in 0.10.0 and `{"error"}` in 0.8.210 (its
ErrorBody). Routes a spec version does not have answer as that server would: 405 when
the path exists with other methods, else 404. The handlers live by area in
`api_catalog`, `api_vms`, `api_resources` (disks, IPs, SSH keys) and `api_account`.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import TYPE_CHECKING

from optimizer.sim.app import JSON, SimResponse
from optimizer.sim.cloud import api_account, api_catalog, api_resources, api_vms
from optimizer.sim.cloud.catalog import SPEC_0_8
from optimizer.sim.cloud.errors import CloudError
from optimizer.sim.cloud.params import Query, answer
from optimizer.sim.cloud.routes import ENDPOINTS, MUTATING, NO_AUTH, ROUTES, Route
from optimizer.sim.cloud.world import CloudWorld

if TYPE_CHECKING:
    from optimizer.sim.simulator import Simulator

UUID_RE = re.compile(
    r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"
)


def error(spec: str, err: CloudError, headers: dict[str, str] | None = None) -> SimResponse:
    """`{code, error}` in 0.10.0; 0.8.210's ErrorBody has only `error`."""
    if spec == SPEC_0_8:
        return answer(err.status, {"error": err.message}, headers)
    return answer(err.status, {"code": err.code, "error": err.message}, headers)


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
            return answer(200, {"data": None, "message": "ok"})
        return resp


Handler = Callable[[CloudWorld, Query, bytes, "str | None"], SimResponse]
HANDLERS: dict[str, Handler] = {
    "cloud.service_status": api_catalog.service_status,
    "cloud.clusters": api_catalog.clusters,
    "cloud.clusters_resources": api_catalog.clusters_resources,
    "cloud.cluster_resources": api_catalog.cluster_resources,
    "cloud.datacenters": api_catalog.datacenters,
    "cloud.configurations": api_catalog.configurations,
    "cloud.prices_vm": api_catalog.prices_vm,
    "cloud.prices_storage": api_catalog.prices_storage,
    "cloud.prices_public_ip": api_catalog.prices_public_ip,
    "cloud.prices_cost": api_catalog.prices_cost,
    "cloud.default_images": api_catalog.default_images,
    "cloud.storage_types": api_catalog.storage_types,
    "cloud.list_vms": api_vms.list_vms,
    "cloud.create_vm": api_vms.create_vm,
    "cloud.get_vm": api_vms.get_vm,
    "cloud.patch_vm": api_vms.patch_vm,
    "cloud.terminate_vm": api_vms.terminate_vm,
    "cloud.restart_vm": api_vms.restart_vm,
    "cloud.softreboot_vm": api_vms.softreboot_vm,
    "cloud.vm_add_public_ip": api_vms.vm_add_ip,
    "cloud.vm_remove_public_ip": api_vms.vm_remove_ip,
    "cloud.vm_add_storages": api_vms.vm_add_storages,
    "cloud.vm_remove_storages": api_vms.vm_remove_storages,
    "cloud.list_storages": api_resources.list_storages,
    "cloud.create_storage": api_resources.create_storage,
    "cloud.get_storage": api_resources.get_storage,
    "cloud.patch_storage": api_resources.patch_storage,
    "cloud.delete_storage": api_resources.delete_storage,
    "cloud.delete_storages": api_resources.delete_storages,
    "cloud.list_public_ips": api_resources.list_public_ips,
    "cloud.create_public_ip": api_resources.create_public_ip,
    "cloud.patch_public_ip": api_resources.patch_public_ip,
    "cloud.delete_public_ip": api_resources.delete_public_ip,
    "cloud.delete_public_ips": api_resources.delete_public_ips,
    "cloud.list_ssh_keys": api_resources.list_ssh_keys,
    "cloud.add_ssh_key": api_resources.add_ssh_key,
    "cloud.delete_ssh_keys": api_resources.delete_ssh_keys,
    "cloud.delete_ssh_key": api_resources.delete_ssh_key,
    "cloud.balances": api_account.balances,
    "cloud.charges_total": api_account.charges_total,
    "cloud.charges_aggregated": api_account.charges_aggregated,
}
assert set(HANDLERS) == set(ENDPOINTS)
