"""The simulator's market and VM basics, over the in-process transport."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import httpx
import pytest

from optimizer.fluence.models import Offer, Vm, offer_key
from optimizer.sim import Simulator

KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl t@x"
IMAGE = (
    "https://cloud-images.ubuntu.com/releases/22.04/release/ubuntu-22.04-server-cloudimg-amd64.img"
)


def deploy_body(name: str = "web-1", instances: int = 1, **constraints: object) -> dict:
    return {
        "constraints": constraints,
        "instances": instances,
        "vmConfiguration": {"name": name, "osImage": IMAGE, "sshKeys": [KEY]},
    }


@pytest.fixture
def sim() -> Simulator:
    return Simulator(seed=7)


@pytest.fixture
def http(sim: Simulator) -> httpx.Client:
    return sim.http_client()


def test_offers_parse_with_the_wire_models_and_keys_are_unique(http: httpx.Client) -> None:
    r = http.post("/marketplace/offers", json={})
    assert r.status_code == 200
    offers = [Offer.model_validate(o) for o in r.json()]
    assert len(offers) == 80
    assert len({offer_key(o) for o in offers}) == len(offers)
    for raw, o in zip(r.json(), offers, strict=True):
        assert o.price == Decimal(raw["configuration"]["price"])
        assert o.capacity > 0
        assert len(raw["configuration"]["price"].split(".")[1]) == 5


def test_same_seed_gives_the_same_market_and_another_seed_does_not() -> None:
    a, b, c = Simulator(seed=3), Simulator(seed=3), Simulator(seed=4)
    body = a.handle("POST", "/marketplace/offers", headers={"X-API-KEY": a.api_key}).body
    assert body == b.handle("POST", "/marketplace/offers", headers={"X-API-KEY": b.api_key}).body
    assert body != c.handle("POST", "/marketplace/offers", headers={"X-API-KEY": c.api_key}).body


def test_deploy_lists_vm_that_becomes_active_with_an_ip(sim: Simulator, http: httpx.Client) -> None:
    r = http.post("/vms/v3", json=deploy_body("web-1"))
    assert r.status_code == 200, r.text
    [deployed] = r.json()
    assert deployed["vmName"] == "web-1" and deployed["vmId"].startswith("0x")
    assert len(deployed["vmId"]) == 42
    [vm] = [Vm.model_validate(v) for v in http.get("/vms/v3").json()]
    assert vm.status == "New" and vm.public_ip is None
    sim.advance(timedelta(minutes=10))
    [vm] = [Vm.model_validate(v) for v in http.get("/vms/v3").json()]
    assert vm.status == "Active" and vm.public_ip
    assert [(p.port, p.protocol) for p in vm.ports] == [(22, "tcp")]
