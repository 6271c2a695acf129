"""One world, two faces: the cloud face and the v3 face share the clock, the account and
the datacenters; the v3 face keeps answering as before."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from optimizer.sim import Simulator
from optimizer.sim.cloud import CloudConfig
from tests.sim.cloud.conftest import IMAGE, KEY, Cloud


def test_cloud_spending_comes_out_of_the_balance_v3_deploys_need() -> None:
    sim = Simulator(seed=7, cloud=CloudConfig(failure_rate=0))
    cloud = Cloud(sim)
    v3 = sim.http_client()
    deploy = {"instances": 1, "vmConfiguration": {"name": "v3-vm", "osImage": IMAGE,
                                                  "sshKeys": [KEY]}}  # fmt: skip
    vm = cloud.create()
    sim.cloud.set_price(vm["clusterId"], vm["configurationId"], "100")
    sim.advance(timedelta(hours=9, minutes=59, seconds=55))  # ~1,000 USD of VM time
    assert Decimal(0) < sim.balance < Decimal("0.1")
    r = v3.post("/vms/v3", json=deploy)
    assert r.status_code == 400 and "Insufficient balance" in r.json()["error"]


def test_v3_face_is_unchanged_beside_the_cloud_face() -> None:
    """The same seed answers the v3 offers identically whether the cloud face exists."""
    plain = Simulator(seed=9)
    both = Simulator(seed=9)
    both.cloud  # noqa: B018 - the cloud face exists and bills along
    Cloud(both).create()
    for s in (plain, both):
        s.advance(timedelta(hours=30))
    a = plain.http_client().post("/marketplace/offers", json={}).json()
    b = both.http_client().post("/marketplace/offers", json={}).json()
    assert a == b


def test_clusters_are_the_v3_datacenters() -> None:
    sim = Simulator(seed=7)
    v3 = sim.http_client().get("/v1/marketplace/datacenters").json()
    labels = {(d["countryCode"], d["cityCode"], d["cityIndex"]) for d in v3}
    clusters = {(c.datacenter.country, c.datacenter.city, c.datacenter.index)
                for c in sim.cloud.catalog.clusters}  # fmt: skip
    assert labels <= clusters
