"""The cloud face's catalog: clusters over the v3 world's datacenters, configurations,
hourly prices per (configuration, cluster) that drift and jump, storage and IP prices."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import httpx

from optimizer.sim import Simulator
from optimizer.sim.cloud import CloudConfig
from tests.sim.cloud.conftest import items


def test_one_cluster_per_datacenter_of_the_v3_world(sim: Simulator, http: httpx.Client) -> None:
    """Clusters are the market's datacenters: same countries, cities, tiers, providers."""
    clusters = items(http.get("/v1/clusters").json())
    dcs = items(http.get("/v1/datacenters").json())
    assert len(clusters) == len(sim.market.datacenters) == len(dcs)
    assert {d["countryCode"] for d in dcs} == {d.country for d in sim.market.datacenters}
    assert len({d["countryCode"] for d in dcs}) >= 5
    providers = {c["name"].rsplit(" ", 1)[0] for c in clusters}
    assert len(providers) >= 3


def test_list_shapes_follow_the_spec_version(spec: str, http: httpx.Client) -> None:
    """0.8.210 answers bare arrays and `dc_id`; 0.10.0 answers {items} and `dcId`."""
    raw = http.get("/v1/clusters").json()
    if spec == "0.8.210":
        assert isinstance(raw, list) and "dc_id" in raw[0] and "dcId" not in raw[0]
        assert isinstance(http.get("/v1/prices/vm").json(), list)
        assert isinstance(http.get("/v1/storages/default_images").json(), list)
    else:
        assert (
            set(raw) == {"items"} and "dcId" in raw["items"][0] and "dc_id" not in raw["items"][0]
        )
        assert set(http.get("/v1/prices/vm").json()) == {"items"}
        assert set(http.get("/v1/storages/default_images").json()) == {"items"}


def test_shared_configurations_only_exist_in_0_10(spec: str, http: httpx.Client) -> None:
    slugs = {c["slug"] for c in items(http.get("/v1/configurations/virtual_machines").json())}
    assert "cpu-regular-2vcpu-4gb" in slugs
    assert ("cpu-shared-2vcpu-2gb" in slugs) == (spec == "0.10.0")
    priced = {p["vmTypeId"]["vmConfigurationId"] for p in items(http.get("/v1/prices/vm").json())}
    by_id = {
        c["id"]: c["slug"] for c in items(http.get("/v1/configurations/virtual_machines").json())
    }
    assert priced <= set(by_id)


def test_every_cluster_prices_a_subset_and_filters_by_cluster(http: httpx.Client) -> None:
    points = items(http.get("/v1/prices/vm").json())
    cluster = points[0]["vmTypeId"]["clusterId"]
    mine = items(http.get("/v1/prices/vm", params={"clusterId": cluster}).json())
    assert mine and all(p["vmTypeId"]["clusterId"] == cluster for p in mine)
    assert len(mine) < len(items(http.get("/v1/configurations/virtual_machines").json()))
    for p in points:
        assert Decimal(p["priceInfo"]["pricePerHourPerQty"]) > 0


def test_prices_drift_over_days_and_pin_with_a_hook(sim: Simulator, http: httpx.Client) -> None:
    def prices() -> dict[tuple[str, str], Decimal]:
        return {
            (p["vmTypeId"]["clusterId"], p["vmTypeId"]["vmConfigurationId"]): Decimal(
                p["priceInfo"]["pricePerHourPerQty"]
            )
            for p in items(http.get("/v1/prices/vm").json())
        }

    before = prices()
    sim.advance(timedelta(days=3))
    after = prices()
    moved = [k for k in before if before[k] != after[k]]
    assert len(moved) > 0.9 * len(before)
    ratios = sorted(float(after[k] / before[k]) for k in before)
    assert 0.5 < ratios[len(ratios) // 2] < 1.5  # moves, but around its level
    cluster, conf = next(iter(before))
    sim.cloud.set_price(cluster, conf, "0.012345")
    assert prices()[(cluster, conf)] == Decimal("0.012345")
    sim.advance(timedelta(hours=5))
    assert prices()[(cluster, conf)] == Decimal("0.012345")


def test_price_path_is_a_function_of_seed_and_hour(spec: str) -> None:
    """A cloud face made late has the prices one made at the start has (same seed)."""
    early = Simulator(seed=3, cloud=CloudConfig(spec=spec))
    early.cloud  # noqa: B018 - made now, then moved hour by hour
    early.advance(timedelta(hours=30))
    late = Simulator(seed=3, cloud=CloudConfig(spec=spec))
    late.advance(timedelta(hours=30))
    assert early.cloud.catalog.vm_prices() == late.cloud.catalog.vm_prices()


def test_storage_and_public_ip_prices_per_cluster(http: httpx.Client) -> None:
    storage = items(http.get("/v1/prices/storage").json())
    ips = items(http.get("/v1/prices/public-ip").json())
    clusters = items(http.get("/v1/clusters").json())
    assert len(ips) == len(clusters)
    assert len(storage) == 2 * len(clusters)  # replicated and not
    plain = [s for s in storage if not s["storageTypeId"]["replicated"]]
    assert all(s["storageTypeId"]["storageType"] == "NVME" for s in storage)
    assert all(Decimal(s["priceInfo"]["pricePerHourPerQty"]) < Decimal("0.01") for s in plain)


def test_cost_endpoint_prices_a_vm_with_disk_and_ip(sim: Simulator, http: httpx.Client) -> None:
    p = items(http.get("/v1/prices/vm").json())[0]
    tid = p["vmTypeId"]
    cid = tid["clusterId"]
    body = {
        "secs": 7200,
        "resources": [
            {"vm": {"resource_id": tid}},
            {"storage": {"resource_id": {"storageType": "NVME", "replicated": False,
                                         "clusterId": cid}, "volume_gb": 25}},
            {"publicIp": {"resource_id": {"addressType": "V4", "clusterId": cid}}},
        ],
    }  # fmt: skip
    r = http.post("/v1/prices/cost", json=body)
    assert r.status_code == 200, r.text
    cl = sim.cloud.catalog.cluster(cid)
    assert cl is not None
    hourly = Decimal(p["priceInfo"]["pricePerHourPerQty"]) + cl.storage_gb_hour * 25
    hourly += cl.public_ip_hour
    assert abs(Decimal(r.json()["totalCost"]) - hourly * 2) < Decimal("0.00001")
    assert r.json()["periodSecs"] == 7200


def test_cluster_resources_show_availability(sim: Simulator, spec: str, http: httpx.Client) -> None:
    cluster = items(http.get("/v1/clusters").json())[0]["id"]
    res = http.get(f"/v1/clusters/{cluster}/resources").json()
    assert res["availablePublicIps"]["V4"] > 0
    conf = res["availableConfigurations"][0]["id"]
    sim.cloud.set_capacity(cluster, conf, 0)
    res = http.get(f"/v1/clusters/{cluster}/resources").json()
    assert conf not in {c["id"] for c in res["availableConfigurations"]}
    bulk = http.get("/v1/clusters/resources", params={"clusterIds": cluster})
    if spec == "0.10.0":
        assert list(bulk.json()["resources"]) == [cluster]
    else:
        assert bulk.status_code == 404  # 0.8.210 has no bulk endpoint


def test_cost_of_an_unknown_or_unlisted_configuration_is_404(
    spec: str, sim: Simulator, http: httpx.Client
) -> None:
    cl = sim.cloud.catalog.clusters[0]
    shared = sim.cloud.catalog.configuration("cpu-shared-2vcpu-2gb")
    assert shared is not None
    for conf_id in ("00000000-0000-4000-8000-000000000000", shared.id):
        body = {"resources": [{"vm": {"resource_id": {"vmConfigurationId": conf_id,
                                                      "clusterId": cl.id}}}]}  # fmt: skip
        r = http.post("/v1/prices/cost", json=body)
        sold = spec == "0.10.0" and conf_id == shared.id and conf_id in cl.configurations
        assert r.status_code == (200 if sold else 404)
