"""Retries: which calls, how often, how long (time controlled by an injected sleep)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import httpx
import pytest

from optimizer.config import ApiConfig
from optimizer.errors import NoMatchingOffers, RateLimited, ServerError, TransportError
from optimizer.fluence.client import FluenceClient, build_client
from optimizer.fluence.models import Constraints, DeployRequest, VmConfiguration, VmUpdate
from optimizer.fluence.retry import RetryPolicy, parse_retry_after

KEY = "sk-retry-test-key-0001"


class FlakyServer:
    """Answers `failures` error responses, then a success; counts calls."""

    def __init__(self, failures: list[httpx.Response], success: httpx.Response) -> None:
        self.failures = list(failures)
        self.success = success
        self.calls = 0

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.calls += 1
        if self.failures:
            return self.failures.pop(0)
        return self.success


def _client(server, *, max_retries: int = 4, rand=lambda: 1.0):  # type: ignore[no-untyped-def]
    sleeps: list[float] = []
    client = build_client(
        ApiConfig(base_url="https://api.example.test", max_retries=max_retries),
        transport=httpx.MockTransport(server),
        api_key=KEY,
        sleep=sleeps.append,
    )
    client.retries = RetryPolicy(max_retries=max_retries, base_delay=0.5, cap=30, rand=rand)
    return client, sleeps


def _err(status: int, **headers: str) -> httpx.Response:
    return httpx.Response(status, content=b'{"error": "try later"}', headers=headers)


OK_LIST = httpx.Response(200, content=b'["DE", "FR"]')


def test_backoff_grows_exponentially_until_success() -> None:
    server = FlakyServer([_err(500), _err(502), _err(504)], OK_LIST)
    client, sleeps = _client(server)
    assert client.countries() == ["DE", "FR"]
    assert server.calls == 4
    assert sleeps == [0.5, 1.0, 2.0]  # rand() = 1.0 → the full ceiling each time


def test_full_jitter_scales_the_ceiling() -> None:
    server = FlakyServer([_err(500), _err(500)], OK_LIST)
    client, sleeps = _client(server, rand=lambda: 0.25)
    client.countries()
    assert sleeps == [0.125, 0.25]


def test_backoff_is_capped() -> None:
    policy = RetryPolicy(base_delay=1, cap=5, rand=lambda: 1.0)
    assert [policy.backoff(n) for n in range(5)] == [1, 2, 4, 5, 5]


def test_retry_after_seconds_wins_over_backoff_on_429_and_503() -> None:
    server = FlakyServer(
        [_err(429, **{"Retry-After": "7"}), _err(503, **{"Retry-After": "3"}), _err(500)],
        OK_LIST,
    )
    client, sleeps = _client(server)
    client.countries()
    assert sleeps == [7.0, 3.0, 2.0]  # third failure has no hint: backoff for attempt 2


def test_retry_after_http_date_is_honoured() -> None:
    when = datetime.now(UTC) + timedelta(seconds=30)
    server = FlakyServer(
        [_err(429, **{"Retry-After": format_datetime(when, usegmt=True)})], OK_LIST
    )
    client, sleeps = _client(server)
    client.countries()
    assert 27 <= sleeps[0] <= 30


def test_parse_retry_after_variants() -> None:
    now = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
    assert parse_retry_after("5", now=now) == 5.0
    assert parse_retry_after(" 1.5 ", now=now) == 1.5
    assert parse_retry_after("-3", now=now) == 0.0
    assert parse_retry_after("Mon, 23 Nov 2026 12:00:10 GMT", now=now) == 10.0
    assert parse_retry_after("Mon, 23 Nov 2026 11:00:00 GMT", now=now) == 0.0
    assert parse_retry_after("soon", now=now) is None
    assert parse_retry_after(None) is None
    assert parse_retry_after("nan") is None


def test_huge_retry_after_is_capped() -> None:
    server = FlakyServer([_err(429, **{"Retry-After": "86400"})], OK_LIST)
    client, sleeps = _client(server)
    client.countries()
    assert sleeps == [client.retries.max_retry_after]


def test_gives_up_after_max_retries_with_the_last_error() -> None:
    server = FlakyServer([_err(503)] * 10, OK_LIST)
    client, sleeps = _client(server, max_retries=2)
    with pytest.raises(ServerError, match="503"):
        client.list_offers(Constraints())
    assert server.calls == 3
    assert len(sleeps) == 2


def test_rate_limit_exhausted_raises_rate_limited() -> None:
    server = FlakyServer([_err(429, **{"Retry-After": "1"})] * 5, OK_LIST)
    client, _ = _client(server, max_retries=1)
    with pytest.raises(RateLimited):
        client.countries()


def test_transport_errors_and_malformed_bodies_are_retried_for_reads() -> None:
    state = {"n": 0}

    def handler(request: httpx.Request) -> httpx.Response:
        state["n"] += 1
        if state["n"] == 1:
            raise httpx.ConnectTimeout("timed out", request=request)
        if state["n"] == 2:
            return httpx.Response(200, content=b'{"broken')
        return httpx.Response(
            200,
            content=json.dumps(
                {
                    "depositAmountUsdc": "2",
                    "totalPricePerEpoch": "1",
                    "maxPricePerEpoch": "1",
                    "instances": 1,
                }
            ).encode(),
        )

    client, sleeps = _client(handler)
    est = client.estimate(Constraints(), 1)
    assert est.instances == 1
    assert len(sleeps) == 2


def test_422_and_other_4xx_are_not_retried() -> None:
    server = FlakyServer([_err(422)] * 5, OK_LIST)
    client, sleeps = _client(server)
    with pytest.raises(NoMatchingOffers):
        client.estimate(Constraints(), 1)
    assert server.calls == 1 and sleeps == []


def _deploy_request() -> DeployRequest:
    return DeployRequest(
        instances=1,
        vm_configuration=VmConfiguration(
            name="web-abc", os_image="https://x/img.qcow2", ssh_keys=["k"]
        ),
    )


@pytest.mark.parametrize(
    "call",
    [
        pytest.param(lambda c: c.deploy(_deploy_request()), id="deploy"),
        pytest.param(lambda c: c.patch_vms([VmUpdate(id="0x1", vm_name="n")]), id="patch"),
        pytest.param(lambda c: c.delete_vms(["0x1"]), id="delete"),
        pytest.param(lambda c: c.add_ssh_key("k", "ssh-ed25519 AAAA"), id="add-key"),
        pytest.param(lambda c: c.remove_ssh_key("SHA256:x"), id="remove-key"),
    ],
)
@pytest.mark.parametrize(
    "failure",
    [
        pytest.param(lambda: _err(503, **{"Retry-After": "1"}), id="503"),
        pytest.param(lambda: _err(429, **{"Retry-After": "1"}), id="429"),
        pytest.param(None, id="timeout"),
    ],
)
def test_mutating_calls_are_never_retried(call, failure) -> None:  # type: ignore[no-untyped-def]
    """Deploy is not idempotent: a retried deploy can create VMs twice. Patch, delete and
    SSH-key changes are left to the caller too."""
    calls = {"n": 0}

    def handler(request: httpx.Request) -> httpx.Response:
        calls["n"] += 1
        if failure is None:
            raise httpx.ReadTimeout("timed out", request=request)
        return failure()

    client, sleeps = _client(handler)
    with pytest.raises((ServerError, RateLimited, TransportError)):
        call(client)
    assert calls["n"] == 1
    assert sleeps == []


def test_default_client_construction_uses_real_sleep_and_policy() -> None:
    client = FluenceClient(httpx.Client(base_url="https://x.test"))
    assert client.retries.max_retries == 4
    assert "x.test" in repr(client)
