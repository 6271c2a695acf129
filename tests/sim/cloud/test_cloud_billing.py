"""Per-second billing from one balance, the 6-hour rule on create, charges, debt."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import httpx

from optimizer.sim import Simulator
from optimizer.sim.cloud import CloudConfig
from tests.sim.cloud.conftest import Cloud, code, vm_body, want


def hourly(sim: Simulator, vm_id: str) -> Decimal:
    w = sim.cloud
    vm = w.vms[vm_id]
    total = w.vm_hourly(vm)
    total += w.storage_hourly(w.storages[vm.boot_disk or ""])
    return total + w.ip_hourly(w.public_ips[vm.public_ip or ""])


def test_billing_is_per_second_from_the_balance(sim: Simulator, cloud: Cloud) -> None:
    vm = cloud.create()
    w = sim.cloud
    cluster, conf = vm["clusterId"], vm["configurationId"]
    w.set_price(cluster, conf, "0.036000")  # 0.00001 USD per second
    before = sim.balance
    rate = hourly(sim, vm["id"])
    sim.advance(timedelta(seconds=100))  # within one hour: one price
    # exact to Decimal's 28 digits (each resource is charged on its own)
    assert abs(before - sim.balance - rate * 100 / 3600) < Decimal("1e-20")


def test_a_vm_pays_each_hour_s_price(sim: Simulator, cloud: Cloud) -> None:
    """vm_pricing "current": each hour's price applies to the seconds in that hour."""
    vm = cloud.create()
    w = sim.cloud
    sim.advance(timedelta(minutes=55))
    p0 = w.price(vm["clusterId"], vm["configurationId"])
    spent = w.vms[vm["id"]].spent
    sim.advance(timedelta(minutes=10))  # 5 minutes of hour 0, 5 of hour 1
    p1 = w.price(vm["clusterId"], vm["configurationId"])
    assert p0 is not None and p1 is not None and p0 != p1
    expected = (p0 + p1) * 300 / 3600
    assert abs(w.vms[vm["id"]].spent - spent - expected) < Decimal("1e-20")


def test_fixed_pricing_keeps_the_price_at_create() -> None:
    sim = Simulator(seed=7, cloud=CloudConfig(vm_pricing="fixed", failure_rate=0))
    cloud = Cloud(sim)
    vm = cloud.create()
    at_create = sim.cloud.vms[vm["id"]].price_at_create
    sim.cloud.set_price(vm["clusterId"], vm["configurationId"], "5")
    spent = sim.cloud.vms[vm["id"]].spent
    sim.advance(timedelta(hours=2))
    assert sim.cloud.vms[vm["id"]].spent - spent == at_create * 2


def test_balance_endpoint_reports_balance_and_usage(sim: Simulator, cloud: Cloud) -> None:
    cloud.create()
    sim.advance(timedelta(hours=3))
    bal = cloud.http.get("/v2/users/balances").json()
    assert len(bal) == 1
    assert Decimal(bal[0]["balance"]) == sim.balance.quantize(Decimal("0.000001"))
    assert Decimal(bal[0]["usage"]) == sim.cloud.spent().quantize(Decimal("0.000001"))
    assert Decimal(bal[0]["balance"]) + Decimal(bal[0]["usage"]) == Decimal("1000")
    assert bal[0]["usageDaysLeft"] > 30


def test_create_needs_six_hours_of_everything_in_the_balance(
    spec: str, sim: Simulator, cloud: Cloud
) -> None:
    first = cloud.create("one")
    cluster, conf = cloud.first_point()
    w = sim.cloud
    new_hourly = hourly(sim, first["id"])  # the second VM costs the same per hour
    need = (w.hourly_burn() + new_hourly) * 6
    sim.set_balance(need - Decimal("0.01"))
    body = vm_body(cluster, conf, "two", [cloud.key_id()])
    r = cloud.http.post("/v2/vms", json=body)
    assert r.status_code == 422 and code(r) == want(spec, "insufficient_balance")
    assert len(w.vms) == 1 and len(w.storages) == 1  # nothing half-made
    sim.set_balance(need + Decimal("0.01"))
    assert cloud.http.post("/v2/vms", json=body).status_code == 200


def test_charges_total_and_aggregated_add_up(spec: str, sim: Simulator, cloud: Cloud) -> None:
    vm = cloud.create()
    sim.advance(timedelta(hours=30))  # crosses midnight: two days of charges
    total = cloud.http.get("/v1/billing/charges/total").json()
    assert Decimal(total["total"]) == sim.cloud.spent().quantize(Decimal("0.000001"))
    rows = cloud.http.get(
        "/v1/billing/charges/aggregated",
        params={"startDate": "2026-01-01", "endDate": "2026-01-02"},
    ).json()
    assert {r["resourceId"] for r in rows} == {vm["id"], vm["bootDisk"], vm["publicIp"]}
    assert abs(sum(Decimal(r["totalCost"]) for r in rows) - Decimal(total["total"])) < Decimal(
        "0.00001"
    )
    day1 = cloud.http.get(
        "/v1/billing/charges/total", params={"startDate": "2026-01-01", "endDate": "2026-01-01"}
    ).json()
    assert Decimal(day1["total"]) < Decimal(total["total"])
    missing = cloud.http.get("/v1/billing/charges/aggregated")
    assert missing.status_code == 400  # startDate and endDate are required


def test_debt_above_five_dollars_removes_vms_and_ips_not_disks(
    sim: Simulator, cloud: Cloud
) -> None:
    vm = cloud.create()
    sim.advance(timedelta(minutes=5))
    sim.cloud.set_price(vm["clusterId"], vm["configurationId"], "10")
    sim.set_balance("1")
    sim.advance(timedelta(hours=1))
    w = sim.cloud
    assert w.vms[vm["id"]].status == "terminated"
    assert w.public_ips[vm["publicIp"]].status in ("removing", "removed")
    assert w.storages[vm["bootDisk"]].status == "ready"


def test_read_only_key_reads_but_cannot_write(spec: str, sim: Simulator, cloud: Cloud) -> None:
    ro = httpx.Client(base_url="http://sim.local", transport=sim.transport("cloud"),
                      headers={"X-API-KEY": sim.cloud.read_only_key})  # fmt: skip
    assert ro.get("/v2/vms").status_code == 200
    r = ro.post("/v2/vms", json={})
    assert r.status_code == 403 and code(r) == want(spec, "forbidden")


def test_large_debt_removes_disks_too(sim: Simulator, cloud: Cloud) -> None:
    vm = cloud.create()
    sim.advance(timedelta(minutes=5))
    sim.cloud.set_price(vm["clusterId"], vm["configurationId"], "40")
    sim.set_balance("0")
    sim.advance(timedelta(hours=1))  # 40 USD of debt: past 20
    assert sim.cloud.storages[vm["bootDisk"]].status in ("removing", "removed")


def test_old_small_debt_removes_vms_after_three_days(sim: Simulator, cloud: Cloud) -> None:
    vm = cloud.create()
    sim.advance(timedelta(minutes=5))
    sim.cloud.set_price(vm["clusterId"], vm["configurationId"], "0.001")
    sim.set_balance("0")
    sim.advance(timedelta(days=2, hours=23))
    assert -sim.balance < 5 and sim.cloud.vms[vm["id"]].status == "launched"
    sim.advance(timedelta(hours=2))
    assert sim.cloud.vms[vm["id"]].status == "terminated"
