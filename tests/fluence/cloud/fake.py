"""A small fake cloud-generation *server* for httpx.MockTransport (not a mock of our own
code): fixed catalogue, paginated lists, both list shapes (0.8.210 bare arrays, 0.10.0
`{items}`), errors as `{code, error}`. It records every request so tests can check what
the client sent."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs

import httpx

KEY = "sk-cloud-test-5e1d9a7c3b"
DC_DE = "0b6f7c1e-0000-4000-8000-00000000de01"
DC_FR = "0b6f7c1e-0000-4000-8000-00000000fr01"
CL_A = "c1a00000-0000-4000-8000-000000000001"
CL_B = "c1b00000-0000-4000-8000-000000000002"
CFG_S = "cf000000-0000-4000-8000-000000000001"
CFG_R = "cf000000-0000-4000-8000-000000000002"


def vid(i: int) -> str:
    """The id of the fake's VM number i (ids are UUIDs, as in the specs)."""
    return f"00000000-0000-4000-8000-{i:012d}"


def did(i: int) -> str:
    """Boot disk of VM i."""
    return f"d0000000-0000-4000-8000-{i:012d}"


def iid(i: int) -> str:
    """Public IP of VM i."""
    return f"10000000-0000-4000-8000-{i:012d}"


def kid(i: int) -> str:
    """SSH key number i."""
    return f"40000000-0000-4000-8000-{i:012d}"


def vm(i: int, **over: Any) -> dict[str, Any]:
    base = {
        "id": vid(i),
        "userId": "u1",
        "clusterId": CL_A,
        "configurationId": CFG_S,
        "configurationSlug": "cpu-shared-2vcpu-2gb",
        "name": f"web-{i}",
        "status": "launched",
        "restartRequired": False,
        "allowedActions": ["terminate"],
        "bootDisk": did(i),
        "dataDisks": [],
        "subnets": [],
        "sshKeys": [kid(1)],
        "networkInterfaces": [],
        "publicIp": iid(i),
        "createdAt": "2026-05-01T10:00:00Z",
        "updatedAt": "2026-05-01T10:05:00Z",
        "priceHourlyUsd": "0.0125",
        "vcpu": 2,
        "ramGb": 2,
    }
    base.update(over)
    return base


@dataclass
class FakeCloud:
    """`bare=True` answers catalogue lists as bare arrays (0.8.210); `bulk=False` leaves
    `GET /v1/clusters/resources` unrouted (0.8.210)."""

    bare: bool = False
    bulk: bool = True
    key: str = KEY
    vms: list[dict[str, Any]] = field(default_factory=lambda: [vm(i) for i in range(3)])
    ssh_keys: list[dict[str, Any]] = field(
        default_factory=lambda: [
            {
                "id": kid(1),
                "userId": "u1",
                "name": "ops",
                "algorithm": "ssh-ed25519",
                "fingerprint": "SHA256:abc",
                "publicKey": "ssh-ed25519 AAAAC3Nza ops@host",
            }
        ]
    )
    prices: dict[tuple[str, str], str] = field(
        default_factory=lambda: {
            (CFG_S, CL_A): "0.0125",
            (CFG_R, CL_A): "0.0400",
            (CFG_S, CL_B): "0.0110",
            (CFG_R, CL_B): "0.0390",
        }
    )
    storages: list[dict[str, Any]] = field(default_factory=list)
    public_ips: list[dict[str, Any]] = field(
        default_factory=lambda: [
            {
                "id": iid(i),
                "userId": "u1",
                "clusterId": CL_A,
                "name": f"web-{i}",
                "addressType": "V4",
                "status": "ready",
                "address": f"203.0.113.{i + 1}",
                "createdAt": "2026-05-01T10:00:00Z",
            }
            for i in range(3)
        ]
    )
    page_size: int = 20  # the server's default page size
    delete_route: str = "post"  # "post": POST …/delete {ids}; "delete": DELETE …/{id}
    errors: dict[tuple[str, str], tuple[int, dict[str, Any]]] = field(default_factory=dict)
    requests: list[httpx.Request] = field(default_factory=list)

    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self.handle)

    # --- the server ------------------------------------------------------------------------

    def handle(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        method, path = request.method, request.url.path
        if (method, path) in self.errors:
            status, body = self.errors[(method, path)]
            return _json(status, body)
        if request.headers.get("x-api-key") != self.key:
            return _json(401, {"code": "unauthorized", "error": "Invalid API key"})
        q = parse_qs(request.url.query.decode())
        body = json.loads(request.content) if request.content else None
        route = ROUTES.get((method, path))
        if route is not None:
            return route(self, q, body)
        for prefix, kind in (("/v1/storages/", "storages"), ("/v1/public_ips/", "public_ips")):
            if path.startswith(prefix) and method == "DELETE" and self.delete_route == "delete":
                rid = path[len(prefix) :]
                setattr(self, kind, [x for x in getattr(self, kind) if x["id"] != rid])
                return httpx.Response(204)
        if path.startswith("/v1/clusters/") and path.endswith("/resources"):
            return _json(200, _resources(path.split("/")[3]))
        if path.startswith("/v2/vms/"):
            return self._vm_route(method, path, body)
        return _json(404, {"code": "not_found", "error": f"Not found: {path}"})

    def _list(self, items: list[Any]) -> httpx.Response:
        return _json(200, items if self.bare else {"items": items})

    def _paged(self, items: list[Any], q: dict[str, list[str]]) -> httpx.Response:
        page = int(q.get("page", ["1"])[0])
        per = int(q.get("perPage", q.get("per_page", [str(self.page_size)]))[0])
        chunk = items[(page - 1) * per : page * per]
        pages = max(1, -(-len(items) // per))
        pagination = {
            "totalRecords": len(items),
            "filteredRecords": len(items),
            "totalPages": pages,
            "currentPage": page,
            "perPage": per,
        }
        return _json(200, {"items": chunk, "pagination": pagination})

    def _vm_route(self, method: str, path: str, body: Any) -> httpx.Response:
        parts = path.split("/")
        vm_id = parts[3]
        found = next((v for v in self.vms if v["id"] == vm_id), None)
        if found is None:
            return _json(404, {"code": "not_found", "error": "VM not found"})
        if method == "GET" and len(parts) == 4:
            return _json(200, found)
        if method == "PATCH" and len(parts) == 4:
            found["name"] = body["name"]
            return _json(200, found)
        if method == "POST" and parts[4:] == ["terminate"]:
            if found["status"] != "launched":
                return _json(406, {"code": "not_acceptable", "error": "not in this status"})
            found["status"] = "terminating"
            return _json(200, found)
        return _json(405, {"code": "bad_request", "error": "method not allowed"})


def _json(status: int, body: Any) -> httpx.Response:
    return httpx.Response(
        status, content=json.dumps(body).encode(), headers={"content-type": "application/json"}
    )


def _clusters(s: FakeCloud, q: Any, b: Any) -> httpx.Response:
    key = "dc_id" if s.bare else "dcId"  # the 0.8.210 spelling with the 0.8.210 shape
    return s._list(
        [{"id": CL_A, "name": "alpha", key: DC_DE}, {"id": CL_B, "name": "beta", key: DC_FR}]
    )


def _datacenters(s: FakeCloud, q: Any, b: Any) -> httpx.Response:
    return s._list(
        [
            {
                "id": DC_DE,
                "countryCode": "DE",
                "cityCode": "FRA",
                "cityName": "Frankfurt",
                "index": 1,
                "tier": 3,
                "certifications": ["ISO27001"],
                "slug": "de-fra-1",
            },
            {
                "id": DC_FR,
                "countryCode": "FR",
                "cityCode": "PAR",
                "cityName": "Paris",
                "index": 2,
                "tier": 4,
                "certifications": [],
                "slug": "fr-par-2",
            },
        ]
    )


CONFIGS = [
    {
        "id": CFG_S,
        "slug": "cpu-shared-2vcpu-2gb",
        "name": "Shared 2",
        "vcpu": 2,
        "ramGb": 2,
        "dedicated": False,
        "cpuFamilies": ["AMD_ZEN3"],
        "preset": "general",
        "tags": [],
        "description": "",
    },
    {
        "id": CFG_R,
        "slug": "cpu-regular-4vcpu-8gb",
        "name": "Regular 4",
        "vcpu": 4,
        "ramGb": 8,
        "dedicated": True,
        "cpuFamilies": ["AMD_ZEN5"],
        "preset": "general",
        "tags": [],
        "description": "",
    },
]


def _configurations(s: FakeCloud, q: Any, b: Any) -> httpx.Response:
    return s._list(CONFIGS)


def _resources(cluster_id: str) -> dict[str, Any]:
    configs = CONFIGS if cluster_id == CL_A else CONFIGS[:1]
    return {
        "availableConfigurations": configs,
        "availablePublicIps": {"V4": 10},
        "availableStorage": {
            "AMD_ZEN3": [{"storageType": "NVME", "replicated": False, "volumeGb": 500}]
        },
    }


def _bulk_resources(s: FakeCloud, q: Any, b: Any) -> httpx.Response:
    if not s.bulk:
        return _json(404, {"code": "not_found", "error": "Not found"})
    ids = q.get("clusterIds", [])
    return _json(200, {"resources": {cid: _resources(cid) for cid in ids}})


def _vm_prices(s: FakeCloud, q: Any, b: Any) -> httpx.Response:
    items = [
        {
            "vmTypeId": {"vmConfigurationId": c, "clusterId": cl},
            "priceInfo": {"pricePerHourPerQty": p},
        }
        for (c, cl), p in s.prices.items()
        if "clusterId" not in q or q["clusterId"][0] == cl
    ]
    return s._list(items)


def _storage_prices(s: FakeCloud, q: Any, b: Any) -> httpx.Response:
    return s._list(
        [
            {
                "storageTypeId": {"storageType": "NVME", "replicated": False, "clusterId": CL_A},
                "priceInfo": {"pricePerHourPerQty": "0.00012"},
            }
        ]
    )


def _ip_prices(s: FakeCloud, q: Any, b: Any) -> httpx.Response:
    return s._list(
        [
            {
                "publicIpTypeId": {"addressType": "V4", "clusterId": CL_A},
                "priceInfo": {"pricePerHourPerQty": "0.005"},
            }
        ]
    )


def _cost(s: FakeCloud, q: Any, b: Any) -> httpx.Response:
    secs = b.get("secs") or 3600
    return _json(
        200,
        {
            "costOfResources": [],
            "totalCostPerSec": "0.000004",
            "periodSecs": secs,
            "totalCost": "0.0144",
        },
    )


def _images(s: FakeCloud, q: Any, b: Any) -> httpx.Response:
    return s._list(
        [
            {
                "id": "img1",
                "name": "24.04 (LTS) x64",
                "distribution": "Ubuntu",
                "slug": "ubuntu-24-04-x64",
                "downloadUrl": "https://img.example/u.img",
                "iconUrl": "https://img.example/u.svg",
                "username": "ubuntu",
                "createdAt": "2024-01-01T00:00:00Z",
                "updatedAt": "2024-01-01T00:00:00Z",
            }
        ]
    )


def _ssh_keys(s: FakeCloud, q: Any, b: Any) -> httpx.Response:
    return s._paged(s.ssh_keys, q)


def _add_ssh_key(s: FakeCloud, q: Any, b: Any) -> httpx.Response:
    body = " ".join(b["publicKey"].split()[:2])
    if any(" ".join(k["publicKey"].split()[:2]) == body for k in s.ssh_keys):
        return _json(409, {"code": "conflict", "error": "key already exists"})
    key = {
        "id": kid(len(s.ssh_keys) + 1),
        "userId": "u1",
        "name": b["name"],
        "algorithm": b["publicKey"].split()[0],
        "fingerprint": f"SHA256:k{len(s.ssh_keys)}",
        "publicKey": b["publicKey"],
    }
    s.ssh_keys.append(key)
    return _json(200, key)


def _delete_ssh_keys(s: FakeCloud, q: Any, b: Any) -> httpx.Response:
    s.ssh_keys = [k for k in s.ssh_keys if k["id"] not in b["ids"]]
    return _json(200, [])


def _list_vms(s: FakeCloud, q: Any, b: Any) -> httpx.Response:
    items = s.vms
    if "ids" in q:
        items = [v for v in items if v["id"] in q["ids"]]
    if "name" in q:
        items = [v for v in items if v.get("name") == q["name"][0]]
    return s._paged(items, q)


def _create_vm(s: FakeCloud, q: Any, b: Any) -> httpx.Response:
    new = vm(
        len(s.vms) + 100,
        name=b["name"],
        clusterId=b["clusterId"],
        configurationId=b["configurationId"],
        status="new",
    )
    s.vms.append(new)
    return _json(200, new)


def _storages(s: FakeCloud, q: Any, b: Any) -> httpx.Response:
    return s._paged(s.storages, q)


def _public_ips(s: FakeCloud, q: Any, b: Any) -> httpx.Response:
    return s._paged(s.public_ips, q)


def _bulk_delete(kind: str):  # type: ignore[no-untyped-def]
    def route(s: FakeCloud, q: Any, b: Any) -> httpx.Response:
        if s.delete_route != "post":
            return _json(404, {"code": "not_found", "error": "Not found"})
        setattr(s, kind, [x for x in getattr(s, kind) if x["id"] not in b["ids"]])
        return _json(200, [])

    return route


def _balances(s: FakeCloud, q: Any, b: Any) -> httpx.Response:
    return _json(
        200,
        [
            {
                "balance": "41.250000",
                "usage": "8.75",
                "estimatedUsage": "9.1",
                "overage": "0",
                "totalDepositedAmount": "50",
                "userId": "u1",
                "featureKey": "compute",
                "usageDaysLeft": 12,
            }
        ],
    )


def _charges(s: FakeCloud, q: Any, b: Any) -> httpx.Response:
    return _json(
        200,
        [
            {
                "userId": "u1",
                "clusterId": CL_A,
                "resourceId": vid(0),
                "resourceType": "vm",
                "totalUsageHours": "10.5",
                "totalCost": "0.13125",
            }
        ],
    )


def _charges_total(s: FakeCloud, q: Any, b: Any) -> httpx.Response:
    return _json(200, {"total": "0.13125"})


ROUTES = {
    ("GET", "/v1/clusters"): _clusters,
    ("GET", "/v1/datacenters"): _datacenters,
    ("GET", "/v1/configurations/virtual_machines"): _configurations,
    ("GET", "/v1/clusters/resources"): _bulk_resources,
    ("GET", "/v1/prices/vm"): _vm_prices,
    ("GET", "/v1/prices/storage"): _storage_prices,
    ("GET", "/v1/prices/public-ip"): _ip_prices,
    ("POST", "/v1/prices/cost"): _cost,
    ("GET", "/v1/storages/default_images"): _images,
    ("GET", "/v1/ssh_keys"): _ssh_keys,
    ("POST", "/v1/ssh_keys"): _add_ssh_key,
    ("POST", "/v1/ssh_keys/delete"): _delete_ssh_keys,
    ("GET", "/v2/vms"): _list_vms,
    ("POST", "/v2/vms"): _create_vm,
    ("GET", "/v1/storages"): _storages,
    ("POST", "/v1/storages/delete"): _bulk_delete("storages"),
    ("GET", "/v1/public_ips"): _public_ips,
    ("POST", "/v1/public_ips/delete"): _bulk_delete("public_ips"),
    ("GET", "/v2/users/balances"): _balances,
    ("GET", "/v1/billing/charges/aggregated"): _charges,
    ("GET", "/v1/billing/charges/total"): _charges_total,
}
