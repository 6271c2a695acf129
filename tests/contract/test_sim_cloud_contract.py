"""Every response of the simulator's cloud face, success and error, on every route, is
valid against the published spec of the version it speaks — both versions.

The scenario below calls each route through `ValidatingTransport`, which checks the
request (so the scenario itself is a valid client) and the response; a second client
sends deliberately bad requests with only the responses checked. At the end, coverage
says each route answered 2xx at least once and every error status was met.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import httpx
import pytest

from optimizer.sim import Simulator
from optimizer.sim.cloud import CloudConfig
from optimizer.sim.cloud.routes import ROUTES
from tests.contract.spec import ContractError, ValidatingTransport, load, require_specs

KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl t@x"
IMAGE = (
    "https://cloud-images.ubuntu.com/releases/22.04/release/ubuntu-22.04-server-cloudimg-amd64.img"
)
MISSING = "00000000-0000-4000-8000-000000000000"


def pubkey(n: int) -> str:
    """A well-formed ed25519 public key line, distinct per `n`."""
    import base64

    blob = b"\x00\x00\x00\x0bssh-ed25519\x00\x00\x00\x20" + bytes([n]) * 32
    return f"ssh-ed25519 {base64.b64encode(blob).decode()} k{n}"


@pytest.fixture(params=["0.8.210", "0.10.0"])
def version(request: pytest.FixtureRequest) -> str:
    require_specs()
    return str(request.param)


class Scenario:
    def __init__(self, version: str) -> None:
        self.version = version
        self.sim = Simulator(seed=5, cloud=CloudConfig(spec=version, failure_rate=0.0))
        self.spec = load(version)
        self.good_t = ValidatingTransport(self.sim.transport("cloud"), self.spec)
        self.bad_t = ValidatingTransport(self.sim.transport("cloud"), self.spec, requests=False)
        key = {"X-API-KEY": self.sim.api_key}
        self.good = httpx.Client(base_url="http://sim.local", transport=self.good_t, headers=key)
        self.bad = httpx.Client(base_url="http://sim.local", transport=self.bad_t, headers=key)
        self.new = version == "0.10.0"

    def ok(self, method: str, path: str, **kw: Any) -> Any:
        r = self.good.request(method, path, **kw)
        assert r.status_code == 200, f"{method} {path}: {r.status_code} {r.text[:200]}"
        return r.json() if r.headers["content-type"].startswith("application/json") else r.text

    def fails(self, status: int, method: str, path: str, *, valid: bool = True, **kw: Any) -> None:
        """An error answer; `valid` requests go through the request check too."""
        r = (self.good if valid else self.bad).request(method, path, **kw)
        assert r.status_code == status, f"{method} {path}: {r.status_code} {r.text[:200]}"
        assert set(r.json()) == ({"code", "error"} if self.new else {"error"})

    def seen(self) -> list[tuple[str, str, int]]:
        return self.good_t.seen + self.bad_t.seen


def items(payload: Any) -> list[Any]:
    return payload if isinstance(payload, list) else payload["items"]


@pytest.fixture
def scenario(version: str) -> Iterator[Scenario]:
    s = Scenario(version)
    yield s
    s.good.close()
    s.bad.close()


def test_every_route_and_error_validates(scenario: Scenario) -> None:
    s, sim = scenario, scenario.sim
    per_page = "perPage" if s.new else "per_page"
    # --- catalog
    s.ok("GET", "/v1/service/status")
    clusters = items(s.ok("GET", "/v1/clusters"))
    s.ok("GET", "/v1/datacenters")
    s.ok("GET", "/v1/configurations/virtual_machines")
    points = items(s.ok("GET", "/v1/prices/vm"))
    cid = points[0]["vmTypeId"]["clusterId"]
    conf = points[0]["vmTypeId"]["vmConfigurationId"]
    s.ok("GET", "/v1/prices/vm", params={"clusterId": cid})
    s.ok("GET", "/v1/prices/storage", params={"clusterId": cid})
    s.ok("GET", "/v1/prices/public-ip")
    s.ok("POST", "/v1/prices/cost", json={"secs": 3600, "resources": [
        {"vm": {"resource_id": points[0]["vmTypeId"]}},
        {"storage": {"resource_id": {"storageType": "NVME", "replicated": False,
                                     "clusterId": cid}, "volume_gb": 25}},
        {"publicIp": {"resource_id": {"addressType": "V4", "clusterId": cid}}},
    ]})  # fmt: skip
    s.ok("GET", "/v1/storages/default_images")
    s.ok("GET", "/v1/storages/types")
    s.ok("GET", f"/v1/clusters/{clusters[0]['id']}/resources")
    s.fails(404, "GET", f"/v1/clusters/{MISSING}/resources")
    if s.new:
        s.ok("GET", "/v1/clusters/resources", params={"clusterIds": [cid]})
    # --- SSH keys
    key = s.ok("POST", "/v1/ssh_keys", json={"name": "ops", "publicKey": KEY})
    s.fails(409, "POST", "/v1/ssh_keys", json={"name": "again", "publicKey": KEY})
    s.fails(422, "POST", "/v1/ssh_keys", json={"name": "bad", "publicKey": "nope"})
    s.ok("GET", "/v1/ssh_keys", params={"ids": [key["id"]], "page": 1, per_page: 10})
    spare = s.ok("POST", "/v1/ssh_keys", json={"name": "spare", "publicKey": pubkey(1)})
    s.ok("POST", "/v1/ssh_keys/delete", json={"ids": [spare["id"]]})
    if s.new:
        spare = s.ok("POST", "/v1/ssh_keys", json={"name": "s2", "publicKey": pubkey(2)})
        s.ok("DELETE", f"/v1/ssh_keys/{spare['id']}")
    # --- VMs
    sim.cloud.set_capacity(cid, conf, 20)
    body = {
        "name": "web-1", "clusterId": cid, "configurationId": conf, "sshKeys": [key["id"]],
        "bootDisk": {"name": "web-1-boot", "clusterId": cid, "storageType": "NVME",
                     "volumeGb": 25, "replicated": False, "osImage": IMAGE},
        "publicIp": {"name": "web-1-ip", "clusterId": cid, "addressType": "V4"},
    }  # fmt: skip
    if s.new:
        body["cloudInit"] = {"userData": "#cloud-config\n"}
    vm = s.ok("POST", "/v2/vms", json=body)
    s.fails(422, "POST", "/v2/vms", json={**body, "name": "Web_1"})
    s.fails(404, "POST", "/v2/vms", json={**body, "configurationId": MISSING})
    s.fails(
        400,
        "POST",
        "/v2/vms",
        valid=False,
        content=b"{",
        headers={"content-type": "application/json"},
    )
    s.fails(406, "POST", f"/v2/vms/{vm['id']}/terminate")  # not allowed while new
    s.fails(404, "POST", f"/v2/vms/{MISSING}/terminate")
    s.fails(400, "POST", "/v2/vms/not-a-uuid/terminate", valid=False)
    listed = s.ok("GET", "/v2/vms", params={"page": 1, per_page: 5, "name": "web"})
    assert listed["items"][0]["id"] == vm["id"]
    s.ok("GET", "/v2/vms", params={"status": "new", "clusterId": cid, "ids": [vm["id"]]})
    if s.new:
        s.ok("GET", "/v2/vms", params={"expand": ["bootDisk", "publicIp", "sshKeys",
                                                  "networkInterfaces", "dataDisks", "subnets"],
                                       "excludeStatus": ["terminated"], "sort": "name",
                                       "order": "asc"})  # fmt: skip
        s.ok("GET", f"/v2/vms/{vm['id']}", params={"expand": ["bootDisk", "publicIp"]})
        s.fails(404, "GET", f"/v2/vms/{MISSING}")
    else:
        s.fails(405, "GET", f"/v2/vms/{vm['id']}", valid=False)  # not in 0.8.210
    s.ok("PATCH", f"/v2/vms/{vm['id']}", json={"name": "web-2"})
    s.fails(422, "PATCH", f"/v2/vms/{vm['id']}", json={"name": "-bad"})
    sim.advance(timedelta(minutes=5))
    s.ok("POST", f"/v2/vms/{vm['id']}/restart")
    sim.advance(timedelta(minutes=2))
    s.ok("POST", f"/v2/vms/{vm['id']}/softreboot")
    sim.advance(timedelta(minutes=2))
    s.ok("POST", f"/v2/vms/{vm['id']}/public_ip/remove")
    s.ok("POST", f"/v2/vms/{vm['id']}/public_ip/add", json={"publicIpId": vm["publicIp"]})
    # --- disks and IPs
    s.fails(406, "POST", "/v1/storages/delete", json={"ids": [vm["bootDisk"]]})
    disk = s.ok("POST", "/v1/storages", json={"name": "data-1", "clusterId": cid,
                                              "storageType": "NVME", "volumeGb": 40,
                                              "replicated": True})  # fmt: skip
    ip = s.ok(
        "POST", "/v1/public_ips", json={"name": "ip-1", "clusterId": cid, "addressType": "V4"}
    )
    s.ok("PATCH", f"/v1/storages/{disk['id']}", json={"name": "data-2"})
    sim.advance(timedelta(minutes=2))
    s.ok("POST", f"/v2/vms/{vm['id']}/storages/add", json={"dataDisks": [disk["id"]]})
    s.fails(406, "POST", "/v1/storages/delete", json={"ids": [disk["id"]]})
    s.ok("POST", f"/v2/vms/{vm['id']}/storages/remove", json={"dataDisks": [disk["id"]]})
    s.ok("PATCH", f"/v1/public_ips/{ip['id']}", json={"name": "ip-2"})
    sim.advance(timedelta(minutes=2))
    s.ok("GET", "/v1/storages", params={"status": "ready", "name": "data", per_page: 50})
    s.ok("GET", "/v1/public_ips", params={"clusterId": cid, "addressType": "V4", "page": 1})
    if s.new:
        s.ok(
            "GET", "/v1/storages", params={"excludeAttached": "true", "excludeStatus": ["removed"]}
        )
        s.ok("GET", "/v1/public_ips", params={"excludeAttached": "true", "sort": "createdAt"})
        s.ok("GET", f"/v1/storages/{disk['id']}")
        s.ok("DELETE", f"/v1/storages/{disk['id']}")
        s.ok("DELETE", f"/v1/public_ips/{ip['id']}")
        s.fails(404, "DELETE", f"/v1/storages/{MISSING}")
    else:
        s.fails(405, "DELETE", f"/v1/storages/{disk['id']}", valid=False)
        s.ok("POST", "/v1/storages/delete", json={"ids": [disk["id"]]})
        s.ok("POST", "/v1/public_ips/delete", json={"ids": [ip["id"]]})
    s.ok("POST", f"/v2/vms/{vm['id']}/terminate")
    sim.advance(timedelta(hours=26))
    s.ok("POST", "/v1/storages/delete", json={"ids": [vm["bootDisk"]]})
    s.ok("POST", "/v1/public_ips/delete", json={"ids": [vm["publicIp"]]})
    # --- account
    s.ok("GET", "/v2/users/balances")
    s.ok("GET", "/v1/billing/charges/total", params={"startDate": "2026-01-01"})
    rows = s.ok("GET", "/v1/billing/charges/aggregated",
                params={"startDate": "2026-01-01", "endDate": "2026-01-02"})  # fmt: skip
    assert rows
    days = {"startDate": "2026-01-01", "endDate": "2026-01-02"}
    csv = s.ok("GET", "/v1/billing/charges/aggregated", params={**days, "format": "csv"})
    header, *lines = csv.splitlines()
    assert "totalCost" in header.split(",") and len(lines) == len(rows)
    if s.new:
        for group in ("RESOURCE_TYPE", "CLUSTER"):
            s.ok("GET", "/v1/billing/charges/aggregated",
                 params={"startDate": "2026-01-01", "endDate": "2026-01-02", "groupBy": group,
                         "period": "DAY"})  # fmt: skip
    s.fails(400, "GET", "/v1/billing/charges/aggregated", valid=False)
    sim.set_balance("0.01")
    s.fails(422, "POST", "/v2/vms", json={**body, "name": "web-3"})  # the 6-hour rule
    # --- auth, faults, unknown paths
    s.fails(401, "GET", "/v2/vms", valid=False, headers={"X-API-KEY": "wrong"})
    s.fails(403, "POST", "/v1/ssh_keys", json={"name": "x", "publicKey": KEY},
            headers={"X-API-KEY": sim.cloud.read_only_key})  # fmt: skip
    sim.faults.force_next("cloud.clusters", "rate_limit")
    s.fails(429, "GET", "/v1/clusters")
    sim.faults.force_next("cloud.create_vm", "server_error")
    s.fails(503, "POST", "/v2/vms", json=body)
    s.fails(404, "GET", "/v9/nothing", valid=False)

    # --- coverage: every route of this version answered 2xx, every error status was met
    seen = [(m, re.sub(r"\{[^}]+\}", "{id}", t), st) for m, t, st in scenario.seen()]
    for route in ROUTES:
        if s.version not in route.specs:
            continue
        ok = [st for m, t, st in seen if m == route.method and t == route.path and st < 300]
        assert ok, f"{route.method} {route.path} never answered 2xx in the scenario"
    statuses = {st for _, _, st in seen}
    assert {400, 401, 403, 404, 406, 409, 422, 429, 503} <= statuses
    assert (405 in statuses) == (s.version == "0.8.210")


def test_simulator_routes_are_exactly_the_spec_s(version: str) -> None:
    """Each route the simulator serves for a version is in that spec; the routes it leaves
    out of 0.8.210 are absent from it (the 0.10.0 additions)."""
    spec = load(version)
    for route in ROUTES:
        concrete = route.path.replace("{id}", MISSING)
        found = spec.template(route.method, concrete)
        if version in route.specs:
            assert found is not None, f"{route.method} {route.path} not in {version}"
            assert re.sub(r"\{[^}]+\}", "{id}", found) == route.path
        else:
            assert found is None, f"{route.method} {route.path} is in {version} after all"


# --- drifts between the versions, caught by the validator ------------------------------------


def _req(method: str, path: str, **kw: Any) -> httpx.Request:
    return httpx.Request(method, "http://api.fluence.test" + path,
                         headers={"X-API-KEY": "k"}, **kw)  # fmt: skip


def _resp(method: str, path: str, payload: Any, status: int = 200) -> httpx.Response:
    return httpx.Response(status, json=payload, request=_req(method, path))


CLUSTER_08 = [{"id": "c1", "name": "n", "dc_id": "d"}]
CLUSTER_10 = {"items": [{"id": "c1", "name": "n", "dcId": "d"}]}


@pytest.mark.parametrize(
    ("payload", "valid_in"),
    [
        (CLUSTER_08, "0.8.210"),
        (CLUSTER_10, "0.10.0"),
        ([{"id": "c", "name": "n", "dcId": "d"}], ""),
    ],
)
def test_cluster_list_shape_drift(version: str, payload: Any, valid_in: str) -> None:
    """0.8.210: bare array of {dc_id}; 0.10.0: {items} of {dcId}. Neither takes the other."""
    resp = _resp("GET", "/v1/clusters", payload)
    if version == valid_in:
        load(version).check_response(resp)
    else:
        with pytest.raises(ContractError):
            load(version).check_response(resp)


def test_page_size_parameter_drift(version: str) -> None:
    """`per_page` (0.8.210) vs `perPage` (0.10.0): the other spelling is undeclared."""
    spec = load(version)
    good, bad = ("per_page", "perPage") if version == "0.8.210" else ("perPage", "per_page")
    spec.check_request(_req("GET", "/v2/vms", params={"page": 1, good: 50}))
    with pytest.raises(ContractError, match="not declared"):
        spec.check_request(_req("GET", "/v2/vms", params={"page": 1, bad: 50}))


def test_cloud_init_and_expand_exist_only_in_0_10(version: str) -> None:
    spec = load(version)
    body = {"name": "a", "clusterId": MISSING, "configurationId": MISSING, "bootDisk": MISSING,
            "cloudInit": {"userData": "#cloud-config"}}  # fmt: skip
    expand = _req("GET", "/v2/vms", params={"expand": "bootDisk"})
    create = _req("POST", "/v2/vms", json=body)
    if version == "0.10.0":
        spec.check_request(create)
        spec.check_request(expand)
    else:
        with pytest.raises(ContractError):
            spec.check_request(create)
        with pytest.raises(ContractError):
            spec.check_request(expand)


def test_public_ip_attached_to_drift(version: str) -> None:
    """A VM id (0.8.210) or {id, name} (0.10.0)."""
    ip = {"id": MISSING, "userId": MISSING, "clusterId": MISSING, "name": "ip", "addressType": "V4",
          "status": "ready", "createdAt": "2026-01-01T00:00:00Z"}  # fmt: skip
    as_id = _resp("PATCH", f"/v1/public_ips/{MISSING}", {**ip, "attachedTo": MISSING})
    ref = {"id": MISSING, "name": "vm"}
    as_ref = _resp(
        "PATCH", f"/v1/public_ips/{MISSING}", {**ip, "attachedTo": ref, "allowedActions": []}
    )
    good, bad = (as_id, as_ref) if version == "0.8.210" else (as_ref, as_id)
    load(version).check_response(good)
    with pytest.raises(ContractError):
        load(version).check_response(bad)


def test_error_body_code_exists_only_in_0_10(version: str) -> None:
    """0.8.210's ErrorBody is {error}; 0.10.0's is {code, error} (code from a closed enum).
    Objects are closed, so each shape is valid in its own version only."""
    spec = load(version)
    bare = _resp("GET", "/v2/vms", {"error": "nope"}, status=401)
    coded = _resp("GET", "/v2/vms", {"code": "unauthorized", "error": "x"}, 401)
    good, bad = (bare, coded) if version == "0.8.210" else (coded, bare)
    spec.check_response(good)
    with pytest.raises(ContractError):
        spec.check_response(bad)
    if version == "0.10.0":
        with pytest.raises(ContractError):  # not in the ErrorCode enum
            spec.check_response(_resp("GET", "/v2/vms", {"code": "too_many", "error": "x"}, 401))
    with pytest.raises(ContractError):  # an undeclared status is still an ErrorBody
        spec.check_response(_resp("POST", f"/v2/vms/{MISSING}/terminate", {"oops": 1}, 406))


def test_ssh_keys_accept_the_api_key_both_header_forms(version: str) -> None:
    spec = load(version)
    for headers in ({"X-API-KEY": "k"}, {"Authorization": "X-API-KEY k"}):
        spec.check_request(httpx.Request("GET", "http://h/v1/ssh_keys", headers=headers))
    with pytest.raises(ContractError):
        spec.check_request(httpx.Request("GET", "http://h/v1/ssh_keys"))


def test_specs_are_valid_openapi_after_the_known_repair(version: str) -> None:
    """openapi-spec-validator passes both specs once 0.8.210's dangling
    `ResponseOutputFormat` reference is defined (the only defect found)."""
    from openapi_spec_validator import OpenAPIV31SpecValidator

    from tests.contract.spec import raw_spec

    raw = raw_spec(version)
    assert list(OpenAPIV31SpecValidator(raw).iter_errors()) == []
