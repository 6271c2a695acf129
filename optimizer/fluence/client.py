"""The Fluence CPU Cloud API client: one method per endpoint of shared/fluence-api.md.

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

import json
import time
from collections.abc import Callable, Iterable, Sequence
from typing import Any, TypeVar

import httpx
import structlog
from pydantic import BaseModel, TypeAdapter, ValidationError

from optimizer import __version__
from optimizer.config import ApiConfig
from optimizer.errors import (
    AuthError,
    BadResponse,
    ClientRequestError,
    ConfigError,
    NoMatchingOffers,
    RateLimited,
    ServerError,
    TransportError,
)
from optimizer.fluence.credentials import Secret, redact, resolve_api_key
from optimizer.fluence.models import (
    Constraints,
    Datacenter,
    DefaultImage,
    DeployedVm,
    DeployRequest,
    Estimate,
    Hardware,
    Offer,
    SshKey,
    Vm,
    VmStatusEntry,
    VmUpdate,
)
from optimizer.fluence.retry import RETRYABLE_STATUSES, RetryPolicy, parse_retry_after
from optimizer.untrusted import one_line
from optimizer.urls import is_loopback_host

log = structlog.get_logger(__name__)

T = TypeVar("T")
M = TypeVar("M", bound=BaseModel)

MAX_MESSAGE_CHARS = 200


def clean_message(
    text: object, secret: Secret | None = None, limit: int = MAX_MESSAGE_CHARS
) -> str:
    """Make untrusted text safe for one log/terminal line: control characters (including
    ANSI escapes' ESC and bidi overrides) become spaces, the key is redacted, long text
    is truncated with an ellipsis."""
    return one_line(redact(str(text), secret), limit)


def validate_base_url(url: str) -> httpx.URL:
    """Return the parsed base URL; raise ConfigError unless it is https://, or http:// to
    a loopback host."""
    try:
        parsed = httpx.URL(url)
    except (httpx.InvalidURL, TypeError, ValueError):
        raise ConfigError(f"api.base_url: {clean_message(url, limit=80)!r} is not a URL") from None
    if parsed.scheme not in ("http", "https") or not parsed.host:
        raise ConfigError(
            f"api.base_url: {clean_message(url, limit=80)!r} is not an http(s) URL "
            "(write it like https://api.fluence.dev)"
        )
    if parsed.userinfo:
        raise ConfigError("api.base_url: must not contain a user name or password")
    if parsed.scheme == "http" and not is_loopback_host(parsed.host):
        raise ConfigError("api.base_url: plain http:// is only allowed for loopback hosts")
    return parsed


def _unwrap(data: Any, *keys: str) -> Any:
    """A bare list, or the list under the first of `keys` present in a wrapping object."""
    if isinstance(data, dict):
        for k in keys:
            if k in data:
                return data[k]
    return data


def _first_error(err: ValidationError) -> str:
    first = err.errors()[0] if err.errors() else {"loc": (), "msg": "invalid"}
    loc = ".".join(str(p) for p in first.get("loc", ()))
    return f"{loc}: {first.get('msg', 'invalid')}" if loc else str(first.get("msg", "invalid"))


class FluenceClient:
    """Typed access to the Fluence API over an injected `httpx.Client`.

    The httpx client carries base URL, auth header and timeout (see `build_client`);
    tests pass one with the simulator's transport or an `httpx.MockTransport`.
    `sleep` is how the client waits between retries, so tests control time.
    """

    def __init__(
        self,
        http: httpx.Client,
        *,
        retries: RetryPolicy | None = None,
        sleep: Callable[[float], None] = time.sleep,
        secret: Secret | None = None,
    ) -> None:
        self.http = http
        self.retries = retries if retries is not None else RetryPolicy()
        self.sleep = sleep
        self._secret = secret

    @property
    def secret(self) -> Secret | None:
        """The API key this client sends (a Secret: shows `***`), for log redaction."""
        return self._secret

    def __repr__(self) -> str:
        return f"FluenceClient(base_url={str(self.http.base_url)!r})"

    def close(self) -> None:
        self.http.close()

    def __enter__(self) -> FluenceClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- marketplace ---------------------------------------------------------------------

    def list_offers(self, constraints: Constraints | None = None) -> list[Offer]:
        """`POST /marketplace/offers`: offers matching `constraints` (all offers for None)."""
        body = constraints.wire() if constraints is not None else {}
        return self._call(
            "POST", "/marketplace/offers", _list_of(Offer, "offers"), json=body, idempotent=True
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
            _list_of(str, "basic_configurations", "basicConfigurations", "configurations"),
        )

    def countries(self) -> list[str]:
        """`GET /marketplace/countries`: ISO country codes with offers."""
        return self._call("GET", "/marketplace/countries", _list_of(str, "countries"))

    def hardware(self) -> Hardware:
        """`GET /marketplace/hardware`: CPU, memory and storage kinds on offer."""
        return self._call("GET", "/marketplace/hardware", _model(Hardware))

    def datacenters(self) -> list[Datacenter]:
        """`GET /v1/marketplace/datacenters`: known datacenters (shape parsed tolerantly)."""
        return self._call(
            "GET", "/v1/marketplace/datacenters", _list_of(Datacenter, "datacenters", "data")
        )

    # --- virtual machines ----------------------------------------------------------------

    def estimate(self, constraints: Constraints | None, instances: int) -> Estimate:
        """`POST /vms/v3/estimate`: the price of deploying `instances` VMs now, without
        committing. Raise NoMatchingOffers (422) when the constraints can't be met."""
        body: dict[str, Any] = {"instances": instances}
        body["constraints"] = constraints.wire() if constraints is not None else {}
        return self._call("POST", "/vms/v3/estimate", _model(Estimate), json=body, idempotent=True)

    def deploy(self, request: DeployRequest) -> list[DeployedVm]:
        """`POST /vms/v3`: deploy VMs. NEVER retried (not idempotent): after a transport
        error or a malformed answer the VMs may exist; find them by name."""
        return self._call(
            "POST", "/vms/v3", _list_of(DeployedVm, "vms", "deployed"), json=request.wire()
        )

    def list_vms(self) -> list[Vm]:
        """`GET /vms/v3`: every VM of the account, in any status."""
        return self._call("GET", "/vms/v3", _list_of(Vm, "vms"))

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
        self._call("PATCH", "/vms/v3", _ignore, json=body)

    def delete_vms(self, ids: Iterable[str]) -> None:
        """`DELETE /vms/v3`: stop VMs (or finalize Terminated ones). Never retried."""
        id_list = list(ids)
        if not id_list:
            return
        self._call("DELETE", "/vms/v3", _ignore, json={"vmIds": id_list})

    def default_images(self) -> list[DefaultImage]:
        """`GET /vms/v3/default_images`: OS images; use `download_url` as `os_image`."""
        return self._call(
            "GET", "/vms/v3/default_images", _list_of(DefaultImage, "images", "default_images")
        )

    # --- SSH keys ------------------------------------------------------------------------

    def ssh_keys(self) -> list[SshKey]:
        """`GET /ssh_keys`: the account's stored SSH keys."""
        return self._call("GET", "/ssh_keys", _list_of(SshKey, "ssh_keys", "sshKeys", "keys"))

    def add_ssh_key(self, name: str, public_key: str) -> SshKey | None:
        """`POST /ssh_keys`: store a key. Returns the stored key when the API echoes it."""
        return self._call(
            "POST",
            "/ssh_keys",
            _optional_model(SshKey),
            json={"name": name, "publicKey": public_key},
        )

    def remove_ssh_key(self, fingerprint: str) -> None:
        """`DELETE /ssh_keys`: remove the key with this fingerprint (`SHA256:...`)."""
        self._call("DELETE", "/ssh_keys", _ignore, json={"fingerprint": fingerprint})

    # --- plumbing ------------------------------------------------------------------------

    def _call(
        self,
        method: str,
        path: str,
        parse: Callable[[bytes], T],
        *,
        json: Any = None,
        params: Any = None,
        idempotent: bool = False,
    ) -> T:
        """Send one request (with retries when `idempotent` or a GET) and parse the body."""
        endpoint = f"{method} {path}"
        retryable = idempotent or method == "GET"
        max_retries = self.retries.max_retries if retryable else 0
        attempt = 0
        while True:
            try:
                response = self._send(method, path, endpoint, json=json, params=params)
                self._check_status(response, endpoint)
                try:
                    return parse(response.content)
                except BadResponse as err:
                    raise BadResponse(
                        err.message, endpoint=endpoint, status=response.status_code
                    ) from None
            except (RateLimited, ServerError, TransportError, BadResponse) as err:
                if isinstance(err, ServerError) and err.status not in RETRYABLE_STATUSES:
                    raise
                if attempt >= max_retries:
                    raise
                retry_after = getattr(err, "retry_after", None)
                delay = self.retries.delay(attempt, retry_after)
                log.warning(
                    "fluence.retry",
                    endpoint=endpoint,
                    attempt=attempt + 1,
                    max_retries=max_retries,
                    delay_s=round(delay, 3),
                    reason=err.message,
                )
                self.sleep(delay)
                attempt += 1

    def _send(
        self, method: str, path: str, endpoint: str, *, json: Any, params: Any
    ) -> httpx.Response:
        try:
            return self.http.request(method, path, json=json, params=params)
        except httpx.TimeoutException as e:
            raise TransportError(
                f"Fluence API timed out ({type(e).__name__})", endpoint=endpoint
            ) from None
        except httpx.TransportError as e:
            detail = clean_message(e, self._secret, limit=120) or type(e).__name__
            raise TransportError(
                f"cannot reach the Fluence API: {detail}", endpoint=endpoint
            ) from None

    def _check_status(self, response: httpx.Response, endpoint: str) -> None:
        """Raise the typed error for a non-2xx response (Retry-After parsed onto 429/503)."""
        status = response.status_code
        if status < 400:
            if status >= 300:
                raise ClientRequestError(
                    f"unexpected redirect ({status}); check api.base_url",
                    status=status,
                    endpoint=endpoint,
                )
            return
        detail = self._api_message(response)
        suffix = f": {detail}" if detail else ""
        retry_after = parse_retry_after(response.headers.get("Retry-After"))
        kw: dict[str, Any] = {"status": status, "endpoint": endpoint}
        if status in (401, 403):
            raise AuthError(f"Fluence API rejected the API key ({status}){suffix}", **kw)
        if status == 422:
            raise NoMatchingOffers(f"no matching offers ({status}){suffix}", **kw)
        if status == 429:
            raise RateLimited(f"rate limited ({status}){suffix}", retry_after=retry_after, **kw)
        if status >= 500:
            err = ServerError(f"Fluence API server error ({status}){suffix}", **kw)
            # Retry-After is honoured on 503 only (429 carries it in RateLimited)
            err.retry_after = retry_after if status == 503 else None  # type: ignore[attr-defined]
            raise err
        raise ClientRequestError(f"request rejected ({status}){suffix}", **kw)

    def _api_message(self, response: httpx.Response) -> str:
        """The API's `error` message from an error body (or a short body excerpt)."""
        raw = response.content[:4096]
        try:
            data = json.loads(raw)
        except (ValueError, UnicodeDecodeError):
            return clean_message(raw.decode("utf-8", "replace"), self._secret, limit=120)
        if isinstance(data, dict):
            msg = data.get("error") or data.get("message") or data.get("detail")
            if msg is not None:
                return clean_message(msg, self._secret)
        return ""


# --- response parsers ----------------------------------------------------------------------


def _decode(body: bytes) -> Any:
    try:
        return json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise BadResponse("malformed response: body is not JSON") from None


def _offer_list(body: bytes) -> bytes:
    """The body itself when it is a JSON list (bare or under `offers`); BadResponse (which
    is retried) otherwise. The items are the snapshot's to judge, one by one."""
    from optimizer.fluence.offer_listings import NotAnOfferList, offer_items

    try:
        offer_items(body)
    except NotAnOfferList as err:
        raise BadResponse(f"malformed response: {err}") from None
    return body


def _list_of(item: type[T], *wrappers: str) -> Callable[[bytes], list[T]]:
    adapter: TypeAdapter[list[T]] = TypeAdapter(list[item])  # type: ignore[valid-type]

    def parse(body: bytes) -> list[T]:
        data = _unwrap(_decode(body), *wrappers)
        try:
            return adapter.validate_python(data)
        except ValidationError as e:
            raise BadResponse(f"unexpected response shape: {_first_error(e)}") from None

    return parse


def _model(model: type[M]) -> Callable[[bytes], M]:
    def parse(body: bytes) -> M:
        try:
            return model.model_validate(_decode(body))
        except ValidationError as e:
            raise BadResponse(f"unexpected response shape: {_first_error(e)}") from None

    return parse


def _optional_model(model: type[M]) -> Callable[[bytes], M | None]:
    def parse(body: bytes) -> M | None:
        if not body.strip():
            return None
        try:
            data = json.loads(body)
            return model.model_validate(data)
        except (ValueError, UnicodeDecodeError, ValidationError):
            return None  # the call succeeded; an unexpected echo is not an error

    return parse


def _statuses(body: bytes) -> list[VmStatusEntry]:
    data = _unwrap(_decode(body), "statuses", "vms", "data")
    if not isinstance(data, list):
        raise BadResponse("unexpected response shape: expected a list of VM statuses")
    out = []
    for item in data:
        if isinstance(item, dict) and "id" not in item and "vmId" in item:
            item = {**item, "id": item["vmId"]}
        try:
            out.append(VmStatusEntry.model_validate(item))
        except ValidationError as e:
            raise BadResponse(f"unexpected response shape: {_first_error(e)}") from None
    return out


def _ignore(body: bytes) -> None:
    """For 204/empty or `{"transactions": [...]}` answers: nothing to return."""
    return None


# --- construction --------------------------------------------------------------------------


def auth_headers(api: ApiConfig, secret: Secret) -> dict[str, str]:
    """The auth header as configured: `Authorization: Bearer <key>` or `X-API-KEY: <key>`."""
    if api.auth_header == "x-api-key":
        return {"X-API-KEY": secret.reveal()}
    return {"Authorization": f"Bearer {secret.reveal()}"}


def build_client(
    api: ApiConfig,
    *,
    transport: httpx.BaseTransport | None = None,
    api_key: str | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> FluenceClient:
    """Build a FluenceClient from the `[api]` config section.

    Raise ConfigError for an unsafe base URL or key file, AuthError when no key is found.
    `transport` replaces the network (the simulator's in-process transport in tests).
    """
    base = validate_base_url(api.base_url)
    secret = resolve_api_key(api_key, api.key_file)
    seconds = api.timeout.total_seconds()
    headers = {
        **auth_headers(api, secret),
        "Accept": "application/json",
        "User-Agent": f"fluence-optimizer/{__version__}",
    }
    http = httpx.Client(
        base_url=base,
        headers=headers,
        timeout=httpx.Timeout(seconds, connect=min(seconds, 10.0)),
        transport=transport,
        follow_redirects=False,
    )
    return FluenceClient(
        http, retries=RetryPolicy(max_retries=api.max_retries), sleep=sleep, secret=secret
    )
