"""On the cloud generation the planner compares whole VMs per 24 h: the VM's hourly price
plus its boot disk and public IP at its cluster's prices, × 24. Offers come from the cloud
simulator in process, through the real adapter."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from planner_helpers import NOW, fleet, plan

from optimizer.config import ApiConfig
from optimizer.fluence.cloud.adapter import CloudApi
from optimizer.fluence.generation import connect
from optimizer.fluence.models import Vm
from optimizer.fluence.offer_listings import offer_models, scan_offers
from optimizer.planner import MarketView
from optimizer.planner.market_view import market_view, owned_vm
from optimizer.planner.whole_price import whole_price_per_epoch
from optimizer.sim import Simulator

SLUG = "cpu-regular-2vcpu-4gb"
D = Decimal


@pytest.fixture(scope="module")
def cloud() -> tuple[Simulator, CloudApi, str, str]:
    """A cloud market where SLUG sells in two clusters only: A has the cheaper VM but a
    dear public IP, B the dearer VM and a cheap IP; the same disk price in both."""
    sim = Simulator(seed=5)
    api = connect(
        ApiConfig(generation="cloud"), transport=sim.transport("cloud"), api_key=sim.api_key
    )
    assert isinstance(api, CloudApi)
    conf = sim.cloud.catalog.configuration(SLUG)
    assert conf is not None
    selling = [cl for cl, cid, _ in sim.cloud.price_points() if cid == conf.id]
    a, b = selling[:2]
    for other in selling[2:]:
        sim.cloud.unprice(other, SLUG)
    for cl, vm_price, ip in ((a, "0.0100", "0.05"), (b, "0.0110", "0.005")):
        sim.cloud.set_price(cl, SLUG, vm_price)
        sim.cloud.set_capacity(cl, SLUG, 5)
        sim.cloud.set_resource_prices(cl, storage_gb_hour="0.00015", public_ip_hour=ip)
    return sim, api, a, b


def _market(api: CloudApi) -> MarketView:
    return market_view(api.list_offers(), taken_at=NOW)


def _fleet(**kw):  # type: ignore[no-untyped-def]
    return fleet(instances=1, constraints={"configurations": [SLUG], **kw.pop("c", {})}, **kw)


def test_offers_carry_their_clusters_disk_and_ip_prices(cloud) -> None:  # type: ignore[no-untyped-def]
    sim, api, a, b = cloud
    offers = {o.cluster_id: o for o in api.list_offers() if o.configuration.slug == SLUG}
    assert set(offers) == {a, b}
    assert offers[a].disk_price_per_gb == D("0.00015") and offers[a].public_ip_price == D("0.05")
    assert offers[b].public_ip_price == D("0.005")
    # every price point of the simulator says what its cluster's disk and IP cost
    for o in api.list_offers():
        cl = sim.cloud.catalog.cluster(o.cluster_id or "")
        assert cl is not None
        assert (o.disk_price_per_gb, o.public_ip_price) == (cl.storage_gb_hour, cl.public_ip_hour)
    # the snapshot's raw answer carries them to the planner's models and the store's scan
    answer = api.offers_answer()
    want = {(o.offer_key, o.disk_price_per_gb, o.public_ip_price) for o in api.list_offers()}
    assert {
        (o.offer_key, o.disk_price_per_gb, o.public_ip_price) for o in offer_models(answer)
    } == want
    assert {
        (x.key, x.disk_price_per_gb, x.public_ip_price) for x in scan_offers(answer).listings
    } == want


def test_the_whole_price_is_24_hours_of_vm_disk_and_ip(cloud) -> None:  # type: ignore[no-untyped-def]
    _, api, a, b = cloud
    by = {o.cluster_id: o for o in _market(api).offers if o.configuration == SLUG}
    f = _fleet()
    # A: 24 × (0.0100 + 25 GB × 0.00015 + 0.05); B: 24 × (0.0110 + 0.00375 + 0.005)
    assert whole_price_per_epoch(by[a], f) == D("1.53")
    assert whole_price_per_epoch(by[b], f) == D("0.474")
    assert whole_price_per_epoch(by[b], _fleet(public_ip=False, disk_gb=40)) == D("0.408")


def test_a_cheaper_vm_with_a_dearer_ip_loses_on_the_whole(cloud) -> None:  # type: ignore[no-untyped-def]
    _, api, a, b = cloud
    [deploy] = plan(_fleet(), [], _market(api)).actions
    assert deploy.offer is not None and deploy.offer.cluster_id == b
    assert deploy.expected_price == D("0.474") and deploy.cap == D("0.474")
    assert deploy.constraints is not None and deploy.constraints.cluster_id == b
    # without a public IP the cheaper VM is the cheaper whole
    [no_ip] = plan(_fleet(public_ip=False), [], _market(api)).actions
    assert no_ip.offer is not None and no_ip.offer.cluster_id == a
    assert no_ip.expected_price == D("0.33")


def test_the_fleets_cap_applies_to_the_whole_vm(cloud) -> None:  # type: ignore[no-untyped-def]
    _, api, _, b = cloud
    # B's VM alone is 0.264 per 24 h, under the cap; with its disk and IP it is 0.474
    capped = plan(_fleet(c={"max_price_per_epoch_usd": "0.45"}), [], _market(api))
    assert capped.actions == ()
    loose = plan(_fleet(c={"max_price_per_epoch_usd": "0.48"}), [], _market(api))
    assert [a.offer.cluster_id for a in loose.actions if a.offer] == [b]


def test_a_cap_per_hour_applies_to_the_whole_vm_too(cloud) -> None:  # type: ignore[no-untyped-def]
    _, api, _, b = cloud
    # B whole: 0.474 per 24 h = 0.01975 per hour; its VM alone is 0.0110 per hour
    capped = plan(_fleet(c={"max_price_per_hour_usd": "0.019"}), [], _market(api))
    assert capped.actions == ()
    loose = plan(_fleet(c={"max_price_per_hour_usd": "0.02"}), [], _market(api))
    assert [a.offer.cluster_id for a in loose.actions if a.offer] == [b]


def _cloud_vm(cluster: str, *, ip: bool) -> Vm:
    return Vm(
        id="vm-1",
        vm_name="web-abc",
        status="Active",
        created_at=NOW - timedelta(days=10),
        cluster_id=cluster,
        configuration_slug=SLUG,
        price_per_hour=D("0.0100"),
        boot_disk_id="disk-1",
        public_ip_id="ip-1" if ip else None,
        resources=[],
    )


def test_a_cloud_vm_is_priced_whole_and_moves_when_the_whole_is_cheaper(cloud) -> None:  # type: ignore[no-untyped-def]
    _, api, a, b = cloud
    mine = owned_vm(_cloud_vm(a, ip=True))
    assert (mine.price, mine.price_unit, mine.has_public_ip) == (D("0.0100"), "hour", True)
    p = plan(_fleet(policy={"cooldown_epochs": 0}), [mine], _market(api))
    assert p.cost_per_epoch_now == D("1.53")
    [move] = p.actions
    assert move.kind == "migrate" and move.offer is not None and move.offer.cluster_id == b
    assert (move.old_price, move.expected_price) == (D("1.53"), D("0.474"))


def test_a_cloud_vm_without_an_ip_is_not_charged_for_one(cloud) -> None:  # type: ignore[no-untyped-def]
    _, api, a, _ = cloud
    mine = owned_vm(_cloud_vm(a, ip=False))
    p = plan(_fleet(policy={"cooldown_epochs": 0}), [mine], _market(api))
    # 24 × (0.0100 + 0.00375): already cheaper than any whole VM with an IP
    assert p.cost_per_epoch_now == D("0.33")
    assert p.actions == ()


def test_a_cluster_that_does_not_price_its_disk_or_ip_is_left_out() -> None:
    """The fake lists disk and IP prices for cluster A only: B's price points cannot be
    priced whole, so no plan aims at them (and a fleet without IP still needs the disk)."""
    from tests.fluence.cloud.fake import CL_A, CL_B, KEY, FakeCloud

    api = connect(
        ApiConfig(base_url="https://api.example.test", generation="cloud"),
        transport=FakeCloud().transport(),
        api_key=KEY,
    )
    assert isinstance(api, CloudApi)
    offers = api.list_offers()
    extras = {(o.cluster_id, o.disk_price_per_gb, o.public_ip_price) for o in offers}
    assert extras == {(CL_A, D("0.00012"), D("0.005")), (CL_B, None, None)}
    for f in (fleet(instances=2), fleet(instances=2, public_ip=False)):
        p = plan(f, [], market_view(offers, taken_at=NOW))
        assert p.actions and {a.offer.cluster_id for a in p.actions if a.offer} == {CL_A}


def test_an_offers_day_and_week_levels_become_whole_prices_per_24_h(cloud) -> None:  # type: ignore[no-untyped-def]
    """The analysis works in the offer's own unit (USD per hour of the VM alone); the
    planner compares whole VMs per 24 h, so both levels take the cluster's disk and IP."""
    from optimizer.planner import Trends
    from optimizer.planner.whole_price import priced_trends

    _, api, _, b = cloud
    m = _market(api)
    key = next(o.offer_key for o in m.offers if o.cluster_id == b and o.configuration == SLUG)
    t = Trends(levels={key: (D("0.0110"), D("0.001"))}, week_levels={key: D("0.0120")})
    out = priced_trends(t, m, _fleet())
    assert out is not None
    # 24 × (0.0110 + 0.00375 + 0.005); the week: 24 × (0.0120 + 0.00375 + 0.005)
    assert out.levels[key] == (D("0.474"), D("0.024"))
    assert out.week_levels[key] == D("0.498")
