"""Deploy, estimate, lifecycle, billing to the cent, capacity, terminations, VM endpoints."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import httpx
import pytest

from optimizer.fluence.models import Offer, Vm
from optimizer.sim import SimConfig, Simulator

KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl t@x"
IMAGE = (
    "https://cloud-images.ubuntu.com/releases/22.04/release/ubuntu-22.04-server-cloudimg-amd64.img"
)
SMALL = "cpu-2-ram-4gb-storage-25gb"


def body(
    name: str = "web-1", instances: int = 1, constraints: dict | None = None, **cfg: object
) -> dict:
    out: dict = {
        "instances": instances,
        "vmConfiguration": {"name": name, "osImage": IMAGE, "sshKeys": [KEY], **cfg},
    }
    if constraints is not None:
        out["constraints"] = constraints
    return out


@pytest.fixture
def sim() -> Simulator:
    return Simulator(seed=7, config=SimConfig(termination_rate=0.0))


@pytest.fixture
def http(sim: Simulator) -> httpx.Client:
    return sim.http_client()


def listed(http: httpx.Client, **filters: object) -> list[Offer]:
    return [Offer.model_validate(o) for o in http.post("/marketplace/offers", json=filters).json()]


def vms(http: httpx.Client) -> dict[str, Vm]:
    r = http.get("/vms/v3")
    assert r.status_code == 200
    return {v["id"]: Vm.model_validate(v) for v in r.json()}


def deploy(http: httpx.Client, *args: object, **kw: object) -> list[str]:
    r = http.post("/vms/v3", json=body(*args, **kw))  # type: ignore[arg-type]
    assert r.status_code == 200, r.text
    return [d["vmId"] for d in r.json()]


def test_deploy_picks_the_cheapest_matching_offer_under_the_cap(
    sim: Simulator, http: httpx.Client
) -> None:
    c = {"basicConfiguration": SMALL, "datacenter": {"countries": ["DE", "US", "FR"]}}
    cands = sorted(listed(http, **c), key=lambda o: o.price)
    cheapest = cands[0]
    [vm_id] = deploy(http, "a-1", constraints=c)
    vm = vms(http)[vm_id]
    assert vm.price_per_epoch == cheapest.price
    assert vm.datacenter.label == cheapest.datacenter.label
    # a cap just below the cheapest price skips it: the next one is chosen, or nothing
    cap = {**c, "maxTotalPricePerEpochUsd": str(cands[0].price - Decimal("0.00001"))}
    r = http.post("/vms/v3", json=body("a-2", constraints=cap))
    assert (r.status_code, r.json()) == (422, {"error": "No suitable offer found"})
    cap["maxTotalPricePerEpochUsd"] = str(cands[1].price)
    [second] = deploy(http, "a-3", constraints=cap)
    expect = cands[0].price if cands[0].capacity > 1 else cands[1].price
    assert vms(http)[second].price_per_epoch == expect


def test_no_constraints_means_smallest_configuration_cheapest_price(http: httpx.Client) -> None:
    smallest = min(
        (o for o in listed(http) if o.configuration.slug == SMALL), key=lambda o: o.price
    )
    [vm_id] = deploy(http, "any-1")
    vm = vms(http)[vm_id]
    assert vm.price_per_epoch == smallest.price
    assert next(r for r in vm.resources if r.type == "VCPU").quantity == 2


def test_not_enough_offers_when_capacity_runs_short(sim: Simulator, http: httpx.Client) -> None:
    c = {"basicConfiguration": SMALL, "datacenter": {"countries": ["PL"]}}
    capacity = sum(o.capacity for o in listed(http, **c))
    assert capacity > 0
    r = http.post("/vms/v3", json=body("big-1", capacity + 1, c))
    assert (r.status_code, r.json()) == (422, {"error": "Not enough offers found"})
    r = http.post("/vms/v3/estimate", json={"constraints": c, "instances": capacity + 1})
    assert (r.status_code, r.json()) == (422, {"error": "Not enough offers found"})
    assert vms(http) == {}, "a failed deploy creates nothing"
    ids = deploy(http, "big-1", capacity, c)
    assert len(ids) == capacity and {v.vm_name for v in vms(http).values()} == {"big-1"}
    assert listed(http, **c) == [], "full offers are not listed"


def test_estimate_equals_what_deploy_then_charges(sim: Simulator, http: httpx.Client) -> None:
    c = {"basicConfiguration": "cpu-4-ram-8gb-storage-25gb"}
    est = http.post("/vms/v3/estimate", json={"constraints": c, "instances": 4}).json()
    assert est["depositEpochs"] == 2 and est["instances"] == 4
    assert Decimal(est["depositAmountUsdc"]) == 2 * Decimal(est["totalPricePerEpoch"])
    assert len(est["totalPricePerEpoch"].split(".")[1]) == 5
    before = sim.balance
    ids = deploy(http, "est-1", 4, c)
    prices = [vms(http)[i].price_per_epoch for i in ids]
    assert sum(prices) == Decimal(est["totalPricePerEpoch"])
    assert max(prices) == Decimal(est["maxPricePerEpoch"])
    assert before - sim.balance == Decimal(est["depositAmountUsdc"])


def test_lifecycle_new_launching_active_with_ip(sim: Simulator, http: httpx.Client) -> None:
    [vm_id] = deploy(http, "life-1", openPorts=[{"port": 80, "protocol": "tcp"}])
    vm = vms(http)[vm_id]
    assert (vm.status, vm.public_ip) == ("New", None)
    assert vm.created_at == sim.now() and vm.next_billing_at == sim.now() + timedelta(days=1)
    assert [(p.port, p.protocol) for p in vm.ports] == [(22, "tcp"), (80, "tcp")]
    statuses = []
    for _ in range(20):
        sim.advance(timedelta(seconds=30))
        statuses.append(vms(http)[vm_id].status)
    assert statuses[0] == "New" and statuses[-1] == "Active"
    assert "Launching" in statuses
    assert statuses.index("Launching") < statuses.index("Active")
    assert vms(http)[vm_id].public_ip
    st = http.get("/vms/v3/status", params={"ids": vm_id}).json()
    assert st == [{"id": vm_id, "status": "Active", "publicIp": vms(http)[vm_id].public_ip}]


def test_billing_to_the_cent_charge_reserve_daily_and_refund(
    sim: Simulator, http: httpx.Client
) -> None:
    start = sim.balance
    [vm_id] = deploy(http, "bill-1")
    p = vms(http)[vm_id].price_per_epoch
    vm = vms(http)[vm_id]
    assert (vm.total_spent, vm.reserved_balance) == (p, p)
    assert sim.balance == start - 2 * p
    # prices move, but the VM keeps its deploy-time price (rental agreement)
    sim.advance(timedelta(days=3, hours=1))
    vm = vms(http)[vm_id]
    assert vm.price_per_epoch == p
    assert vm.total_spent == 4 * p  # creation + 3 daily charges
    assert vm.reserved_balance == p
    assert sim.balance == start - 5 * p
    assert vm.next_billing_at == vm.created_at + timedelta(days=4)
    # delete: reserve refunded, the current epoch is not
    r = http.request("DELETE", "/vms/v3", json={"vmIds": [vm_id]})
    assert r.status_code == 200 and len(r.json()["transactions"]) == 1
    vm = vms(http)[vm_id]
    assert (vm.status, vm.reserved_balance, vm.total_spent) == ("Stopped", Decimal(0), 4 * p)
    assert sim.balance == start - 4 * p
    assert sim.spent_by_vm()[vm_id] == 4 * p
    assert sum(e.amount for e in sim.ledger if e.kind in ("charge", "charge_reserve")) == 4 * p
    # stopped VMs drop out of the list after a while
    sim.advance(timedelta(hours=1))
    assert vm_id not in vms(http)
    # and are no longer charged
    sim.advance(timedelta(days=2))
    assert sim.balance == start - 4 * p


def test_capacity_is_consumed_by_deploy_and_freed_by_delete(
    sim: Simulator, http: httpx.Client
) -> None:
    o = sim.add_offer(configuration=SMALL, country="FI", price="0.05", capacity=2)
    c = {"basicConfiguration": SMALL, "datacenter": {"countries": ["FI"]}}
    ids = deploy(http, "cap-1", 2, c)
    assert o.capacity == 0
    assert o.key not in {x.offer_key for x in listed(http)}
    assert all(vms(http)[i].price_per_epoch == Decimal("0.05") for i in ids)
    http.request("DELETE", "/vms/v3", json={"vmIds": ids[:1]})
    assert o.capacity == 1
    [again] = deploy(http, "cap-2", 1, c)
    assert vms(http)[again].price_per_epoch == Decimal("0.05")


def test_cheaper_offer_appearing_is_what_the_next_deploy_gets(
    sim: Simulator, http: httpx.Client
) -> None:
    c = {"basicConfiguration": SMALL}
    [old] = deploy(http, "mig-1", 1, c)
    p_old = vms(http)[old].price_per_epoch
    sim.advance(timedelta(hours=6))
    o = sim.add_offer(configuration=SMALL, price=p_old / 2, capacity=1)
    est = http.post(
        "/vms/v3/estimate",
        json={
            "constraints": {**c, "maxTotalPricePerEpochUsd": str(p_old * Decimal("0.9"))},
            "instances": 1,
        },
    ).json()
    assert Decimal(est["totalPricePerEpoch"]) == o.pinned
    assert vms(http)[old].price_per_epoch == p_old


def test_provider_termination_holds_reserve_until_delete(
    sim: Simulator, http: httpx.Client
) -> None:
    [vm_id] = deploy(http, "term-1")
    sim.advance(timedelta(minutes=10))
    p = vms(http)[vm_id].price_per_epoch
    balance = sim.balance
    sim.terminate(vm_id)
    vm = vms(http)[vm_id]
    assert (vm.status, vm.datacenter, vm.public_ip) == ("Terminated", None, None)
    assert vm.reserved_balance == p
    sim.advance(timedelta(days=2))
    vm = vms(http)[vm_id]
    assert vm.status == "Terminated" and vm.total_spent == p, "no billing after termination"
    http.request("DELETE", "/vms/v3", json={"vmIds": [vm_id]})
    assert sim.balance == balance + p
    assert vms(http)[vm_id].reserved_balance == 0


def test_random_terminations_follow_the_rate_and_are_deterministic() -> None:
    def run() -> list[tuple[str, str]]:
        sim = Simulator(seed=3, config=SimConfig(termination_rate=2.0))
        http = sim.http_client()
        deploy(http, "t-1", 10)
        sim.advance(timedelta(days=2))
        return sorted((v.id, v.status) for v in vms(http).values())

    first = run()
    assert first == run()
    statuses = [s for _, s in first]
    assert "Terminated" in statuses
    quiet = Simulator(seed=3, config=SimConfig(termination_rate=0.0))
    deploy(quiet.http_client(), "t-1", 10)
    quiet.advance(timedelta(days=5))
    assert {v.status for v in quiet.vms.values()} == {"Active"}


def test_small_balance_then_insufficient_funds_then_recovery(
    sim: Simulator, http: httpx.Client
) -> None:
    [vm_id] = deploy(http, "low-1")
    p = vms(http)[vm_id].price_per_epoch
    sim.advance(timedelta(minutes=10))
    sim.set_balance(p / 2)
    assert vms(http)[vm_id].status == "SmallBalance"
    sim.advance(timedelta(days=1))  # reserve pays this epoch; top-up fails
    vm = vms(http)[vm_id]
    assert (vm.status, vm.reserved_balance, vm.total_spent) == ("SmallBalance", 0, 2 * p)
    sim.advance(timedelta(days=1))  # nothing left to pay with
    assert vms(http)[vm_id].status == "InsufficientFunds"
    assert vms(http)[vm_id].total_spent == 2 * p
    sim.deposit("100")
    sim.advance(timedelta(days=1))
    vm = vms(http)[vm_id]
    assert vm.status == "Active" and vm.total_spent == 3 * p


def test_deposit_larger_than_balance_is_refused(sim: Simulator, http: httpx.Client) -> None:
    sim.set_balance("0.10")
    r = http.post("/vms/v3", json=body("poor-1"))
    assert r.status_code == 400 and "balance" in r.json()["error"].lower()
    assert sim.vms == {}


@pytest.mark.parametrize(
    ("change", "fragment"),
    [
        ({"name": "bad_name!"}, "name"),
        ({"osImage": "https://example.com/image.iso"}, "osImage"),
        ({"sshKeys": []}, "SSH key"),
        ({"sshKeys": ["no-such-key"]}, "SSH key"),
        ({"openPorts": [{"port": 10250, "protocol": "tcp"}]}, "reserved"),
        ({"openPorts": [{"port": 80, "protocol": "icmp"}]}, "protocol"),
    ],
)
def test_deploy_validation_errors_are_400_with_a_message(
    http: httpx.Client, change: dict, fragment: str
) -> None:
    b = body("ok-1")
    b["vmConfiguration"].update(change)
    r = http.post("/vms/v3", json=b)
    assert r.status_code == 400
    assert fragment.lower() in r.json()["error"].lower()


def test_stored_ssh_key_name_is_accepted_for_deploy(http: httpx.Client) -> None:
    r = http.post("/ssh_keys", json={"name": "ops", "publicKey": KEY})
    assert r.status_code == 200
    b = body("named-1")
    b["vmConfiguration"]["sshKeys"] = ["ops"]
    assert http.post("/vms/v3", json=b).status_code == 200


def test_patch_renames_and_replaces_ports(sim: Simulator, http: httpx.Client) -> None:
    [vm_id] = deploy(http, "p-1")
    upd = {
        "updates": [{"id": vm_id, "vmName": "p-2", "openPorts": [{"port": 443, "protocol": "tcp"}]}]
    }
    r = http.patch("/vms/v3", json=upd)
    assert r.status_code == 204 and r.content == b""
    vm = vms(http)[vm_id]
    assert vm.vm_name == "p-2"
    assert [(p.port, p.protocol) for p in vm.ports] == [(443, "tcp")], (
        "22 closed: openPorts replaces"
    )
    r = http.patch("/vms/v3", json={"updates": [{"id": "0x" + "0" * 40, "vmName": "x"}]})
    assert r.status_code == 404
    r = http.patch("/vms/v3", json={"updates": [{"id": vm_id, "openPorts": [{"port": 10250}]}]})
    assert r.status_code == 400


def test_delete_unknown_vm_is_404_and_repeat_delete_is_harmless(
    sim: Simulator, http: httpx.Client
) -> None:
    r = http.request("DELETE", "/vms/v3", json={"vmIds": ["0x" + "1" * 40]})
    assert r.status_code == 404 and "error" in r.json()
    [vm_id] = deploy(http, "d-1")
    for _ in range(2):
        assert http.request("DELETE", "/vms/v3", json={"vmIds": [vm_id]}).status_code == 200
    assert sum(1 for e in sim.ledger if e.kind == "refund") == 1


def test_status_endpoint_accepts_comma_and_repeated_ids(sim: Simulator, http: httpx.Client) -> None:
    a, b, c = deploy(http, "s-1", 3)
    both = http.get(f"/vms/v3/status?ids={a},{b}").json()
    assert {s["id"] for s in both} == {a, b}
    rep = http.get("/vms/v3/status", params=[("ids", a), ("ids", c)]).json()
    assert {s["id"] for s in rep} == {a, c}
    assert all(set(s) == {"id", "status", "publicIp"} for s in rep)


def test_foreign_vm_is_listed_active_and_billed(sim: Simulator, http: httpx.Client) -> None:
    vm = sim.add_foreign_vm(name="hand-made")
    got = vms(http)[vm.id]
    assert (got.vm_name, got.status) == ("hand-made", "Active") and got.public_ip
    assert got.total_spent == got.price_per_epoch


def test_ssh_keys_add_list_remove_with_openssh_fingerprint(http: httpx.Client) -> None:
    import base64
    import hashlib

    r = http.post("/ssh_keys", json={"name": "laptop", "publicKey": KEY})
    assert r.status_code == 200
    blob = base64.b64decode(KEY.split()[1])
    fp = "SHA256:" + base64.b64encode(hashlib.sha256(blob).digest()).decode().rstrip("=")
    [k] = http.get("/ssh_keys").json()
    assert (k["name"], k["fingerprint"], k["algorithm"], k["comment"]) == (
        "laptop",
        fp,
        "ssh-ed25519",
        "t@x",
    )
    assert http.post("/ssh_keys", json={"name": "again", "publicKey": KEY}).status_code == 400
    assert (
        http.post("/ssh_keys", json={"name": "junk", "publicKey": "not a key"}).status_code == 400
    )
    assert http.request("DELETE", "/ssh_keys", json={"fingerprint": fp}).status_code == 200
    assert http.get("/ssh_keys").json() == []
    assert http.request("DELETE", "/ssh_keys", json={"fingerprint": fp}).status_code == 404


def test_default_images_are_deployable(http: httpx.Client) -> None:
    images = http.get("/vms/v3/default_images").json()
    assert images and all({"id", "name", "downloadUrl", "createdAt"} <= set(i) for i in images)
    b = body("img-1")
    b["vmConfiguration"]["osImage"] = images[-1]["downloadUrl"]
    assert http.post("/vms/v3", json=b).status_code == 200


def test_vm_ids_and_ips_are_deterministic_for_a_seed() -> None:
    def run() -> list[tuple[str, str | None]]:
        sim = Simulator(seed=21)
        http = sim.http_client()
        deploy(http, "det-1", 3)
        sim.advance(timedelta(minutes=10))
        return sorted((v.id, v.public_ip) for v in vms(http).values())

    assert run() == run()
