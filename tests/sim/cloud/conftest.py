"""Fixtures for the cloud face of the simulator: a world, an authenticated client, and a
helper that creates a VM the way the specs describe (inline boot disk and public IP)."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from optimizer.sim import Simulator
from optimizer.sim.cloud import CloudConfig

KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl t@x"
IMAGE = (
    "https://cloud-images.ubuntu.com/releases/22.04/release/ubuntu-22.04-server-cloudimg-amd64.img"
)


def items(payload: Any) -> list[Any]:
    """A list in either shape: bare (0.8.210) or {items} (0.10.0 and paginated lists)."""
    return payload if isinstance(payload, list) else payload["items"]


def code(r: httpx.Response) -> str | None:
    """The error's `code`: 0.10.0 sends {code, error}; 0.8.210's ErrorBody has only
    `error` (checked: no other field), so its code is None."""
    body = r.json()
    assert isinstance(body.get("error"), str) and r.status_code >= 400
    if "code" not in body:
        assert set(body) == {"error"}
    return body.get("code")


def want(spec: str, error_code: str) -> str | None:
    """The code a server of `spec` sends for this error (None: 0.8.210 sends none)."""
    return error_code if spec == "0.10.0" else None


def vm_body(
    cluster_id: str, configuration_id: str, name: str = "web-1", keys: list[str] | None = None
) -> dict[str, Any]:
    return {
        "name": name,
        "clusterId": cluster_id,
        "configurationId": configuration_id,
        "sshKeys": keys or [],
        "bootDisk": {"name": f"{name[:20]}-boot", "clusterId": cluster_id, "storageType": "NVME",
                     "volumeGb": 25, "replicated": False, "osImage": IMAGE},
        "publicIp": {"name": f"{name[:20]}-ip", "clusterId": cluster_id, "addressType": "V4"},
    }  # fmt: skip


class Cloud:
    """A client of the cloud face with the few steps most tests repeat."""

    def __init__(self, sim: Simulator) -> None:
        self.sim = sim
        self.http = sim.http_client(api="cloud")

    def first_point(self) -> tuple[str, str]:
        """(cluster id, configuration id) of the first listed price point."""
        p = items(self.http.get("/v1/prices/vm").json())[0]["vmTypeId"]
        return p["clusterId"], p["vmConfigurationId"]

    def key_id(self) -> str:
        r = self.http.post("/v1/ssh_keys", json={"name": "ops", "publicKey": KEY})
        if r.status_code == 409:
            return str(items(self.http.get("/v1/ssh_keys").json())[0]["id"])
        assert r.status_code == 200, r.text
        return str(r.json()["id"])

    def create(self, name: str = "web-1") -> dict[str, Any]:
        cluster, conf = self.first_point()
        r = self.http.post("/v2/vms", json=vm_body(cluster, conf, name, [self.key_id()]))
        assert r.status_code == 200, r.text
        return dict(r.json())

    def vm(self, vm_id: str) -> dict[str, Any]:
        found = self.http.get("/v2/vms", params={"ids": vm_id}).json()["items"]
        assert len(found) == 1
        return dict(found[0])


@pytest.fixture(params=["0.10.0", "0.8.210"])
def spec(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def sim(spec: str) -> Simulator:
    return Simulator(seed=7, cloud=CloudConfig(spec=spec, failure_rate=0.0))


@pytest.fixture
def cloud(sim: Simulator) -> Cloud:
    """A client; the first price point gets room for the several VMs some tests make."""
    c = Cloud(sim)
    sim.cloud.set_capacity(*c.first_point(), 50)
    return c


@pytest.fixture
def http(cloud: Cloud) -> httpx.Client:
    return cloud.http
