"""Auth and fault injection of the simulator (in-process transport)."""

from __future__ import annotations

import httpx
import pytest

from optimizer.sim import FaultConfig, Simulator

KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl t@x"
IMAGE = (
    "https://cloud-images.ubuntu.com/releases/22.04/release/ubuntu-22.04-server-cloudimg-amd64.img"
)
DEPLOY = {"instances": 1, "vmConfiguration": {"name": "f-1", "osImage": IMAGE, "sshKeys": [KEY]}}


def raw(sim: Simulator, headers: dict[str, str]) -> httpx.Client:
    return httpx.Client(base_url="http://sim.local", transport=sim.transport(), headers=headers)


@pytest.mark.parametrize(
    "headers",
    [
        lambda k: {"Authorization": f"Bearer {k}"},
        lambda k: {"authorization": f"bearer {k}"},
        lambda k: {"X-API-KEY": k},
        lambda k: {"x-api-key": k},
    ],
)
def test_the_key_is_accepted_in_either_header(headers: object) -> None:
    sim = Simulator(seed=1)
    r = raw(sim, headers(sim.api_key)).get("/marketplace/countries")  # type: ignore[operator]
    assert r.status_code == 200


@pytest.mark.parametrize(
    "headers",
    [{}, {"Authorization": "Bearer wrong"}, {"X-API-KEY": "wrong"}, {"Authorization": "Basic x"}],
)
def test_missing_or_wrong_key_is_403_auth_failed(headers: dict[str, str]) -> None:
    sim = Simulator(seed=1)
    for method, path in [("GET", "/vms/v3"), ("POST", "/marketplace/offers"), ("GET", "/ssh_keys")]:
        r = raw(sim, headers).request(method, path, json={} if method == "POST" else None)
        assert (r.status_code, r.json()) == (403, {"error": "Auth failed. No such API Key"})


def test_an_explicit_key_replaces_the_derived_one() -> None:
    sim = Simulator(seed=1, api_key="secret-123")
    assert sim.api_key == "secret-123"
    assert "secret-123" not in repr(sim)
    assert raw(sim, {"X-API-KEY": "secret-123"}).get("/ssh_keys").status_code == 200


def test_unknown_path_404_and_wrong_method_405() -> None:
    sim = Simulator(seed=1)
    http = sim.http_client()
    assert http.get("/nope").status_code == 404
    assert http.get("/marketplace/offers").status_code == 405
    assert "error" in http.get("/nope").json()


def test_bad_json_body_is_400() -> None:
    sim = Simulator(seed=1)
    r = sim.http_client().post(
        "/vms/v3", content=b"{not json", headers={"content-type": "application/json"}
    )
    assert r.status_code == 400 and "JSON" in r.json()["error"]


def fault_sequence(seed: int) -> list[object]:
    sim = Simulator(seed=seed, faults=FaultConfig(rate=0.4))
    http = sim.http_client()
    out: list[object] = []
    for _ in range(60):
        try:
            r = http.get("/marketplace/countries")
            out.append(
                r.status_code if r.status_code != 200 or r.text.startswith("[") else "garbage"
            )
        except httpx.TransportError as err:
            out.append(type(err).__name__)
    return out


def test_faults_are_deterministic_for_a_seed_and_cover_the_kinds() -> None:
    a = fault_sequence(5)
    assert a == fault_sequence(5)
    assert a != fault_sequence(6)
    assert {503, 429, "ReadTimeout", "ReadError", "garbage"} <= set(a)
    assert 200 in a


def test_server_errors_come_in_bursts_and_429_has_retry_after() -> None:
    sim = Simulator(seed=1, faults=FaultConfig(rate=0.0, retry_after=2.5, burst_length=3))
    http = sim.http_client()
    sim.faults.force_next("countries", "rate_limit")
    r = http.get("/marketplace/countries")
    assert r.status_code == 429 and r.headers["retry-after"] == "2.5"
    assert "error" in r.json()
    assert http.get("/marketplace/countries").status_code == 200
    sim.faults.config.per_endpoint["hardware"] = 1.0
    sim.faults.config.weights = {"server_error": 1.0}
    codes = [http.get("/marketplace/hardware").status_code for _ in range(3)]
    assert codes == [503, 503, 503]
    assert http.get("/marketplace/countries").status_code == 200, "other endpoints unaffected"


def test_forced_faults_hit_only_their_endpoint_in_order() -> None:
    sim = Simulator(seed=1)
    http = sim.http_client()
    sim.faults.force_next("offers", "malformed")
    sim.faults.force_next("offers", "wrong_shape")
    assert http.get("/marketplace/countries").status_code == 200
    r = http.post("/marketplace/offers", json={})
    assert r.status_code == 200
    with pytest.raises(ValueError):
        r.json()
    r = http.post("/marketplace/offers", json={})
    assert r.status_code == 200 and not isinstance(r.json(), list)
    assert isinstance(http.post("/marketplace/offers", json={}).json(), list)
    assert sim.faults.log == [("offers", "malformed"), ("offers", "wrong_shape")]
    with pytest.raises(ValueError):
        sim.faults.force_next("offers", "gremlins")


def test_timeout_on_deploy_does_not_deploy_but_lost_response_does() -> None:
    sim = Simulator(seed=1)
    http = sim.http_client()
    sim.faults.force_next("deploy", "timeout")
    with pytest.raises(httpx.ReadTimeout):
        http.post("/vms/v3", json=DEPLOY)
    assert sim.vms == {}
    sim.faults.force_next("deploy", "lost_response")
    with pytest.raises(httpx.ReadTimeout):
        http.post("/vms/v3", json=DEPLOY)
    [vm] = sim.vms.values()
    assert vm.name == "f-1", "the deploy happened; listing by name finds it"
    assert [v["vmName"] for v in http.get("/vms/v3").json()] == ["f-1"]
    sim.faults.force_next("delete_vms", "lost_response")
    with pytest.raises(httpx.ReadTimeout):
        http.request("DELETE", "/vms/v3", json={"vmIds": [vm.id]})
    assert vm.status == "Stopped"
    assert http.request("DELETE", "/vms/v3", json={"vmIds": [vm.id]}).status_code == 200


def test_random_lost_responses_only_hit_mutating_endpoints() -> None:
    sim = Simulator(seed=2, faults=FaultConfig(rate=1.0, weights={"lost_response": 1.0}))
    http = sim.http_client()
    for _ in range(5):
        assert http.get("/marketplace/countries").status_code == 200
    with pytest.raises(httpx.ReadTimeout):
        http.post("/vms/v3", json=DEPLOY)
    assert len(sim.vms) == 1


def test_fault_config_is_validated() -> None:
    with pytest.raises(ValueError):
        FaultConfig(rate=1.5)
    with pytest.raises(ValueError):
        FaultConfig(weights={"meteor": 1.0})
