"""Every endpoint of fluence-api.md through the client, against the in-process simulator."""

from __future__ import annotations

import base64
from datetime import timedelta
from decimal import Decimal

import pytest

from optimizer.config import ApiConfig
from optimizer.errors import (
    AuthError,
    BadResponse,
    ClientRequestError,
    NoMatchingOffers,
    RateLimited,
    ServerError,
    TransportError,
)
from optimizer.fluence.client import FluenceClient, build_client
from optimizer.fluence.models import (
    SLUG_RE,
    Constraints,
    DatacenterFilter,
    DeployRequest,
    Port,
    VmConfiguration,
    VmUpdate,
)
from optimizer.fluence.retry import RetryPolicy
from optimizer.sim import FaultConfig, Simulator

PUBKEY = "ssh-ed25519 " + base64.b64encode(b"\x00\x00\x00\x0bssh-ed25519" + bytes(32)).decode()
IMAGE = (
    "https://cloud-images.ubuntu.com/releases/22.04/release/ubuntu-22.04-server-cloudimg-amd64.img"
)


@pytest.fixture
def sim() -> Simulator:
    return Simulator(seed=7, offers=80)


@pytest.fixture
def sleeps() -> list[float]:
    return []


@pytest.fixture
def client(sim: Simulator, sleeps: list[float]) -> FluenceClient:
    c = build_client(
        ApiConfig(base_url="http://127.0.0.1:8787"),
        transport=sim.transport(),
        api_key=sim.api_key,
        sleep=sleeps.append,
    )
    c.retries = RetryPolicy(max_retries=3, base_delay=0.5, rand=lambda: 1.0)
    return c


def _deploy(client: FluenceClient, name: str, constraints: Constraints | None = None, n: int = 1):  # type: ignore[no-untyped-def]
    return client.deploy(
        DeployRequest(
            constraints=constraints,
            instances=n,
            vm_configuration=VmConfiguration(name=name, os_image=IMAGE, ssh_keys=[PUBKEY]),
        )
    )


# --- marketplace ---------------------------------------------------------------------------


def test_list_offers_returns_typed_offers_with_capacity(client: FluenceClient) -> None:
    offers = client.list_offers()
    assert len(offers) > 10
    assert all(SLUG_RE.match(o.configuration.slug) for o in offers)
    assert all(isinstance(o.price, Decimal) and o.price > 0 for o in offers)
    assert len({o.offer_key for o in offers}) == len(offers)
    assert sum(o.capacity for o in offers) > 0


def test_offer_filters_are_applied_by_the_server(client: FluenceClient) -> None:
    everything = client.list_offers(None)
    slug = everything[0].configuration.slug
    country = everything[0].datacenter.country_code
    assert country
    prices = sorted(o.price for o in everything if o.configuration.slug == slug)
    cap = prices[len(prices) // 2]
    c = Constraints(
        basic_configuration=slug,
        datacenter=DatacenterFilter(countries=[country]),
    )
    some = client.list_offers(c)
    assert some and len(some) < len(everything)
    assert {o.configuration.slug for o in some} == {slug}
    assert {o.datacenter.country_code for o in some} == {country}
    capped = client.list_offers(
        Constraints(basic_configuration=slug, max_total_price_per_epoch_usd=cap)
    )
    assert capped and all(o.price <= cap for o in capped)


def test_discovery_endpoints_agree_with_the_offers(client: FluenceClient) -> None:
    offers = client.list_offers()
    slugs = client.basic_configurations()
    assert slugs and all(SLUG_RE.match(s) for s in slugs)
    assert {o.configuration.slug for o in offers} <= set(slugs)
    countries = client.countries()
    assert {o.datacenter.country_code for o in offers} <= set(countries)
    hw = client.hardware()
    assert hw.cpu and hw.memory and hw.storage
    assert {s.type for s in hw.storage} <= {"HDD", "SSD", "NVMe"}
    labels = {d.label for d in client.datacenters()}
    assert {o.datacenter.label for o in offers} <= labels


def test_default_images_have_download_urls(client: FluenceClient) -> None:
    images = client.default_images()
    assert images and all(i.download_url.startswith("https://") for i in images)


# --- estimate / deploy / VMs ---------------------------------------------------------------


def test_estimate_prices_the_cheapest_matching_offers(client: FluenceClient) -> None:
    offers = client.list_offers()
    slug = min(offers, key=lambda o: o.price).configuration.slug
    c = Constraints(basic_configuration=slug)
    cheapest = min(o.price for o in client.list_offers(c))
    est = client.estimate(c, 1)
    assert est.instances == 1
    assert est.total_price_per_epoch == est.max_price_per_epoch == cheapest
    assert est.deposit_amount_usdc == est.total_price_per_epoch * est.deposit_epochs
    two = client.estimate(c, 2)
    assert two.total_price_per_epoch >= 2 * cheapest
    assert two.max_price_per_epoch <= two.total_price_per_epoch


def test_estimate_that_cannot_be_met_is_no_matching_offers(client: FluenceClient) -> None:
    with pytest.raises(NoMatchingOffers, match="Not enough offers found"):
        client.estimate(Constraints(max_total_price_per_epoch_usd=Decimal("0.000001")), 1)


def test_deploy_list_status_patch_delete_lifecycle(client: FluenceClient, sim: Simulator) -> None:
    deployed = _deploy(client, "web-t1")
    assert [d.vm_name for d in deployed] == ["web-t1"]
    vm_id = deployed[0].vm_id
    [vm] = [v for v in client.list_vms() if v.id == vm_id]
    assert vm.status in ("New", "Launching") and vm.public_ip is None
    assert vm.price_per_epoch and vm.price_per_epoch > 0

    sim.advance(timedelta(minutes=30))
    [st] = client.vm_status([vm_id])
    assert st.status == "Active" and st.public_ip

    client.patch_vms(
        [VmUpdate(id=vm_id, vm_name="web-t2", open_ports=[Port(port=22), Port(port=80)])]
    )
    [vm] = [v for v in client.list_vms() if v.id == vm_id]
    assert vm.vm_name == "web-t2"
    assert {(p.port, p.protocol) for p in vm.ports} == {(22, "tcp"), (80, "tcp")}

    assert client.delete_vms([vm_id]) is None
    remaining = [v for v in client.list_vms() if v.id == vm_id]
    assert not remaining or remaining[0].status == "Stopped"


def test_vm_status_for_no_ids_makes_no_request(client: FluenceClient, sim: Simulator) -> None:
    assert client.vm_status([]) == []
    assert sim.requests.get("vm_status", 0) == 0


def test_deploy_with_an_impossible_cap_is_no_matching_offers(client: FluenceClient) -> None:
    with pytest.raises(NoMatchingOffers):
        _deploy(client, "web-x", Constraints(max_total_price_per_epoch_usd=Decimal("0.000001")))


def test_deploy_with_a_bad_request_is_a_client_request_error(client: FluenceClient) -> None:
    with pytest.raises(ClientRequestError) as info:
        client.deploy(
            DeployRequest(
                vm_configuration=VmConfiguration(
                    name="web", os_image="not-a-url", ssh_keys=[PUBKEY]
                )
            )
        )
    assert info.value.status == 400 and "osImage" in str(info.value)


# --- SSH keys ------------------------------------------------------------------------------


def test_ssh_keys_add_list_remove(client: FluenceClient) -> None:
    assert client.ssh_keys() == []
    stored = client.add_ssh_key("ops", PUBKEY + " me@host")
    assert stored is not None and stored.fingerprint.startswith("SHA256:")
    [key] = client.ssh_keys()
    assert (key.name, key.fingerprint, key.algorithm) == ("ops", stored.fingerprint, "ssh-ed25519")
    client.remove_ssh_key(key.fingerprint)
    assert client.ssh_keys() == []
    with pytest.raises(ClientRequestError) as info:
        client.remove_ssh_key(key.fingerprint)
    assert info.value.status == 404


# --- auth and faults -----------------------------------------------------------------------


@pytest.mark.parametrize("header", ["bearer", "x-api-key"])
def test_both_auth_headers_are_accepted_and_a_wrong_key_is_refused(
    sim: Simulator, header: str
) -> None:
    api = ApiConfig(base_url="http://127.0.0.1", auth_header=header, max_retries=0)
    good = build_client(api, transport=sim.transport(), api_key=sim.api_key)
    assert good.countries()
    bad = build_client(api, transport=sim.transport(), api_key="sk-wrong-key-000")
    with pytest.raises(AuthError) as info:
        bad.countries()
    assert info.value.status == 403 and info.value.exit_code == 3
    assert "No such API Key" in str(info.value)


@pytest.mark.parametrize("kind", ["server_error", "timeout", "reset", "malformed", "wrong_shape"])
def test_reads_survive_one_injected_fault(
    client: FluenceClient, sim: Simulator, sleeps, kind
) -> None:  # type: ignore[no-untyped-def]
    sim.faults.force_next("hardware", kind)
    assert client.hardware().cpu
    assert sim.requests["hardware"] == 2
    assert sleeps == [0.5]


def test_rate_limit_waits_for_retry_after(client: FluenceClient, sim: Simulator, sleeps) -> None:  # type: ignore[no-untyped-def]
    sim.faults.config.retry_after = 2.5
    sim.faults.force_next("offers", "rate_limit", times=2)
    assert client.list_offers()
    assert sleeps == [2.5, 2.5]


def test_persistent_faults_exhaust_the_retries(
    client: FluenceClient, sim: Simulator, sleeps
) -> None:  # type: ignore[no-untyped-def]
    sim.faults.force_next("estimate", "rate_limit", times=10)
    with pytest.raises(RateLimited):
        client.estimate(Constraints(), 1)
    assert sim.requests["estimate"] == 4 and len(sleeps) == 3


def test_deploy_is_never_retried_and_a_lost_response_leaves_the_vm(
    client: FluenceClient, sim: Simulator, sleeps
) -> None:  # type: ignore[no-untyped-def]
    sim.faults.force_next("deploy", "server_error")
    with pytest.raises(ServerError):
        _deploy(client, "web-a")
    assert sim.requests["deploy"] == 1 and sleeps == []

    sim.faults.force_next("deploy", "lost_response")
    with pytest.raises(TransportError):
        _deploy(client, "web-b")
    assert sim.requests["deploy"] == 2 and sleeps == []
    # the deploy happened although the answer was lost: the caller recovers by name
    assert [v.vm_name for v in client.list_vms()] == ["web-b"]


def test_wrong_shape_on_a_mutating_call_is_a_bad_response(
    client: FluenceClient, sim: Simulator
) -> None:
    sim.faults.force_next("deploy", "wrong_shape")
    with pytest.raises(BadResponse):
        _deploy(client, "web-c")


def test_a_random_fault_rate_is_absorbed_by_retries() -> None:
    """With 20% of read requests failing, every read still succeeds within 4 retries."""
    sim = Simulator(
        seed=11,
        offers=60,
        faults=FaultConfig(
            rate=0.2, weights={"server_error": 1, "rate_limit": 1, "malformed": 1, "reset": 1}
        ),
    )
    sleeps: list[float] = []
    client = build_client(
        ApiConfig(base_url="http://127.0.0.1", max_retries=6),
        transport=sim.transport(),
        api_key=sim.api_key,
        sleep=sleeps.append,
    )
    for _ in range(20):
        assert client.countries()
    assert sleeps  # faults did happen and were retried
