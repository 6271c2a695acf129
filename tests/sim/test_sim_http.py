"""The simulator as a real HTTP server on loopback, driven by the project's client."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import httpx
import pytest

from optimizer.config import ApiConfig
from optimizer.errors import AuthError, NoMatchingOffers, TransportError
from optimizer.fluence.client import FluenceClient, build_client
from optimizer.fluence.models import Constraints, DeployRequest, VmConfiguration
from optimizer.fluence.retry import NO_RETRIES
from optimizer.sim import FaultConfig, SimServer, Simulator, start_server

pytestmark = pytest.mark.http
ROOT = Path(__file__).resolve().parents[2]

KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl t@x"


@pytest.fixture
def sim() -> Simulator:
    return Simulator(seed=7, faults=FaultConfig(timeout_sleep=1.0))


@pytest.fixture
def server(sim: Simulator) -> Iterator[SimServer]:
    with start_server(sim) as srv:
        yield srv


def test_client_round_trip_over_loopback(sim: Simulator, server: SimServer) -> None:
    with build_client(ApiConfig(base_url=server.url), api_key=sim.api_key) as client:
        check_round_trip(sim, client)


def check_round_trip(sim: Simulator, client: FluenceClient) -> None:
    offers = client.list_offers(Constraints())
    assert len(offers) == 80
    est = client.estimate(Constraints(basic_configuration="cpu-2-ram-4gb-storage-25gb"), 2)
    image = client.default_images()[0].download_url
    req = DeployRequest(
        constraints=Constraints(basic_configuration="cpu-2-ram-4gb-storage-25gb"),
        instances=2,
        vm_configuration=VmConfiguration(name="http-1", os_image=image, ssh_keys=[KEY]),
    )
    deployed = client.deploy(req)
    assert [d.vm_name for d in deployed] == ["http-1", "http-1"]
    listed = client.list_vms()
    assert sum(v.price_per_epoch for v in listed) == est.total_price_per_epoch
    sim.advance(timedelta(minutes=10))
    st = client.vm_status([d.vm_id for d in deployed])
    assert {s.status for s in st} == {"Active"} and all(s.public_ip for s in st)
    client.delete_vms([deployed[0].vm_id])
    assert {v.id: v.status for v in client.list_vms()}[deployed[0].vm_id] == "Stopped"
    with pytest.raises(NoMatchingOffers):
        client.estimate(Constraints(max_total_price_per_epoch_usd="0.0001"), 1)


def test_wrong_key_over_http_is_an_auth_error(server: SimServer) -> None:
    with (
        build_client(ApiConfig(base_url=server.url), api_key="not-the-key") as client,
        pytest.raises(AuthError),
    ):
        client.countries()


def test_reset_and_timeout_faults_fail_the_connection(sim: Simulator, server: SimServer) -> None:
    with httpx.Client(base_url=server.url, headers={"X-API-KEY": sim.api_key}, timeout=0.3) as http:
        sim.faults.force_next("countries", "reset")
        with pytest.raises(httpx.TransportError):
            http.get("/marketplace/countries")
        sim.faults.force_next("countries", "timeout")
        with pytest.raises(httpx.ReadTimeout):
            http.get("/marketplace/countries")
        assert http.get("/marketplace/countries").status_code == 200
    with build_client(ApiConfig(base_url=server.url), api_key=sim.api_key) as client:
        client.retries = NO_RETRIES
        sim.faults.force_next("countries", "reset")
        with pytest.raises(TransportError):
            client.countries()


def test_concurrent_requests_are_served_consistently(sim: Simulator, server: SimServer) -> None:
    from concurrent.futures import ThreadPoolExecutor

    def deploy(i: int) -> int:
        body = {"instances": 1, "vmConfiguration": {"name": f"c-{i}", "sshKeys": [KEY],
                "osImage": "https://example.com/disk.qcow2"}}  # fmt: skip
        with httpx.Client(base_url=server.url, headers={"X-API-KEY": sim.api_key}) as http:
            return http.post("/vms/v3", json=body).status_code

    with ThreadPoolExecutor(8) as pool:
        codes = list(pool.map(deploy, range(16)))
    assert codes == [200] * 16
    assert len({vm.id for vm in sim.vms.values()}) == 16


def test_sim_serve_command_prints_key_and_stops_cleanly_on_sigterm() -> None:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "optimizer", "sim", "serve", "--port", "0", "--seed", "3",
         "--key", "k-test-1", "--speed", "60"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=ROOT,
    )  # fmt: skip
    try:
        first = proc.stdout.readline()  # type: ignore[union-attr]
        key_line = proc.stdout.readline()  # type: ignore[union-attr]
        assert "listening on http://127.0.0.1:" in first
        assert key_line.strip() == "API key: k-test-1"
        url = first.split("listening on ")[1].split()[0]
        r = httpx.get(f"{url}/marketplace/countries", headers={"Authorization": "Bearer k-test-1"})
        assert r.status_code == 200 and "DE" in r.json()
        proc.send_signal(signal.SIGTERM)
        rest, err = proc.communicate(timeout=10)
        assert proc.returncode == 0, err
        assert "simulator stopped" in rest
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.communicate()


def test_sim_serve_rejects_a_non_loopback_host() -> None:
    t0 = time.monotonic()
    out = subprocess.run(
        [sys.executable, "-m", "optimizer", "sim", "serve", "--host", "0.0.0.0"],
        capture_output=True, text=True, timeout=30, cwd=ROOT,
    )  # fmt: skip
    assert out.returncode == 2
    assert out.stderr.strip().startswith("error: --host")
    assert time.monotonic() - t0 < 30
