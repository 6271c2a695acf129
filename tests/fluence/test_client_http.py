"""The client over real HTTP on loopback, against the simulator's server."""

from __future__ import annotations

import base64
import logging
from collections.abc import Iterator
from datetime import timedelta

import pytest
from structlog.testing import capture_logs

from optimizer.config import ApiConfig
from optimizer.errors import AuthError, TransportError
from optimizer.fluence.client import FluenceClient, build_client
from optimizer.fluence.models import Constraints, DeployRequest, VmConfiguration
from optimizer.fluence.retry import RetryPolicy
from optimizer.sim import SimServer, Simulator, start_server

pytestmark = pytest.mark.http

PUBKEY = "ssh-ed25519 " + base64.b64encode(b"\x00\x00\x00\x0bssh-ed25519" + bytes(32)).decode()
IMAGE = "https://cloud.debian.org/images/cloud/bookworm/latest/debian-12-genericcloud-amd64.qcow2"


@pytest.fixture
def sim() -> Simulator:
    return Simulator(seed=3, offers=60)


@pytest.fixture
def server(sim: Simulator) -> Iterator[SimServer]:
    with start_server(sim) as srv:
        yield srv


_open: list[FluenceClient] = []


@pytest.fixture(autouse=True)
def _close_clients() -> Iterator[None]:
    """Close every client a test made (open sockets would be ResourceWarnings)."""
    yield
    while _open:
        _open.pop().close()


def _client(server: SimServer, key: str, **api: object) -> tuple[FluenceClient, list[float]]:
    sleeps: list[float] = []
    c = build_client(
        ApiConfig(base_url=server.url, **api),  # type: ignore[arg-type]
        api_key=key,
        sleep=sleeps.append,
    )
    c.retries = RetryPolicy(max_retries=2, base_delay=0.1, rand=lambda: 1.0)
    _open.append(c)
    return c, sleeps


@pytest.mark.parametrize("header", ["bearer", "x-api-key"])
def test_endpoints_over_http(server: SimServer, sim: Simulator, header: str) -> None:
    client, _ = _client(server, sim.api_key, auth_header=header)
    with client:
        offers = client.list_offers()
        assert offers
        assert client.basic_configurations()
        assert client.countries()
        assert client.hardware().cpu
        assert client.datacenters()
        assert client.default_images()
        est = client.estimate(Constraints(), 1)
        assert est.total_price_per_epoch == min(o.price for o in offers)
        [vm] = client.deploy(
            DeployRequest(
                vm_configuration=VmConfiguration(name="http-1", os_image=IMAGE, ssh_keys=[PUBKEY])
            )
        )
        sim.advance(timedelta(hours=1))
        [st] = client.vm_status([vm.vm_id])
        assert st.status == "Active" and st.public_ip
        assert [v.vm_name for v in client.list_vms()] == ["http-1"]
        client.delete_vms([vm.vm_id])
        assert client.add_ssh_key("ops", PUBKEY) is not None
        assert [k.name for k in client.ssh_keys()] == ["ops"]


def test_wrong_key_over_http_is_an_auth_error(server: SimServer) -> None:
    client, sleeps = _client(server, "sk-not-the-key-0000")
    with pytest.raises(AuthError) as info:
        client.countries()
    assert info.value.status == 403 and sleeps == []


def test_a_server_that_does_not_answer_in_time_is_a_timeout(
    server: SimServer, sim: Simulator
) -> None:
    sim.faults.config.timeout_sleep = 1.0
    client, sleeps = _client(server, sim.api_key, timeout="0.3s")
    sim.faults.force_next("countries", "timeout")
    assert client.countries()  # retried after the timeout
    assert sleeps == [0.1]
    sim.faults.force_next("countries", "timeout", times=3)
    with pytest.raises(TransportError, match="timed out"):
        client.countries()


def test_connection_reset_is_retried(server: SimServer, sim: Simulator) -> None:
    client, sleeps = _client(server, sim.api_key)
    sim.faults.force_next("offers", "reset")
    assert client.list_offers()
    assert sleeps == [0.1]


def test_key_never_reaches_http_debug_logs(
    server: SimServer, sim: Simulator, caplog: pytest.LogCaptureFixture
) -> None:
    """httpx/httpcore debug logging over a real socket, plus our own retry warnings."""
    caplog.set_level(logging.DEBUG)
    client, _ = _client(server, sim.api_key)
    sim.faults.force_next("countries", "server_error")
    with capture_logs() as logs:
        client.countries()
        client.list_offers()
    assert logs  # the retry was logged
    assert "httpcore" in caplog.text or "httpx" in caplog.text  # debug logging did run
    assert sim.api_key not in caplog.text
    assert sim.api_key not in repr(logs)


def test_a_plain_http_client_loads_no_ca_bundle_yet_would_verify() -> None:
    """A loopback http:// base URL speaks no TLS: its client skips loading the CA bundle
    (start-up time) with a context that still requires a verified certificate, so an
    https request through it could fail but never go unverified. An https base URL gets
    the CA bundle."""
    import ssl

    from optimizer.fluence.client import http_client

    def context(url: str) -> ssl.SSLContext:
        http = http_client(ApiConfig(base_url=url), {}, None)
        ctx = http._transport._pool._ssl_context  # type: ignore[attr-defined]
        http.close()
        assert isinstance(ctx, ssl.SSLContext)
        return ctx

    plain = context("http://127.0.0.1:9")
    assert plain.verify_mode == ssl.CERT_REQUIRED and plain.check_hostname
    assert plain.cert_store_stats()["x509_ca"] == 0
    assert context("https://api.fluence.dev").cert_store_stats()["x509_ca"] > 0
