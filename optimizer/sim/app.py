"""One request handler for both the in-process transport and the HTTP server.

`handle(sim, method, path, query, headers, body)` → `SimResponse`. Order: route (404/405)
→ fault injection → auth (403) → the endpoint. A response with `drop` set tells the
carrier to fail the connection instead of answering ("timeout" or "reset").
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs

from pydantic import ValidationError

from optimizer.fluence.models import Constraints, DeployedVm, DeployRequest, VmStatusEntry, VmUpdate
from optimizer.sim.simulator import DEFAULT_IMAGES, SimError

if TYPE_CHECKING:
    from optimizer.sim.simulator import Simulator

JSON = {"content-type": "application/json"}

ROUTES: dict[tuple[str, str], str] = {
    ("POST", "/marketplace/offers"): "offers",
    ("GET", "/marketplace/basic_configurations"): "basic_configurations",
    ("GET", "/marketplace/countries"): "countries",
    ("GET", "/marketplace/hardware"): "hardware",
    ("GET", "/v1/marketplace/datacenters"): "datacenters",
    ("POST", "/vms/v3/estimate"): "estimate",
    ("POST", "/vms/v3"): "deploy",
    ("GET", "/vms/v3"): "list_vms",
    ("GET", "/vms/v3/status"): "vm_status",
    ("PATCH", "/vms/v3"): "patch_vms",
    ("DELETE", "/vms/v3"): "delete_vms",
    ("GET", "/vms/v3/default_images"): "default_images",
    ("GET", "/ssh_keys"): "ssh_keys",
    ("POST", "/ssh_keys"): "add_ssh_key",
    ("DELETE", "/ssh_keys"): "remove_ssh_key",
}
PATHS = {p for _, p in ROUTES}


@dataclass
class SimResponse:
    status: int
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    #: "timeout" or "reset": the carrier fails the connection instead of answering
    drop: str | None = None

    def json(self) -> Any:
        return json.loads(self.body)


def _json(status: int, payload: Any, headers: dict[str, str] | None = None) -> SimResponse:
    body = json.dumps(payload, separators=(",", ":")).encode()
    return SimResponse(status, body, {**JSON, **(headers or {})})


def _error(status: int, message: str, headers: dict[str, str] | None = None) -> SimResponse:
    return _json(status, {"error": message}, headers)


def _authorized(sim: Simulator, headers: dict[str, str]) -> bool:
    h = {k.lower(): v for k, v in headers.items()}
    auth = h.get("authorization", "")
    if auth[:7].lower() == "bearer " and auth[7:].strip() == sim.api_key:
        return True
    return h.get("x-api-key", "").strip() == sim.api_key


def handle(
    sim: Simulator, method: str, path: str, query: str, headers: dict[str, str], body: bytes
) -> SimResponse:
    """Answer one request to the simulated API (thread-safe)."""
    path = "/" + path.strip("/")
    method = method.upper()
    endpoint = ROUTES.get((method, path))
    if endpoint is None:
        if path in PATHS:
            return _error(405, f"Method {method} not allowed on {path}")
        return _error(404, f"Not found: {path}")
    with sim._lock:
        sim.requests[endpoint] = sim.requests.get(endpoint, 0) + 1
        fault = sim.faults.draw(endpoint)
        if fault == "server_error":
            return _error(503, "Service temporarily unavailable")
        if fault == "rate_limit":
            ra = sim.faults.config.retry_after
            return _error(429, "Too many requests", {"retry-after": f"{ra:g}"})
        if fault in ("timeout", "reset"):
            return SimResponse(0, drop=fault)
        if not _authorized(sim, headers):
            return _error(403, "Auth failed. No such API Key")
        sim.sync()
        try:
            resp = _dispatch(sim, endpoint, query, body)
        except SimError as err:
            resp = _error(err.status, err.message)
        # past this point the action (if any) took effect, whatever the client sees
        if fault == "lost_response":
            return SimResponse(0, drop="timeout")
        if fault == "malformed":
            return SimResponse(200, b'{"error": "upstream gave', dict(JSON))
        if fault == "wrong_shape":
            shape: Any = {"data": None, "message": "ok"}
            if endpoint in ("estimate", "hardware"):
                shape = [{"unexpected": True}]
            return _json(200, shape)
        return resp


def _body(body: bytes) -> Any:
    if not body.strip():
        return {}
    try:
        return json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise SimError(400, "Request body is not valid JSON") from None


def _obj(body: bytes) -> dict[str, Any]:
    data = _body(body)
    if not isinstance(data, dict):
        raise SimError(400, "Request body must be a JSON object")
    return data


def _invalid(err: ValidationError) -> SimError:
    first = err.errors()[0]
    where = ".".join(str(x) for x in first.get("loc", ())) or "body"
    return SimError(400, f"Invalid request: {where}: {first.get('msg', 'invalid')}")


def _constraints(data: Any) -> Constraints | None:
    if data is None:
        return None
    try:
        return Constraints.model_validate(data)
    except ValidationError as err:
        raise _invalid(err) from None


def _dispatch(sim: Simulator, endpoint: str, query: str, body: bytes) -> SimResponse:  # noqa: C901
    # one branch per route of the simulated API, each a few lines of parsing and a call:
    # the routing table is easier to check against the API document as one list
    if endpoint == "offers":
        return SimResponse(200, sim.offers_json(_constraints(_obj(body))), dict(JSON))
    if endpoint == "basic_configurations":
        return _json(200, sim.market.configurations())
    if endpoint == "countries":
        return _json(200, sim.market.countries())
    if endpoint == "hardware":
        return _json(200, sim.market.hardware())
    if endpoint == "datacenters":
        return _json(200, sim.market.datacenters_wire())
    if endpoint == "estimate":
        data = _obj(body)
        instances = data.get("instances", 1)
        if not isinstance(instances, int) or isinstance(instances, bool):
            raise SimError(400, "Invalid request: instances must be an integer")
        return _json(200, sim.estimate(_constraints(data.get("constraints")), instances).wire())
    if endpoint == "deploy":
        try:
            req = DeployRequest.model_validate(_obj(body))
        except ValidationError as err:
            raise _invalid(err) from None
        vms = sim.deploy(req)
        return _json(200, [DeployedVm(vm_id=v.id, vm_name=v.name).wire() for v in vms])
    if endpoint == "list_vms":
        return _json(200, [vm.wire() for vm in sim.listed_vms()])
    if endpoint == "vm_status":
        q = parse_qs(query)
        ids = [i for v in q.get("ids", []) for i in v.split(",") if i]
        vms = sim.listed_vms()
        if ids:
            wanted = set(ids)
            vms = [vm for vm in vms if vm.id in wanted]
        out = []
        for vm in vms:
            st = VmStatusEntry(id=vm.id, status=vm.status, public_ip=vm.public_ip).wire()
            st.setdefault("publicIp", None)
            out.append(st)
        return _json(200, out)
    if endpoint == "patch_vms":
        data = _obj(body)
        raw = data.get("updates")
        if not isinstance(raw, list):
            raise SimError(400, "Invalid request: updates must be a list")
        try:
            updates = [VmUpdate.model_validate(u) for u in raw]
        except ValidationError as err:
            raise _invalid(err) from None
        sim.patch(updates)
        return SimResponse(204)
    if endpoint == "delete_vms":
        data = _obj(body)
        vm_ids = data.get("vmIds")
        if (
            not isinstance(vm_ids, list)
            or not vm_ids
            or not all(isinstance(i, str) for i in vm_ids)
        ):
            raise SimError(400, "Invalid request: vmIds must be a non-empty list of ids")
        return _json(200, {"transactions": sim.delete(vm_ids)})
    if endpoint == "default_images":
        now = sim._start.isoformat().replace("+00:00", "Z")
        return _json(200, [{**img, "createdAt": now, "updatedAt": now} for img in DEFAULT_IMAGES])
    if endpoint == "ssh_keys":
        return _json(200, [k.wire() for k in sim.ssh_keys.values()])
    if endpoint == "add_ssh_key":
        data = _obj(body)
        name, key = data.get("name"), data.get("publicKey")
        if not isinstance(name, str) or not isinstance(key, str):
            raise SimError(400, "Invalid request: name and publicKey are required")
        return _json(200, sim.add_ssh_key(name, key).wire())
    if endpoint == "remove_ssh_key":
        fp = _obj(body).get("fingerprint")
        if not isinstance(fp, str):
            raise SimError(400, "Invalid request: fingerprint is required")
        sim.remove_ssh_key(fp)
        return _json(200, {})
    raise SimError(404, f"Not found: {endpoint}")  # pragma: no cover — ROUTES covers all
