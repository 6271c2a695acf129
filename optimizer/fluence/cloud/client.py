"""The cloud-generation client: one typed method per endpoint the optimizer needs
(shared/fluence-cloud-api/, specs 0.8.210 and 0.10.0).

    client = CloudClient(http)                 # an httpx.Client with base URL, key, timeout
    prices = client.vm_prices()                # every (configuration, cluster) hourly price

Contract (besides `optimizer.fluence.http`'s: timeouts, retries of reads only, clean
errors without the key):
- Array query parameters (`ids`, `status`, `expand`, `clusterIds`) are sent repeated
  (`ids=a&ids=b`), OpenAPI's default form style, which the API also accepts.
- Lists are accepted bare (0.8.210) or as `{items: [...]}` (0.10.0); paginated lists are
  followed page by page (`page=1, 2, …`) to the end, at most `MAX_PAGES` pages (then
  BadResponse). No page size is sent: the two specs spell it differently (`per_page` in
  0.8.210, `perPage` in 0.10.0) and a server of the other version would refuse or
  ignore it, so the server's default page size is used.
- Items are parsed one by one (`optimizer.fluence.tolerant`): one malformed VM, key or
  price is emptied or skipped with a warning; the rest of the list stands.
- Errors map by status and the API's `code`: 401/403 AuthError; 406 NotAllowedNow
  (transient: the resource's status does not allow it yet); 422 InsufficientBalance
  (code `insufficient_balance`) or RequestInvalid; 429/5xx as on every generation.
- Create, patch, terminate and delete are sent once, never retried: `create_vm` is not
  idempotent (find a VM by its unique name after a lost answer).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from datetime import date
from decimal import Decimal
from typing import Any, TypeVar

from pydantic import BaseModel

from optimizer.errors import (
    ApiError,
    BadResponse,
    ClientRequestError,
    InsufficientBalance,
    NotAllowedNow,
    RequestInvalid,
)
from optimizer.fluence.cloud.wire import (
    Balance,
    ChargesEntry,
    CloudDatacenter,
    CloudVm,
    Cluster,
    ClusterResources,
    CostResult,
    CreateVm,
    DefaultImage,
    Pagination,
    PublicIp,
    PublicIpPrice,
    SshKey,
    Storage,
    StoragePrice,
    VmConfiguration,
    VmPrice,
)
from optimizer.fluence.http import HttpApi, common_error, decode, ignore, model, unwrap
from optimizer.fluence.tolerant import parse_items, tolerant_list_of
from optimizer.money import parse_usd

GENERATION = "cloud"
MAX_PAGES = 1000  # far beyond any account; a server whose pages never end is an error

M = TypeVar("M", bound=BaseModel)
Params = list[tuple[str, str]]


class CloudClient(HttpApi):
    """Typed access to the cloud generation over an injected `httpx.Client`."""

    generation = GENERATION

    def error_for(
        self, status: int, detail: str, code: str | None, retry_after: float | None, endpoint: str
    ) -> ApiError:
        suffix = f": {detail}" if detail else ""
        kw: dict[str, Any] = {"status": status, "endpoint": endpoint, "code": code}
        if code == "insufficient_balance":
            return InsufficientBalance(f"insufficient balance ({status}){suffix}", **kw)
        if status == 406:
            return NotAllowedNow(f"not allowed in the current status ({status}){suffix}", **kw)
        if status == 422:
            return RequestInvalid(f"request refused ({status}){suffix}", **kw)
        return common_error(status, suffix, retry_after, kw)

    def probe(self) -> None:
        """`GET /v1/clusters`, answer ignored: the cheap read that tells whether the server
        speaks this generation (see `optimizer.fluence.generation`)."""
        self._call("GET", "/v1/clusters", ignore)

    # --- catalogue -----------------------------------------------------------------------

    def clusters(self) -> list[Cluster]:
        """`GET /v1/clusters`: every cluster (a location run by one provider)."""
        return self._call("GET", "/v1/clusters", tolerant_list_of(Cluster, "cluster", "items"))

    def datacenters(self) -> list[CloudDatacenter]:
        """`GET /v1/datacenters`: the datacenters clusters live in (country, city, tier)."""
        return self._call(
            "GET", "/v1/datacenters", tolerant_list_of(CloudDatacenter, "datacenter", "items")
        )

    def vm_configurations(self) -> list[VmConfiguration]:
        """`GET /v1/configurations/virtual_machines`: VM sizes (id, slug, vCPU, RAM)."""
        return self._call(
            "GET",
            "/v1/configurations/virtual_machines",
            tolerant_list_of(VmConfiguration, "configuration", "items"),
        )

    def cluster_resources(self, cluster_id: str) -> ClusterResources:
        """`GET /v1/clusters/{id}/resources`: what one cluster can still host."""
        return self._call(
            "GET",
            f"/v1/clusters/{cluster_id}/resources",
            model(ClusterResources),
            endpoint="GET /v1/clusters/{cluster_id}/resources",
        )

    def all_cluster_resources(self, cluster_ids: Sequence[str]) -> dict[str, ClusterResources]:
        """Availability of several clusters: one `GET /v1/clusters/resources` (0.10.0), or
        one call per cluster where the server does not have the bulk path (0.8.210)."""
        if not cluster_ids:
            return {}
        params: Params = [("clusterIds", cid) for cid in cluster_ids]
        try:
            return self._call("GET", "/v1/clusters/resources", _bulk_resources, params=params)
        except ClientRequestError as err:
            if err.status not in (404, 405):
                raise
        return {cid: self.cluster_resources(cid) for cid in cluster_ids}

    def default_images(self) -> list[DefaultImage]:
        """`GET /v1/storages/default_images`: OS images for a boot disk."""
        return self._call(
            "GET",
            "/v1/storages/default_images",
            tolerant_list_of(DefaultImage, "image", "items"),
        )

    # --- prices --------------------------------------------------------------------------

    def vm_prices(self, cluster_id: str | None = None) -> list[VmPrice]:
        """`GET /v1/prices/vm`: hourly price per (configuration, cluster)."""
        return self._call(
            "GET",
            "/v1/prices/vm",
            tolerant_list_of(VmPrice, "offer", "items"),
            params=_opt(clusterId=cluster_id),
        )

    def storage_prices(self, cluster_id: str | None = None) -> list[StoragePrice]:
        """`GET /v1/prices/storage`: hourly price per GB per (storage type, cluster)."""
        return self._call(
            "GET",
            "/v1/prices/storage",
            tolerant_list_of(StoragePrice, "storage_price", "items"),
            params=_opt(clusterId=cluster_id),
        )

    def public_ip_prices(self, cluster_id: str | None = None) -> list[PublicIpPrice]:
        """`GET /v1/prices/public-ip`: hourly price per (address type, cluster)."""
        return self._call(
            "GET",
            "/v1/prices/public-ip",
            tolerant_list_of(PublicIpPrice, "public_ip_price", "items"),
            params=_opt(clusterId=cluster_id),
        )

    def cost(self, resources: Sequence[dict[str, Any]], secs: int | None = None) -> CostResult:
        """`POST /v1/prices/cost`: what `resources` (the spec's PricingResourceType
        objects, e.g. `{"vm": {"resource_id": {...}}}`) cost over `secs`. A read: retried."""
        body: dict[str, Any] = {"resources": list(resources)}
        if secs is not None:
            body["secs"] = secs
        return self._call("POST", "/v1/prices/cost", model(CostResult), json=body, idempotent=True)

    # --- SSH keys ------------------------------------------------------------------------

    def ssh_keys(self) -> list[SshKey]:
        """`GET /v1/ssh_keys`: every stored key (all pages)."""
        return self._paged("/v1/ssh_keys", SshKey, "ssh_key")

    def register_ssh_key(self, name: str, public_key: str) -> SshKey:
        """`POST /v1/ssh_keys`: store a key and return it with its id. The API keys keys
        by body (comment ignored) and answers 409 for one it has: then the stored key
        with the same body is returned. Never retried."""
        body = {"name": name, "publicKey": public_key}
        try:
            return self._call("POST", "/v1/ssh_keys", model(SshKey), json=body)
        except ClientRequestError as err:
            if err.status != 409:
                raise
            wanted = _key_body(public_key)
            for key in self.ssh_keys():
                if _key_body(key.public_key) == wanted:
                    return key
            raise

    def delete_ssh_keys(self, ids: Iterable[str]) -> None:
        """`POST /v1/ssh_keys/delete {ids}`. Never retried."""
        id_list = list(ids)
        if id_list:
            self._call("POST", "/v1/ssh_keys/delete", ignore, json={"ids": id_list})

    # --- VMs -----------------------------------------------------------------------------

    def list_vms(
        self,
        *,
        ids: Sequence[str] = (),
        name: str | None = None,
        status: Sequence[str] = (),
        exclude_status: Sequence[str] = (),
        cluster_id: str | None = None,
        expand: Sequence[str] = (),
    ) -> list[CloudVm]:
        """`GET /v2/vms` with filters (all pages). `expand` (0.10.0: `bootDisk`,
        `publicIp`, …) inlines attached resources under `expanded`."""
        params: Params = [("ids", i) for i in ids]
        params += [("status", s) for s in status]
        params += [("excludeStatus", s) for s in exclude_status]
        params += _opt(name=name, clusterId=cluster_id)
        params += [("expand", e) for e in expand]
        return self._paged("/v2/vms", CloudVm, "vm", params)

    def get_vm(self, vm_id: str, *, expand: Sequence[str] = ()) -> CloudVm:
        """`GET /v2/vms/{id}` (0.10.0)."""
        params: Params = [("expand", e) for e in expand]
        return self._call(
            "GET",
            f"/v2/vms/{vm_id}",
            model(CloudVm),
            params=params or None,
            endpoint="GET /v2/vms/{vm_id}",
        )

    def create_vm(self, request: CreateVm) -> CloudVm:
        """`POST /v2/vms`: create a VM (with an inline boot disk and public IP if asked).
        NEVER retried: after a lost answer the VM may exist; find it by name."""
        return self._call("POST", "/v2/vms", model(CloudVm), json=request.wire())

    def rename_vm(self, vm_id: str, name: str) -> CloudVm | None:
        """`PATCH /v2/vms/{id} {name}`. Never retried."""
        return self._call(
            "PATCH",
            f"/v2/vms/{vm_id}",
            _optional_vm,
            json={"name": name},
            endpoint="PATCH /v2/vms/{vm_id}",
        )

    def terminate_vm(self, vm_id: str) -> None:
        """`POST /v2/vms/{id}/terminate`. Its boot disk and public IP stay (and bill)
        until deleted. Never retried; 406 (NotAllowedNow) while the status forbids it."""
        self._call(
            "POST",
            f"/v2/vms/{vm_id}/terminate",
            ignore,
            endpoint="POST /v2/vms/{vm_id}/terminate",
        )

    # --- disks and public IPs ------------------------------------------------------------

    def storages(self, *, ids: Sequence[str] = (), name: str | None = None) -> list[Storage]:
        """`GET /v1/storages` (all pages)."""
        params: Params = [("ids", i) for i in ids] + _opt(name=name)
        return self._paged("/v1/storages", Storage, "storage", params)

    def delete_storages(self, ids: Iterable[str]) -> None:
        """Delete disks: `POST /v1/storages/delete {ids}` (both specs); where the server
        does not route that (404/405), `DELETE /v1/storages/{id}` per disk (newest docs).
        Never retried."""
        self._delete("/v1/storages", list(ids), "storage_id")

    def public_ips(self, *, ids: Sequence[str] = (), name: str | None = None) -> list[PublicIp]:
        """`GET /v1/public_ips` (all pages)."""
        params: Params = [("ids", i) for i in ids] + _opt(name=name)
        return self._paged("/v1/public_ips", PublicIp, "public_ip", params)

    def delete_public_ips(self, ids: Iterable[str]) -> None:
        """Delete public IPs: `POST /v1/public_ips/delete {ids}`, or `DELETE
        /v1/public_ips/{id}` per IP where the bulk path is not routed. Never retried."""
        self._delete("/v1/public_ips", list(ids), "public_ip_id")

    # --- account -------------------------------------------------------------------------

    def balances(self) -> list[Balance]:
        """`GET /v2/users/balances`: balance per entitlement (USD)."""
        return self._call(
            "GET", "/v2/users/balances", tolerant_list_of(Balance, "balance", "items")
        )

    def charges(self, start: date, end: date) -> list[ChargesEntry]:
        """`GET /v1/billing/charges/aggregated`: charges per resource from `start` to `end`
        (days, both required by the specs)."""
        return self._call(
            "GET",
            "/v1/billing/charges/aggregated",
            tolerant_list_of(ChargesEntry, "charge", "items"),
            params=_opt(startDate=start.isoformat(), endDate=end.isoformat(), format="json"),
        )

    def charges_total(self, start: date | None = None, end: date | None = None) -> Decimal:
        """`GET /v1/billing/charges/total`: the total charged from `start` to `end` (days)."""
        return self._call(
            "GET",
            "/v1/billing/charges/total",
            _total,
            params=_opt(startDate=_iso(start), endDate=_iso(end)),
        )

    # --- plumbing ------------------------------------------------------------------------

    def _paged(self, path: str, item: type[M], kind: str, params: Params | None = None) -> list[M]:
        """Every item of a paginated list: pages 1, 2, … until the last page the server
        reports, an empty or short page, or a bare (unpaginated) array."""
        out: list[M] = []
        page = 1
        while True:
            query: Params = [*(params or []), ("page", str(page))]
            items, pagination = self._call("GET", path, _page_of(item, kind), params=query)
            out += items
            if pagination is None or not items:
                return out
            last = pagination.total_pages
            if last is not None:
                if (pagination.current_page or page) >= last:
                    return out
            elif pagination.per_page and len(items) < pagination.per_page:
                return out
            if page >= MAX_PAGES:
                raise BadResponse(
                    f"pagination did not end after {MAX_PAGES} pages", endpoint=f"GET {path}"
                )
            page += 1

    def _delete(self, base: str, ids: list[str], id_name: str) -> None:
        if not ids:
            return
        try:
            self._call("POST", f"{base}/delete", ignore, json={"ids": ids})
            return
        except ClientRequestError as err:
            if err.status not in (404, 405):
                raise
        for rid in ids:
            self._call("DELETE", f"{base}/{rid}", ignore, endpoint=f"DELETE {base}/{{{id_name}}}")


# --- helpers ---------------------------------------------------------------------------------


def _opt(**values: str | None) -> Params:
    """Query parameters for the values that are set."""
    return [(k, v) for k, v in values.items() if v is not None]


def _iso(day: date | None) -> str | None:
    return day.isoformat() if day is not None else None


def _key_body(public_key: str) -> str:
    """`ssh-ed25519 AAAA… comment` → `ssh-ed25519 AAAA…` (how the API dedupes keys)."""
    return " ".join(public_key.split()[:2])


def _page_of(item: type[M], kind: str) -> Callable[[bytes], tuple[list[M], Pagination | None]]:
    def parse(body: bytes) -> tuple[list[M], Pagination | None]:
        data = decode(body)
        pagination = None
        if isinstance(data, dict) and isinstance(data.get("pagination"), dict):
            try:
                pagination = Pagination.model_validate(data["pagination"])
            except ValueError:
                pagination = None
        items = unwrap(data, "items")
        if not isinstance(items, list):
            raise BadResponse("unexpected response shape: expected a list")
        return parse_items(item, items, kind), pagination

    return parse


def _bulk_resources(body: bytes) -> dict[str, ClusterResources]:
    data = unwrap(decode(body), "resources")
    if not isinstance(data, dict):
        raise BadResponse("unexpected response shape: expected resources by cluster id")
    out: dict[str, ClusterResources] = {}
    for cid, value in data.items():
        parsed = parse_items(ClusterResources, [value], "cluster_resources")
        out[str(cid)] = parsed[0]
    return out


def _optional_vm(body: bytes) -> CloudVm | None:
    if not body.strip():
        return None
    try:
        return CloudVm.model_validate(decode(body))
    except (ValueError, BadResponse):
        return None  # the rename happened; an unexpected echo is not an error


def _total(body: bytes) -> Decimal:
    data = decode(body)
    if not isinstance(data, dict) or "total" not in data:
        raise BadResponse("unexpected response shape: total: missing")
    try:
        return parse_usd(data["total"])
    except ValueError:
        raise BadResponse("unexpected response shape: total: not an amount") from None
