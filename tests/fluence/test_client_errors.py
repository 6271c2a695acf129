"""Error mapping, auth header variants and base-URL rules of the Fluence client, over
httpx.MockTransport (a fake *server*, not a mock of our own code)."""

from __future__ import annotations

import json
from datetime import timedelta

import httpx
import pytest

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
from optimizer.fluence.client import build_client, clean_message, validate_base_url
from optimizer.fluence.models import Constraints

KEY = "sk-test-7f3a9c1e5b2d4f60"


def _client(handler, **api_kw):  # type: ignore[no-untyped-def]
    api = ApiConfig(base_url="https://api.example.test", max_retries=0, **api_kw)
    return build_client(api, transport=httpx.MockTransport(handler), api_key=KEY)


def _json(status: int, body: object, **headers: str) -> httpx.Response:
    return httpx.Response(status, content=json.dumps(body).encode(), headers=headers)


@pytest.mark.parametrize(
    ("auth_header", "name", "value"),
    [("bearer", "authorization", f"Bearer {KEY}"), ("x-api-key", "x-api-key", KEY)],
)
def test_auth_header_follows_config(auth_header: str, name: str, value: str) -> None:
    """Bearer by default; `api.auth_header = "x-api-key"` sends X-API-KEY instead."""
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return _json(200, ["DE"])

    assert _client(handler, auth_header=auth_header).countries() == ["DE"]
    assert seen[0].headers[name] == value
    other = "x-api-key" if name == "authorization" else "authorization"
    assert other not in seen[0].headers


@pytest.mark.parametrize(
    ("status", "exc", "exit_code"),
    [
        (401, AuthError, 3),
        (403, AuthError, 3),
        (422, NoMatchingOffers, 1),
        (429, RateLimited, 4),
        (500, ServerError, 4),
        (502, ServerError, 4),
        (503, ServerError, 4),
        (400, ClientRequestError, 1),
        (404, ClientRequestError, 1),
    ],
)
def test_status_codes_map_to_typed_errors_with_the_api_message(
    status: int, exc: type[Exception], exit_code: int
) -> None:
    client = _client(lambda r: _json(status, {"error": "Not enough offers found"}))
    with pytest.raises(exc) as info:
        client.estimate(Constraints(), 3)
    err = info.value
    assert err.exit_code == exit_code  # type: ignore[attr-defined]
    assert err.status == status  # type: ignore[attr-defined]
    assert err.endpoint == "POST /vms/v3/estimate"  # type: ignore[attr-defined]
    assert "Not enough offers found" in str(err)
    assert "POST /vms/v3/estimate" in str(err)


def test_rate_limited_carries_retry_after() -> None:
    client = _client(lambda r: _json(429, {"error": "slow down"}, **{"Retry-After": "7"}))
    with pytest.raises(RateLimited) as info:
        client.countries()
    assert info.value.retry_after == 7.0


def test_hostile_error_message_is_cleaned_and_truncated() -> None:
    """Control characters (ANSI escapes, newlines) are stripped and long text truncated,
    so the CLI's one error line stays one line."""
    evil = "\x1b[31mboom\x1b[0m\nsecond line\r" + "x" * 1000
    client = _client(lambda r: _json(500, {"error": evil}))
    with pytest.raises(ServerError) as info:
        client.countries()
    text = str(info.value)
    assert "\x1b" not in text and "\n" not in text and "\r" not in text
    assert "boom" in text and "second line" in text
    assert len(text) < 400


def test_server_echoing_the_key_never_leaks_it() -> None:
    client = _client(lambda r: _json(403, {"error": f"invalid key {KEY}"}))
    with pytest.raises(AuthError) as info:
        client.list_vms()
    assert KEY not in str(info.value)
    assert KEY not in repr(info.value)
    assert "***" in str(info.value)


def test_timeout_and_connection_errors_become_transport_errors() -> None:
    def timeout(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("read timed out", request=request)

    def refused(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("[Errno 111] Connection refused", request=request)

    with pytest.raises(TransportError, match="timed out"):
        _client(timeout).list_vms()
    with pytest.raises(TransportError, match="Connection refused") as info:
        _client(refused).list_vms()
    assert info.value.exit_code == 4


@pytest.mark.parametrize(
    "body",
    [b"<html>502 Bad Gateway</html>", b'{"truncated": ', b'{"cpu": "not a list"}', b"42"],
)
def test_malformed_bodies_raise_bad_response(body: bytes) -> None:
    client = _client(lambda r: httpx.Response(200, content=body))
    with pytest.raises(BadResponse) as info:
        client.hardware()
    assert info.value.endpoint == "GET /marketplace/hardware"


def test_wrong_shape_of_offers_is_a_bad_response_naming_the_field() -> None:
    client = _client(lambda r: _json(200, [{"configuration": {"slug": "x", "price": "abc"}}]))
    with pytest.raises(BadResponse, match=r"configuration\.price"):
        client.list_offers()


def test_tolerant_variants_are_accepted() -> None:
    """Wrapped lists, `vmId` instead of `id`, empty DELETE bodies, unknown fields."""
    routes = {
        ("GET", "/marketplace/basic_configurations"): _json(
            200, {"basic_configurations": ["cpu-2-ram-4gb-storage-25gb"]}
        ),
        ("GET", "/vms/v3/status"): _json(
            200, {"statuses": [{"vmId": "0x1", "status": "Active", "publicIp": "1.2.3.4"}]}
        ),
        ("DELETE", "/vms/v3"): httpx.Response(200, content=b""),
        ("PATCH", "/vms/v3"): httpx.Response(204),
        ("GET", "/v1/marketplace/datacenters"): _json(
            200, [{"id": 9, "countryCode": "FR", "cityCode": "PAR", "cityIndex": 1, "new": 1}]
        ),
    }
    client = _client(lambda r: routes[(r.method, r.url.path)])
    assert client.basic_configurations() == ["cpu-2-ram-4gb-storage-25gb"]
    [st] = client.vm_status(["0x1"])
    assert (st.id, st.status, st.public_ip) == ("0x1", "Active", "1.2.3.4")
    assert client.delete_vms(["0x1"]) is None
    assert client.patch_vms([]) is None
    [dc] = client.datacenters()
    assert dc.label == "FR-PAR-1"

    routes[("DELETE", "/vms/v3")] = _json(200, {"transactions": ["0xabc"]})
    routes[("GET", "/vms/v3/status")] = _json(200, [{"id": "0x1", "status": "New"}])
    assert client.delete_vms(["0x1"]) is None
    assert client.vm_status(["0x1"])[0].public_ip is None


def test_requests_carry_json_bodies_and_ids() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, content=b"[]")

    client = _client(handler)
    client.list_offers()
    client.delete_vms(["0xa", "0xb"])
    client.vm_status(["0xa", "0xb"])
    assert json.loads(seen[0].content) == {}
    assert seen[0].headers["content-type"] == "application/json"
    assert json.loads(seen[1].content) == {"vmIds": ["0xa", "0xb"]}
    assert seen[1].headers["content-type"] == "application/json"
    assert seen[2].url.params.get_list("ids") == ["0xa", "0xb"]


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8787",
        "http://127.3.4.5",
        "http://localhost:9000/api",
        "http://[::1]:8787",
        "https://api.fluence.dev",
    ],
)
def test_https_or_loopback_http_is_accepted(url: str) -> None:
    assert validate_base_url(url).host


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("http://api.fluence.dev", "plain http:// is only allowed for loopback hosts"),
        ("http://10.0.0.1:8787", "plain http:// is only allowed for loopback hosts"),
        ("http://127.0.0.1.evil.com", "plain http:// is only allowed for loopback hosts"),
        ("ftp://api.fluence.dev", "is not an http(s) URL"),
        ("api.fluence.dev", "is not an http(s) URL"),
        ("https://user:pw@api.fluence.dev", "must not contain a user name"),
    ],
)
def test_unsafe_base_urls_are_config_errors(url: str, message: str) -> None:
    with pytest.raises(ConfigError) as info:
        build_client(ApiConfig(base_url=url), api_key=KEY)
    assert str(info.value).startswith("api.base_url:")
    assert message in str(info.value)
    assert info.value.exit_code == 2


def test_timeout_is_explicit_on_every_call() -> None:
    seen: list[dict] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.extensions["timeout"])
        return _json(200, [])

    _client(handler, timeout=timedelta(seconds=3)).countries()
    assert seen[0]["read"] == 3.0 and seen[0]["connect"] == 3.0


def test_clean_message_keeps_plain_text() -> None:
    assert clean_message("No suitable offer found") == "No suitable offer found"
