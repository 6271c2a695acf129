"""Auth, error bodies, fault injection and the HTTP carrier of the cloud face."""

from __future__ import annotations

import httpx
import pytest

from optimizer.sim import Simulator, start_server
from tests.sim.cloud.conftest import code, items, want


@pytest.mark.parametrize(
    "headers",
    [{}, {"X-API-KEY": "wrong"}, {"Authorization": "Bearer KEY"}],
)
def test_missing_or_bad_key_is_401_with_code(
    spec: str, sim: Simulator, headers: dict[str, str]
) -> None:
    h = {k: v.replace("KEY", sim.api_key) for k, v in headers.items()}
    client = httpx.Client(base_url="http://sim.local", transport=sim.transport("cloud"), headers=h)
    r = client.get("/v2/vms")
    assert r.status_code == 401
    assert code(r) == want(spec, "unauthorized")
    assert r.json()["error"] == "Auth failed. No such API Key"


def test_both_key_headers_of_the_specs_work(sim: Simulator) -> None:
    for h in ({"X-Api-Key": sim.api_key}, {"Authorization": f"X-API-KEY {sim.api_key}"}):
        client = httpx.Client(base_url="http://sim.local", transport=sim.transport("cloud"),
                              headers=h)  # fmt: skip
        assert client.get("/v1/clusters").status_code == 200


def test_service_status_needs_no_key(sim: Simulator, spec: str) -> None:
    client = httpx.Client(base_url="http://sim.local", transport=sim.transport("cloud"))
    assert client.get("/v1/service/status").json() == {"maintenanceMode": False, "version": spec}


def test_the_v3_paths_are_not_served_by_the_cloud_face(spec: str, http: httpx.Client) -> None:
    r = http.post("/marketplace/offers", json={})
    assert r.status_code == 404 and code(r) == want(spec, "not_found")


def test_bad_json_is_400_and_wrong_fields_422(spec: str, http: httpx.Client) -> None:
    r = http.post("/v2/vms", content=b"{nope", headers={"content-type": "application/json"})
    assert r.status_code == 400 and code(r) == want(spec, "bad_request")
    r = http.post("/v2/vms", json={"name": 3})
    assert r.status_code == 422 and code(r) == want(spec, "unprocessable_entity")


def test_forced_faults_use_cloud_endpoint_names(
    spec: str, sim: Simulator, http: httpx.Client
) -> None:
    sim.faults.force_next("cloud.list_vms", "server_error")
    sim.faults.force_next("cloud.list_vms", "rate_limit")
    r = http.get("/v2/vms")
    assert r.status_code == 503 and code(r) == want(spec, "service_unavailable")
    r = http.get("/v2/vms")
    assert r.status_code == 429 and r.headers["retry-after"] == "1"
    assert http.get("/v2/vms").status_code == 200
    sim.faults.force_next("cloud.clusters", "timeout")
    with pytest.raises(httpx.ReadTimeout):
        http.get("/v1/clusters")
    with pytest.raises(ValueError, match="unknown endpoint"):
        sim.faults.force_next("cloud.nope", "timeout")


def test_lost_response_on_create_still_creates(sim: Simulator, http: httpx.Client) -> None:
    from tests.sim.cloud.conftest import Cloud, vm_body

    cloud = Cloud(sim)
    cluster, conf = cloud.first_point()
    body = vm_body(cluster, conf, "lost-1", [cloud.key_id()])
    sim.faults.force_next("cloud.create_vm", "lost_response")
    with pytest.raises(httpx.ReadTimeout):
        http.post("/v2/vms", json=body)
    found = http.get("/v2/vms", params={"name": "lost-1"}).json()["items"]
    assert len(found) == 1  # listing by name tells that it happened


@pytest.mark.http
def test_cloud_face_over_loopback_http(sim: Simulator) -> None:
    headers = {"X-API-KEY": sim.api_key}
    with (
        start_server(sim, api="cloud") as server,
        httpx.Client(base_url=server.url, headers=headers) as client,
    ):
        assert len(items(client.get("/v1/clusters").json())) == len(sim.market.datacenters)
        assert client.get("/vms/v3").status_code == 404
    # the same world still has its v3 face
    with start_server(sim) as v3, httpx.Client(base_url=v3.url, headers=headers) as client:
        assert client.get("/vms/v3").status_code == 200


def test_garbage_faults_answer_200_with_a_bad_body(sim: Simulator, http: httpx.Client) -> None:
    """malformed: not JSON; wrong_shape: JSON of another shape; reset: the connection drops."""
    sim.faults.force_next("cloud.prices_vm", "malformed")
    r = http.get("/v1/prices/vm")
    assert r.status_code == 200
    with pytest.raises(ValueError):
        r.json()
    sim.faults.force_next("cloud.list_ssh_keys", "wrong_shape")
    assert http.get("/v1/ssh_keys").json() == {"data": None, "message": "ok"}
    sim.faults.force_next("cloud.balances", "reset")
    with pytest.raises(httpx.ReadError):
        http.get("/v2/users/balances")


def test_a_fault_rate_spreads_over_cloud_endpoints() -> None:
    from optimizer.sim import FaultConfig

    weights = {"server_error": 1.0, "rate_limit": 1.0}
    sim = Simulator(seed=7, faults=FaultConfig(rate=0.3, weights=weights))
    http = sim.http_client(api="cloud")
    statuses = [http.get("/v1/clusters").status_code for _ in range(60)]
    assert 200 in statuses and ({429, 503} & set(statuses))
    assert {ep for ep, _ in sim.faults.log} == {"cloud.clusters"}
