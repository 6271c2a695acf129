"""Which API generation the server speaks, and the client for it.

    api = connect(config.api)        # a FluenceApi: marketplace-v3 or cloud
    api.generation                   # for logs and --verbose only

`[api] generation` (or `--api-generation`) names it; `auto` (the default) asks the
server once, before anything else, with a cheap read of the seeds' API:
`GET /marketplace/countries`.
- 2xx: marketplace-v3 (the seeds' API);
- 404 or 405: that path is not routed, so the cloud generation (Fluence's published
  API) — confirmed with `GET /v1/clusters`; when that is not routed either, the server
  speaks neither and a ConfigError says so;
- 401/403: the key is refused (AuthError, exit 3) — whichever generation it is;
- anything else (unreachable, 5xx after retries): that error, nothing guessed.
The probes send the key both ways the generations accept it (`X-API-KEY`). The result is
logged (`log_generation`: the daemon once it holds its lock, the CLI with `--verbose`)
and kept for the life of the client: there is no fallback to the other generation
mid-run.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, Literal

import httpx
import structlog

from optimizer.billing import BillingModel
from optimizer.config import ApiConfig
from optimizer.errors import ClientRequestError, ConfigError
from optimizer.fluence.api import FluenceApi
from optimizer.fluence.client import FluenceClient, auth_headers, http_client
from optimizer.fluence.cloud.client import CloudClient
from optimizer.fluence.credentials import Secret, resolve_api_key
from optimizer.fluence.http import ignore, validate_base_url
from optimizer.fluence.retry import RetryPolicy

log = structlog.get_logger("optimizer.fluence")

Generation = Literal["marketplace-v3", "cloud"]
PROBE = "/marketplace/countries"


def billing_of(generation: str) -> BillingModel | None:
    """How the generation `[api] generation` names charges, without connecting (None for
    "auto": unknown until the server is asked)."""
    if generation == "cloud":
        from optimizer.fluence.cloud.adapter import CloudApi

        return CloudApi.billing
    return FluenceClient.billing if generation == "marketplace-v3" else None


def sets_ports(generation: str) -> bool | None:
    """Whether the generation `[api] generation` names applies a fleet's `open_ports`
    (None for "auto": unknown until the server is asked)."""
    if generation == "cloud":
        from optimizer.fluence.cloud.adapter import CloudApi

        return CloudApi.sets_ports
    return FluenceClient.sets_ports if generation == "marketplace-v3" else None


def cloud_auth_headers(api: ApiConfig, secret: Secret) -> dict[str, str]:
    """The spec's API-key scheme: `X-API-KEY: <key>`, and `Authorization: X-API-KEY <key>`
    as the spec's intro and Fluence's own Terraform provider send it. `auth_header =
    "bearer"` (for a Fluence-issued token) sends `Authorization: Bearer` instead."""
    key = secret.reveal()
    if api.auth_header == "bearer":
        return {"Authorization": f"Bearer {key}"}
    return {"X-API-KEY": key, "Authorization": f"X-API-KEY {key}"}


def connect(
    api: ApiConfig,
    *,
    transport: httpx.BaseTransport | None = None,
    api_key: str | Secret | None = None,
    sleep: Callable[[float], None] = time.sleep,
    generation: str | None = None,
    defer: bool = False,
) -> FluenceApi:
    """The client for the generation `generation` (default `api.generation`) names, or
    the one the server speaks when that is `auto`.

    `defer=True` (the daemon) asks the server on the first call instead of now, so an
    API that is down at start fails that call (one cycle), not the start; once answered,
    the generation is kept. Raise ConfigError for an unsafe base URL or key file,
    AuthError when no key is found or the server refuses it, the ApiError of the probe
    when it fails otherwise.
    """
    validate_base_url(api.base_url)
    secret = resolve_api_key(api_key, api.key_file)
    wanted = generation or api.generation
    retries = RetryPolicy(max_retries=api.max_retries)
    http = http_client(api, cloud_auth_headers(api, secret), transport)
    cloud = CloudClient(http, retries=retries, sleep=sleep, secret=secret)
    if wanted == "auto" and defer:
        return _Deferred(lambda: _choose(api, cloud, detect(cloud), "detected"), cloud)
    try:
        if wanted == "auto":
            return _choose(api, cloud, detect(cloud), "detected")
    except BaseException:
        http.close()
        raise
    return _choose(api, cloud, "cloud" if wanted == "cloud" else "marketplace-v3", "configured")


def _choose(api: ApiConfig, cloud: CloudClient, found: Generation, how: str) -> FluenceApi:
    """The adapter for `found`, on the probing client's connection."""
    if found == "cloud":
        # imported here: a marketplace-v3 client never needs the cloud adapter's modules
        from optimizer.fluence.cloud.adapter import CloudApi

        api_cloud = CloudApi(cloud)
        api_cloud.generation_source = how
        return api_cloud
    # marketplace-v3: same connection, its own auth header
    http, secret = cloud.http, cloud.secret
    assert secret is not None
    for name in ("X-API-KEY", "Authorization"):
        http.headers.pop(name, None)
    http.headers.update(auth_headers(api, secret))
    v3 = FluenceClient(http, retries=cloud.retries, sleep=cloud.sleep, secret=secret)
    v3.generation_source = how
    if how == "detected":
        v3.not_found_hint = (
            f"the server was detected as marketplace-v3 (it answers GET {PROBE}) but does "
            "not serve this path; check api.base_url or set [api] generation"
        )
    return v3


class _Deferred:
    """`FluenceApi` whose generation is asked on the first call (then logged and kept);
    a first call that fails leaves the question open for the next one."""

    generation = "auto"
    generation_source = "not yet detected"

    def __init__(self, choose: Callable[[], FluenceApi], cloud: CloudClient) -> None:
        self._choose = choose
        self._cloud = cloud
        self._api: FluenceApi | None = None

    @property
    def secret(self) -> Secret | None:
        return self._cloud.secret

    def close(self) -> None:
        self._cloud.close()

    def __repr__(self) -> str:
        return f"FluenceApi(generation={self.generation}, {self._cloud!r})"

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        if self._api is None:
            self._api = self._choose()
            self.generation = self._api.generation
            self.generation_source = self._api.generation_source
            log_generation(self._api)
        return getattr(self._api, name)


def log_generation(api: object) -> None:
    """Say which generation a client from `connect` speaks and how that was decided
    (`fluence.generation`, level info: the daemon's log, the CLI's `--verbose`)."""
    log.info(
        "fluence.generation",
        generation=getattr(api, "generation", "?"),
        how=getattr(api, "generation_source", "configured"),
    )


def detect(cloud: CloudClient) -> Generation:
    """Ask the server once which generation it speaks (see the module docstring)."""
    try:
        cloud._call("GET", PROBE, ignore)
        return "marketplace-v3"
    except ClientRequestError as err:
        if err.status not in (404, 405):
            raise
    try:
        cloud.probe()
    except ClientRequestError as err:
        if err.status not in (404, 405):
            raise
        raise ConfigError(
            f"api.base_url: {cloud.http.base_url} answers neither API generation "
            f"(GET {PROBE} and GET /v1/clusters: {err.status}); check the URL"
        ) from None
    return "cloud"
