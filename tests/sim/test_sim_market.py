"""The simulated marketplace: determinism, price dynamics, filters, discovery endpoints."""

from __future__ import annotations

import json
import statistics
from datetime import timedelta
from decimal import Decimal

import httpx
import pytest

from optimizer.fluence.models import Constraints, Hardware, Offer, offer_key, parse_slug
from optimizer.sim import Dynamics, SimClock, Simulator
from optimizer.sim.market import COUNTRIES, SimMarket


def offers(http: httpx.Client, **filters: object) -> list[Offer]:
    r = http.post("/marketplace/offers", json=filters)
    assert r.status_code == 200, r.text
    return [Offer.model_validate(o) for o in r.json()]


def raw_offers(sim: Simulator) -> bytes:
    return sim.handle("POST", "/marketplace/offers", headers={"X-API-KEY": sim.api_key}).body


def test_offer_json_has_the_documented_shape_and_prices_have_five_decimals() -> None:
    sim = Simulator(seed=7)
    data = json.loads(raw_offers(sim))
    assert len(data) == 80
    for o in data:
        assert set(o) == {"configuration", "resources", "datacenter", "servers",
                          "maxAdditionalSupply"}  # fmt: skip
        assert parse_slug(o["configuration"]["slug"]) is not None
        frac = o["configuration"]["price"].split(".")[1]
        assert len(frac) == 5 and Decimal(o["configuration"]["price"]) > 0
        assert {r["type"] for r in o["resources"]} == {"VCPU", "RAM", "STORAGE", "PUBLIC_IP"}
        assert set(o["datacenter"]) == {"countryCode", "cityCode", "cityIndex", "tier",
                                        "certifications"}  # fmt: skip
        assert o["servers"] and all(s["availableBasicInstances"] > 0 for s in o["servers"])
        storage = o["servers"][0]["additionalResources"][0]
        assert storage["type"] == "STORAGE" and "perVmLimit" in storage
    parsed = [Offer.model_validate(o) for o in data]
    assert len({offer_key(o) for o in parsed}) == len(parsed)


def test_market_offer_keys_equal_the_models_offer_key() -> None:
    m = SimMarket(seed=11, offers=300)
    for o in m.offers:
        assert offer_key(Offer.model_validate(o.wire(m.price_str(o)))) == o.key


def test_prices_are_realistic_per_vcpu() -> None:
    sim = Simulator(seed=7, offers=400)
    per_vcpu = [o.price / parse_slug(o.configuration.slug)[0] for o in offers(sim.http_client())]
    mean = sum(per_vcpu) / len(per_vcpu)
    assert Decimal("0.10") < mean < Decimal("0.20")


def test_same_seed_same_market_other_seed_different() -> None:
    assert raw_offers(Simulator(seed=3)) == raw_offers(Simulator(seed=3))
    assert raw_offers(Simulator(seed=3)) != raw_offers(Simulator(seed=4))


def test_price_path_does_not_depend_on_how_time_is_stepped() -> None:
    one, many, odd = Simulator(seed=5), Simulator(seed=5), Simulator(seed=5)
    one.advance(timedelta(hours=50))
    for _ in range(50):
        many.advance(timedelta(hours=1))
    for minutes in (7, 130, 1500, 1363):
        odd.advance(timedelta(minutes=minutes))
    assert raw_offers(one) == raw_offers(many) == raw_offers(odd)


def test_prices_move_hourly_drift_and_revert_but_stay_bounded() -> None:
    sim = Simulator(seed=9, offers=200)
    start = {o.key: sim.market.price(o) for o in sim.market.live()}
    sim.advance(timedelta(minutes=59))
    assert {o.key: sim.market.price(o) for o in sim.market.live()} == start
    sim.advance(timedelta(minutes=1))
    moved = sum(
        1 for o in sim.market.live() if o.key in start and sim.market.price(o) != start[o.key]
    )
    assert moved > 150
    sim.advance(timedelta(days=30))
    ratios = [sim.market.price(o) / start[o.key] for o in sim.market.live() if o.key in start]
    assert ratios, "some offers outlive a month"
    assert all(Decimal("0.3") < r < Decimal("3") for r in ratios)
    assert max(ratios) > Decimal("1.05") and min(ratios) < Decimal("0.95")


def test_offers_appear_and_vanish_over_time() -> None:
    sim = Simulator(seed=7)
    before = {o.key for o in sim.market.live()}
    sim.advance(timedelta(days=20))
    after = {o.key for o in sim.market.live()}
    assert before - after, "some offers vanished"
    assert after - before, "some offers appeared"
    assert 50 < len(after) < 120


@pytest.mark.parametrize(
    ("filters", "check"),
    [
        ({"basicConfiguration": "cpu-4-ram-8gb-storage-25gb"},
         lambda o: o.configuration.slug == "cpu-4-ram-8gb-storage-25gb"),
        ({"datacenter": {"countries": ["DE", "FR"]}},
         lambda o: o.datacenter.country_code in {"DE", "FR"}),
        ({"hardware": {"cpu": [{"manufacturer": "AMD"}]}},
         lambda o: o.resource("VCPU").metadata["manufacturer"] == "AMD"),
        ({"hardware": {"cpu": [{"manufacturer": "Intel", "architecture": "Ice Lake"}]}},
         lambda o: o.resource("VCPU").metadata["architecture"] == "Ice Lake"),
        ({"hardware": {"memory": [{"type": "DDR", "generation": "5"}]}},
         lambda o: o.resource("RAM").metadata["generation"] == "5"),
        ({"hardware": {"storage": [{"type": "NVMe"}]}},
         lambda o: o.resource("STORAGE").metadata["type"] == "NVMe"),
        ({"maxTotalPricePerEpochUsd": "0.5"}, lambda o: o.price <= Decimal("0.5")),
    ],
)  # fmt: skip
def test_filters_select_exactly_the_matching_offers(filters: dict, check: object) -> None:
    sim = Simulator(seed=7, offers=300)
    http = sim.http_client()
    everything = offers(http)
    got = offers(http, **filters)
    assert got, f"the market has offers for {filters}"
    assert all(check(o) for o in got)  # type: ignore[operator]
    expected = [o for o in everything if check(o)]  # type: ignore[operator]
    assert {o.offer_key for o in got} == {o.offer_key for o in expected}


def test_additional_storage_needs_a_storage_filter_and_adds_to_the_price() -> None:
    sim = Simulator(seed=7, offers=300)
    http = sim.http_client()
    extra = {"storage": [{"type": "NVMe", "supply": 100, "units": "GiB"}]}
    r = http.post("/marketplace/offers", json={"additionalResources": extra})
    assert r.status_code == 400
    assert "hardware.storage" in r.json()["error"]
    body = {"additionalResources": extra, "hardware": {"storage": [{"type": "NVMe"}]},
            "basicConfiguration": "cpu-2-ram-4gb-storage-25gb"}  # fmt: skip
    got = offers(http, **body)
    assert got and all(o.resource("STORAGE").metadata["type"] == "NVMe" for o in got)
    est = http.post("/vms/v3/estimate", json={"constraints": body, "instances": 1}).json()
    cheapest = min(o.price for o in got)
    assert Decimal(est["totalPricePerEpoch"]) == cheapest + 100 * Decimal("0.00040")


def test_discovery_endpoints_describe_the_listed_offers() -> None:
    sim = Simulator(seed=7)
    http = sim.http_client()
    listed = offers(http)
    slugs = http.get("/marketplace/basic_configurations").json()
    assert {o.configuration.slug for o in listed} <= set(slugs)
    assert all(parse_slug(s) for s in slugs)
    countries = http.get("/marketplace/countries").json()
    assert countries == sorted({o.datacenter.country_code for o in listed})
    assert 8 <= len(countries) <= len(COUNTRIES)
    hw = Hardware.model_validate(http.get("/marketplace/hardware").json())
    assert {(c.manufacturer, c.architecture) for c in hw.cpu} == {
        (o.resource("VCPU").metadata["manufacturer"], o.resource("VCPU").metadata["architecture"])
        for o in listed
    }
    assert {s.type for s in hw.storage} <= {"HDD", "SSD", "NVMe"}
    dcs = http.get("/v1/marketplace/datacenters").json()
    assert all("id" in d and "countryCode" in d for d in dcs)
    labels = {(d["countryCode"], d["cityCode"], d["cityIndex"]) for d in dcs}
    assert {(o.datacenter.country_code, o.datacenter.city_code, o.datacenter.city_index)
            for o in listed} <= labels  # fmt: skip


def test_scripted_offer_and_pinned_price_show_up_at_once() -> None:
    sim = Simulator(seed=7)
    http = sim.http_client()
    o = sim.add_offer(
        configuration="cpu-2-ram-4gb-storage-25gb", country="NL", price="0.11", capacity=3
    )
    [got] = [x for x in offers(http) if x.offer_key == o.key]
    assert got.price == Decimal("0.11000") and got.capacity == 3
    sim.advance(timedelta(hours=5))
    assert sim.offer_price(o.key) == Decimal("0.11")
    other = next(x for x in sim.market.live() if x.vec >= 0)
    sim.set_offer_price(other.key, "0.01234")
    assert sim.offer_price(other.key) == Decimal("0.01234")
    sim.advance(timedelta(hours=3))
    assert sim.offer_price(other.key) == Decimal("0.01234")
    sim.set_offer_price(other.key, None)
    assert sim.offer_price(other.key) != Decimal("0.01234")
    sim.remove_offer(o.key)
    assert o.key not in {x.offer_key for x in offers(http)}


def test_large_market_builds_and_lists_all_offers() -> None:
    sim = Simulator(seed=1, offers=3000, clock=SimClock.stepped())
    data = json.loads(raw_offers(sim))
    assert len(data) == 3000


def test_fast_json_path_equals_the_dict_path_as_capacity_changes() -> None:
    sim = Simulator(seed=3, offers=200)
    c = Constraints.model_validate({"datacenter": {"countries": ["DE", "US"]}})
    for _ in range(3):
        assert json.loads(sim.market.offers_json()) == sim.market.offers_wire()
        assert json.loads(sim.market.offers_json(c)) == sim.market.offers_wire(c)
        sim.add_foreign_vm()
        sim.advance(timedelta(hours=7))


def test_dynamics_are_configurable_still_market_stays_still() -> None:
    still = Dynamics(sigma=0, jump_prob=0, drift_sigma_per_day=0, seg_sigma=0, theta=0,
                     capacity_churn=0, mean_lifetime_hours=1e9)  # fmt: skip
    sim = Simulator(seed=4, dynamics=still)
    before = raw_offers(sim)
    sim.advance(timedelta(days=10))
    assert raw_offers(sim) == before
    wild = Simulator(seed=4, dynamics=Dynamics(sigma=0.05, jump_prob=0.02))
    calm = Simulator(seed=4)
    for s in (wild, calm):
        s.advance(timedelta(days=5))

    def spread(s: Simulator) -> float:
        return statistics.pstdev(float(x) for x in s.market._x)

    assert spread(wild) > 2 * spread(calm)
