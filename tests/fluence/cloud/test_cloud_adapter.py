"""The cloud generation behind the neutral edge: price points, VMs, keys and the market
lists in the provider-neutral model, and generation detection (`connect`)."""

from __future__ import annotations

from decimal import Decimal

import httpx
import pytest

from optimizer.config import ApiConfig
from optimizer.errors import AuthError, ClientRequestError, ConfigError, TransportError
from optimizer.fluence.client import FluenceClient
from optimizer.fluence.cloud.adapter import CloudApi
from optimizer.fluence.generation import connect
from optimizer.fluence.models import Constraints, DatacenterFilter, offer_key
from optimizer.sim import Simulator
from tests.fluence.cloud.fake import (
    CFG_R,
    CFG_S,
    CL_A,
    CL_B,
    KEY,
    FakeCloud,
    did,
    iid,
    kid,
    vid,
    vm,
)


def _api(fake: FakeCloud, generation: str = "auto") -> CloudApi:
    api = connect(
        ApiConfig(base_url="https://api.example.test", max_retries=0, generation=generation),  # type: ignore[arg-type]
        transport=fake.transport(),
        api_key=KEY,
    )
    assert isinstance(api, CloudApi)
    return api


def test_auto_detects_the_cloud_generation_with_two_cheap_reads() -> None:
    fake = FakeCloud()
    api = _api(fake)
    assert api.generation == "cloud" and api.generation_source == "detected"
    assert [r.url.path for r in fake.requests] == ["/marketplace/countries", "/v1/clusters"]
    # the key goes both ways the spec and Fluence's own client send it
    assert fake.requests[1].headers["x-api-key"] == KEY
    assert fake.requests[1].headers["authorization"] == f"X-API-KEY {KEY}"


def test_configured_cloud_sends_no_probe() -> None:
    fake = FakeCloud()
    api = _api(fake, "cloud")
    assert api.generation_source == "configured" and fake.requests == []


def test_auto_detects_marketplace_v3_on_the_v3_simulator() -> None:
    sim = Simulator(seed=3, offers=5)
    api = connect(ApiConfig(), transport=sim.transport(), api_key=sim.api_key)
    assert isinstance(api, FluenceClient)
    assert api.generation == "marketplace-v3" and api.generation_source == "detected"
    assert len(api.list_offers()) == 5
    # after detection the v3 client sends the v3 header (Bearer by default)
    assert api.http.headers["authorization"] == f"Bearer {sim.api_key}"


def test_a_wrong_key_during_detection_is_an_auth_error() -> None:
    fake = FakeCloud(key="another-key-98765")
    with pytest.raises(AuthError) as info:
        _api(fake)
    assert info.value.exit_code == 3


def test_a_server_that_speaks_neither_generation_is_a_config_error() -> None:
    def nothing(request: httpx.Request) -> httpx.Response:
        return httpx.Response(404, json={"error": "no"})

    with pytest.raises(ConfigError, match="answers neither API generation"):
        connect(
            ApiConfig(base_url="https://api.example.test", max_retries=0),
            transport=httpx.MockTransport(nothing),
            api_key=KEY,
        )


def test_a_detected_v3_server_that_later_404s_says_so() -> None:
    def v3_but_partial(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/marketplace/countries":
            return httpx.Response(200, json=["DE"])
        return httpx.Response(404, json={"error": "Not found"})

    api = connect(
        ApiConfig(base_url="https://api.example.test", max_retries=0),
        transport=httpx.MockTransport(v3_but_partial),
        api_key=KEY,
    )
    with pytest.raises(ClientRequestError, match=r"detected as marketplace-v3.*\[api\] generation"):
        api.list_vms()


@pytest.mark.parametrize("bare", [False, True], ids=["0.10.0", "0.8.210"])
def test_every_price_point_becomes_an_hourly_offer(bare: bool) -> None:
    api = _api(FakeCloud(bare=bare, bulk=not bare))
    offers = api.list_offers()
    assert len(offers) == 4
    by = {(o.cluster_id, o.configuration_id): o for o in offers}
    a = by[(CL_A, CFG_S)]
    assert a.price == Decimal("0.0125") and a.unit == "hour" and a.price_unit == "hour"
    assert a.configuration.slug == "cpu-shared-2vcpu-2gb"
    assert a.datacenter.country_code == "DE" and a.datacenter.label == "DE-FRA-1"
    assert a.capacity == 1
    assert by[(CL_B, CFG_R)].capacity == 0  # cluster B does not list the regular config
    assert a.resource("VCPU").metadata["manufacturer"] == "AMD"  # type: ignore[union-attr]
    # the key is cluster + configuration: stable, distinct per price point
    assert len({o.offer_key for o in offers}) == 4
    moved = a.model_copy(
        update={"configuration": a.configuration.model_copy(update={"price": Decimal(9)})}
    )
    assert offer_key(moved) == a.offer_key


def test_offer_constraints_apply_to_cloud_price_points() -> None:
    api = _api(FakeCloud())
    fr = api.list_offers(Constraints(datacenter=DatacenterFilter(countries=["FR"])))
    assert {o.cluster_id for o in fr} == {CL_B}
    cheap = api.list_offers(Constraints(max_total_price_per_epoch_usd=Decimal("0.30")))
    # 24 h × hourly: 0.0125 → 0.30 fits, 0.0110 → 0.264 fits, 0.04 and 0.039 do not
    assert sorted(o.price for o in cheap) == [Decimal("0.0110"), Decimal("0.0125")]
    slug = api.list_offers(Constraints(basic_configuration="cpu-regular-4vcpu-8gb"))
    assert {o.configuration_id for o in slug} == {CFG_R}


def test_market_lists_in_the_neutral_model() -> None:
    api = _api(FakeCloud())
    assert api.countries() == ["DE", "FR"]
    assert api.basic_configurations() == ["cpu-shared-2vcpu-2gb", "cpu-regular-4vcpu-8gb"]
    assert [d.label for d in api.datacenters()] == ["DE-FRA-1", "FR-PAR-2"]
    assert api.default_images()[0].download_url == "https://img.example/u.img"
    hw = api.hardware()
    assert {(c.manufacturer, c.architecture) for c in hw.cpu} == {("AMD", "ZEN3"), ("AMD", "ZEN5")}
    assert [s.type for s in hw.storage] == ["NVMe"]


def test_vms_carry_what_they_hold_and_neutral_statuses() -> None:
    fake = FakeCloud(
        vms=[
            vm(0),
            vm(1, status="new", publicIp=None),
            vm(2, status="terminated"),
            vm(3, status="hibernating"),
        ]
    )
    vms = {v.id: v for v in _api(fake).list_vms()}
    v0 = vms[vid(0)]
    assert v0.status == "Active" and v0.public_ip == "203.0.113.1"
    assert v0.datacenter is not None and v0.datacenter.country_code == "DE"
    assert v0.price_per_hour == Decimal("0.0125") and v0.price_per_epoch is None
    assert (v0.boot_disk_id, v0.public_ip_id, v0.cluster_id) == (did(0), iid(0), CL_A)
    assert vms[vid(1)].status == "New" and vms[vid(1)].public_ip is None
    assert vms[vid(2)].status == "Stopped" and not vms[vid(2)].running
    # a status the optimizer does not know stays as the API spelled it
    assert vms[vid(3)].status == "hibernating" and not vms[vid(3)].running
    st = _api(FakeCloud()).vm_status([vid(1)])
    assert [(s.id, s.status, s.public_ip) for s in st] == [(vid(1), "Active", "203.0.113.2")]


def test_ssh_keys_in_the_neutral_model() -> None:
    api = _api(FakeCloud())
    keys = api.ssh_keys()
    assert [(k.id, k.name, k.fingerprint, k.comment) for k in keys] == [
        (kid(1), "ops", "SHA256:abc", "ops@host")
    ]
    added = api.add_ssh_key("ci", "ssh-ed25519 AAAAci ci@runner")
    assert added is not None and added.id == kid(2)
    api.remove_ssh_key("SHA256:abc")
    assert [k.id for k in api.ssh_keys()] == [kid(2)]


def test_deferred_detection_waits_for_the_first_call_and_then_sticks() -> None:
    """The daemon's client: an API that is down at start fails the first call, not the
    start; once the server has answered, the generation is kept for the run."""
    fake = FakeCloud()
    down = {"on": True}

    def handler(request: httpx.Request) -> httpx.Response:
        if down["on"]:
            raise httpx.ConnectError("connection refused", request=request)
        return fake.handle(request)

    api = connect(
        ApiConfig(base_url="https://api.example.test", max_retries=0),
        transport=httpx.MockTransport(handler),
        api_key=KEY,
        defer=True,
    )
    assert api.generation == "auto"
    with pytest.raises(TransportError):
        api.countries()
    down["on"] = False
    assert api.countries() == ["DE", "FR"]
    api.countries()
    assert api.generation == "cloud" and api.generation_source == "detected"
    probes = [r.url.path for r in fake.requests if r.url.path == "/marketplace/countries"]
    assert probes == ["/marketplace/countries"]  # asked once
