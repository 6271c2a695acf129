"""The `marketplace-v3` adapter (the seeds' API, shared/fluence-api.md): one method per endpoint.

    client = build_client(config.api)            # key from env / key file / systemd
    offers = client.list_offers(Constraints(basic_configuration="cpu-2-ram-4gb-storage-25gb"))

Contract:
- Every call has a timeout (`api.timeout`, an explicit `httpx.Timeout`).
- Failures raise the typed `ApiError` subclasses of `optimizer.errors`, carrying the
  API's `error` message (control characters stripped, truncated) and the endpoint, never
  the key or the request headers.
- Only idempotent calls are retried (GETs, `POST /marketplace/offers`,
  `POST /vms/v3/estimate`), with exponential backoff and full jitter, honouring
  `Retry-After`. Deploy, patch, delete and SSH-key changes are never retried here:
  deploy is not idempotent (the executor recovers by VM name).
- Parsing is tolerant: unknown fields are ignored and the documented variants are
  accepted (bare list or wrapped object, empty DELETE body, ...).
"""

from __future__ import annotations

import ssl
import time
from collections.abc import Callable, Iterable, Sequence
from datetime import date
from typing import Any

import httpx
import structlog
from pydantic import ValidationError

from optimizer import __version__
from optimizer.billing import EPOCH_DEAL, BillingModel
from optimizer.config import ApiConfig
from optimizer.errors import ApiError, BadResponse, ClientRequestError, NoMatchingOffers
from optimizer.fluence.account import UNKNOWN, AccountFacts
from optimizer.fluence.credentials import Secret, resolve_api_key
from optimizer.fluence.http import (
    HttpApi,
    clean_message,
    common_error,
    decode,
    first_error,
    ignore,
    list_of,
    model,
    optional_model,
    unwrap,
    validate_base_url,
)
from optimizer.fluence.models import (
    Constraints,
    Datacenter,
    DefaultImage,
    DeployedVm,
    DeployRequest,
    Disk,
    Estimate,
    Hardware,
    Offer,
    PublicIp,
    SshKey,
    Vm,
    VmStatusEntry,
    VmUpdate,
)
from optimizer.fluence.retry import RetryPolicy
from optimizer.fluence.tolerant import tolerant_list_of
from optimizer.urls import is_loopback_host

__all__ = [
    "FluenceClient",
    "auth_headers",
    "build_client",
    "clean_message",
    "is_loopback_host",
    "validate_base_url",
]

log = structlog.get_logger(__name__)

GENERATION = "marketplace-v3"


class FluenceClient(HttpApi):
    """The `marketplace-v3` adapter: typed access to the seeds' API over an injected
    `httpx.Client`. Its wire models are the provider-neutral model itself
    (`optimizer.fluence.models`), so it parses straight into them.

    The httpx client carries base URL, auth header and timeout (see `build_client`);
    tests pass one with the simulator's transport or an `httpx.MockTransport`.
    `sleep` is how the client waits between retries, so tests control time.
    """

    generation = GENERATION
    #: a 24 h epoch charged up front, deal prices, deposits (`optimizer.billing`)
    billing: BillingModel = EPOCH_DEAL
    #: a VM's open ports are set at deploy and corrected with PATCH
    sets_ports = True
    #: appended to a 404/405's message when the generation was guessed (see generation.py)
    not_found_hint: str | None = None
    #: "configured" or "detected" (set by optimizer.fluence.generation.connect)
    generation_source = "configured"

    def __enter__(self) -> FluenceClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def error_for(
        self, status: int, detail: str, code: str | None, retry_after: float | None, endpoint: str
    ) -> ApiError:
        """v3: 422 means no offer matches; the rest as both generations map it."""
        suffix = f": {detail}" if detail else ""
        kw: dict[str, Any] = {"status": status, "endpoint": endpoint}
        if status == 422:
            return NoMatchingOffers(f"no matching offers ({status}){suffix}", **kw)
        if status in (404, 405) and self.not_found_hint:
            suffix = f"{suffix}; {self.not_found_hint}"
        return common_error(status, suffix, retry_after, kw)

    # --- marketplace ---------------------------------------------------------------------

    def list_offers(self, constraints: Constraints | None = None) -> list[Offer]:
        """`POST /marketplace/offers`: offers matching `constraints` (all offers for None)."""
        body = constraints.wire() if constraints is not None else {}
        return self._call(
            "POST",
            "/marketplace/offers",
            tolerant_list_of(Offer, "offer", "offers"),
            json=body,
            idempotent=True,
        )

    def offers_answer(self) -> bytes:
        """`POST /marketplace/offers {}`: the whole market as the raw answer, unparsed.

        For snapshots: `optimizer.fluence.offer_listings.scan_offers` reads it without a
        model per offer, and an unchanged market is recognized by its digest."""
        return self._call("POST", "/marketplace/offers", _offer_list, json={}, idempotent=True)

    def basic_configurations(self) -> list[str]:
        """`GET /marketplace/basic_configurations`: configuration slugs."""
        return self._call(
            "GET",
            "/marketplace/basic_configurations",
            list_of(str, "basic_configurations", "basicConfigurations", "configurations"),
        )

    def countries(self) -> list[str]:
        """`GET /marketplace/countries`: ISO country codes with offers."""
        return self._call("GET", "/marketplace/countries", list_of(str, "countries"))

    def hardware(self) -> Hardware:
        """`GET /marketplace/hardware`: CPU, memory and storage kinds on offer."""
        return self._call("GET", "/marketplace/hardware", model(Hardware))

    def datacenters(self) -> list[Datacenter]:
        """`GET /v1/marketplace/datacenters`: known datacenters (shape parsed tolerantly)."""
        return self._call(
            "GET", "/v1/marketplace/datacenters", list_of(Datacenter, "datacenters", "data")
        )

    # --- virtual machines ----------------------------------------------------------------

    def estimate(self, constraints: Constraints | None, instances: int) -> Estimate:
        """`POST /vms/v3/estimate`: the price of deploying `instances` VMs now, without
        committing. Raise NoMatchingOffers (422) when the constraints can't be met."""
        body: dict[str, Any] = {"instances": instances}
        body["constraints"] = constraints.wire() if constraints is not None else {}
        return self._call("POST", "/vms/v3/estimate", model(Estimate), json=body, idempotent=True)

    def deploy(self, request: DeployRequest) -> list[DeployedVm]:
        """`POST /vms/v3`: deploy VMs. NEVER retried (not idempotent): after a transport
        error or a malformed answer the VMs may exist; find them by name."""
        return self._call(
            "POST", "/vms/v3", list_of(DeployedVm, "vms", "deployed"), json=request.wire()
        )

    def list_vms(self) -> list[Vm]:
        """`GET /vms/v3`: every VM of the account, in any status."""
        return self._call("GET", "/vms/v3", tolerant_list_of(Vm, "vm", "vms"))

    def vm_status(self, ids: Iterable[str]) -> list[VmStatusEntry]:
        """`GET /vms/v3/status?ids=..`: status and public IP per VM (tolerant parsing:
        a list, or an object with `statuses`/`vms`; `vmId` accepted for `id`)."""
        id_list = list(ids)
        if not id_list:
            return []
        return self._call("GET", "/vms/v3/status", _statuses, params=[("ids", i) for i in id_list])

    def patch_vms(self, updates: Sequence[VmUpdate]) -> None:
        """`PATCH /vms/v3`: rename VMs / replace their open ports. Never retried.
        Note: `open_ports` REPLACES the set; leave 22 out and SSH is closed."""
        body = {"updates": [u.wire() for u in updates]}
        self._call("PATCH", "/vms/v3", ignore, json=body)

    def delete_vms(self, ids: Iterable[str]) -> None:
        """`DELETE /vms/v3`: stop VMs (or finalize Terminated ones). Never retried."""
        id_list = list(ids)
        if not id_list:
            return
        self._call("DELETE", "/vms/v3", ignore, json={"vmIds": id_list})

    # --- disks and public IPs: not resources of their own on this generation --------------

    def list_disks(self) -> list[Disk]:
        """None: a VM's disk is part of its configuration here (no call is made)."""
        return []

    def list_public_ips(self) -> list[PublicIp]:
        """None: a VM's address is part of the VM here (no call is made)."""
        return []

    def delete_disks(self, ids: Iterable[str]) -> None:
        _refuse_resource_delete("disk", ids)

    def delete_public_ips(self, ids: Iterable[str]) -> None:
        _refuse_resource_delete("public IP", ids)

    def default_images(self) -> list[DefaultImage]:
        """`GET /vms/v3/default_images`: OS images; use `download_url` as `os_image`."""
        return self._call(
            "GET", "/vms/v3/default_images", list_of(DefaultImage, "images", "default_images")
        )

    # --- SSH keys ------------------------------------------------------------------------

    def ssh_keys(self) -> list[SshKey]:
        """`GET /ssh_keys`: the account's stored SSH keys."""
        return self._call(
            "GET", "/ssh_keys", tolerant_list_of(SshKey, "ssh_key", "ssh_keys", "sshKeys", "keys")
        )

    def add_ssh_key(self, name: str, public_key: str) -> SshKey | None:
        """`POST /ssh_keys`: store a key. Returns the stored key when the API echoes it."""
        return self._call(
            "POST",
            "/ssh_keys",
            optional_model(SshKey),
            json={"name": name, "publicKey": public_key},
        )

    def remove_ssh_key(self, fingerprint: str) -> None:
        """`DELETE /ssh_keys`: remove the key with this fingerprint (`SHA256:...`)."""
        self._call("DELETE", "/ssh_keys", ignore, json={"fingerprint": fingerprint})

    # --- account -------------------------------------------------------------------------

    def account(self, since: date, today: date) -> AccountFacts:
        """Nothing known, nothing asked: this generation reports no balance and no
        charges (a VM's own `totalSpent` and `reservedBalance` are its account facts)."""
        return UNKNOWN


# --- response parsers ----------------------------------------------------------------------


def _offer_list(body: bytes) -> bytes:
    """The body itself when it is a JSON list (bare or under `offers`); BadResponse (which
    is retried) otherwise. The items are the snapshot's to judge, one by one."""
    from optimizer.fluence.offer_listings import NotAnOfferList, offer_items

    try:
        offer_items(body)
    except NotAnOfferList as err:
        raise BadResponse(f"malformed response: {err}") from None
    return body


def _statuses(body: bytes) -> list[VmStatusEntry]:
    data = unwrap(decode(body), "statuses", "vms", "data")
    if not isinstance(data, list):
        raise BadResponse("unexpected response shape: expected a list of VM statuses")
    out = []
    for item in data:
        if isinstance(item, dict) and "id" not in item and "vmId" in item:
            item = {**item, "id": item["vmId"]}
        try:
            out.append(VmStatusEntry.model_validate(item))
        except ValidationError as e:
            raise BadResponse(f"unexpected response shape: {first_error(e)}") from None
    return out


# --- construction --------------------------------------------------------------------------


def auth_headers(api: ApiConfig, secret: Secret) -> dict[str, str]:
    """The auth header as configured: `Authorization: Bearer <key>` or `X-API-KEY: <key>`."""
    if api.auth_header == "x-api-key":
        return {"X-API-KEY": secret.reveal()}
    return {"Authorization": f"Bearer {secret.reveal()}"}


def http_client(
    api: ApiConfig, headers: dict[str, str], transport: httpx.BaseTransport | None
) -> httpx.Client:
    """The httpx client both generations use: base URL (checked), explicit timeout, no
    redirects, `headers` (auth) plus Accept and User-Agent.

    A plain-http base URL (loopback only: the simulator, a local proxy) speaks no TLS,
    so its client gets a TLS context that trusts nothing instead of one loading the CA
    bundle (about 75 ms of every command's start); an https request through it could
    only fail verification, never go unverified."""
    base = validate_base_url(api.base_url)
    seconds = api.timeout.total_seconds()
    verify: ssl.SSLContext | bool = True
    if base.scheme == "http":
        verify = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)  # verifies, with no trust anchor
    return httpx.Client(
        base_url=base,
        verify=verify,
        headers={
            **headers,
            "Accept": "application/json",
            "User-Agent": f"fluence-optimizer/{__version__}",
        },
        timeout=httpx.Timeout(seconds, connect=min(seconds, 10.0)),
        transport=transport,
        follow_redirects=False,
    )


def build_client(
    api: ApiConfig,
    *,
    transport: httpx.BaseTransport | None = None,
    api_key: str | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> FluenceClient:
    """Build the marketplace-v3 client from the `[api]` config section (whatever
    `api.generation` says; `optimizer.fluence.generation.connect` honours it).

    Raise ConfigError for an unsafe base URL or key file, AuthError when no key is found.
    `transport` replaces the network (the simulator's in-process transport in tests).
    """
    validate_base_url(api.base_url)
    secret = resolve_api_key(api_key, api.key_file)
    http = http_client(api, auth_headers(api, secret), transport)
    return FluenceClient(
        http, retries=RetryPolicy(max_retries=api.max_retries), sleep=sleep, secret=secret
    )


def _refuse_resource_delete(what: str, ids: Iterable[str]) -> None:
    id_list = list(ids)
    if id_list:
        raise ClientRequestError(
            f"marketplace-v3 has no {what}s of their own to delete ({', '.join(id_list)})"
        )
