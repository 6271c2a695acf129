"""VMs on the cloud face: lifecycle, names, allowed actions, disks and IPs that outlive
their VM, pagination and filters, both deletion routes."""

from __future__ import annotations

from datetime import timedelta

import httpx
import pytest

from optimizer.sim import Simulator
from optimizer.sim.cloud import CloudConfig
from tests.sim.cloud.conftest import Cloud, code, vm_body, want


def test_vm_goes_new_launching_launched_then_terminating_terminated(
    sim: Simulator, cloud: Cloud
) -> None:
    vm = cloud.create()
    assert vm["status"] == "new" and vm["publicIp"] and vm["bootDisk"]
    sim.advance(timedelta(seconds=70))
    assert cloud.vm(vm["id"])["status"] == "launching"
    sim.advance(timedelta(minutes=3))
    launched = cloud.vm(vm["id"])
    assert launched["status"] == "launched" and launched["readySince"]
    r = cloud.http.post(f"/v2/vms/{vm['id']}/terminate")
    assert r.status_code == 200 and r.json()["status"] == "terminating"
    sim.advance(timedelta(minutes=2))
    ended = cloud.vm(vm["id"])
    assert ended["status"] == "terminated" and ended["terminatedAt"]


def test_disk_and_ip_survive_the_vm_detached_and_billing(sim: Simulator, cloud: Cloud) -> None:
    vm = cloud.create()
    sim.advance(timedelta(minutes=5))
    ip = cloud.http.get("/v1/public_ips", params={"ids": vm["publicIp"]}).json()["items"][0]
    assert ip["status"] == "ready" and ip["address"] and ip["attachedTo"]
    cloud.http.post(f"/v2/vms/{vm['id']}/terminate")
    sim.advance(timedelta(minutes=5))
    disk = cloud.http.get("/v1/storages", params={"ids": vm["bootDisk"]}).json()["items"][0]
    ip = cloud.http.get("/v1/public_ips", params={"ids": vm["publicIp"]}).json()["items"][0]
    assert disk["status"] == "ready" and disk["attachedTo"] == []
    assert ip["status"] == "ready" and ip["attachedTo"] is None
    spent = sim.cloud.storages[vm["bootDisk"]].spent
    sim.advance(timedelta(hours=1))
    assert sim.cloud.storages[vm["bootDisk"]].spent > spent
    vm_spent = sim.cloud.vms[vm["id"]].spent
    sim.advance(timedelta(hours=1))
    assert sim.cloud.vms[vm["id"]].spent == vm_spent  # the VM's meter stopped


def test_terminate_is_not_allowed_while_new_and_says_406(
    spec: str, sim: Simulator, cloud: Cloud
) -> None:
    vm = cloud.create()
    r = cloud.http.post(f"/v2/vms/{vm['id']}/terminate")
    assert r.status_code == 406
    assert code(r) == want(spec, "not_acceptable") and "new" in r.json()["error"]


def test_allowed_actions_follow_status_in_0_10() -> None:
    sim = Simulator(seed=7, cloud=CloudConfig(failure_rate=0.0))
    cloud = Cloud(sim)
    vm = cloud.create()
    assert vm["allowedActions"] == []
    sim.advance(timedelta(minutes=5))
    assert "terminate" in cloud.vm(vm["id"])["allowedActions"]


@pytest.mark.parametrize("name", ["Web-1", "web_1", "-web", "web-", "a" * 26, "", "wéb"])
def test_names_are_lowercase_letters_digits_hyphens_up_to_25(
    spec: str, cloud: Cloud, name: str
) -> None:
    cluster, conf = cloud.first_point()
    r = cloud.http.post("/v2/vms", json={**vm_body(cluster, conf, "ok"), "name": name})
    assert r.status_code == 422 and code(r) == want(spec, "unprocessable_entity")


def test_a_25_character_name_is_fine(cloud: Cloud) -> None:
    assert cloud.create("a" * 24 + "z")["name"] == "a" * 24 + "z"


def test_failed_launches_leave_disk_and_ip_billing() -> None:
    sim = Simulator(seed=7, cloud=CloudConfig(failure_rate=1.0))
    cloud = Cloud(sim)
    vm = cloud.create()
    sim.advance(timedelta(minutes=10))
    assert cloud.vm(vm["id"])["status"] == "failed"
    assert sim.cloud.storages[vm["bootDisk"]].billable
    assert sim.cloud.public_ips[vm["publicIp"]].billable
    assert not sim.cloud.vms[vm["id"]].billable
    assert cloud.http.post(f"/v2/vms/{vm['id']}/terminate").json()["status"] == "terminated"


@pytest.mark.parametrize(("rate", "low", "high"), [(None, 20, 24), (0.5, 6, 18)])
def test_launches_fail_at_the_configured_rate(rate: float | None, low: int, high: int) -> None:
    """Default: a small rate (2 %); the rate is a knob."""
    sim = Simulator(
        seed=11, cloud=CloudConfig() if rate is None else CloudConfig(failure_rate=rate)
    )
    cloud = Cloud(sim)
    sim.set_balance("100000")
    sim.cloud.set_capacity(*cloud.first_point(), 100)
    ids = [cloud.create(f"vm-{i}")["id"] for i in range(24)]
    sim.advance(timedelta(minutes=10))
    statuses = [sim.cloud.vms[i].status for i in ids]
    assert set(statuses) <= {"launched", "failed"}
    assert low <= statuses.count("launched") <= high


def test_pagination_uses_the_spec_s_page_size_name(spec: str, sim: Simulator, cloud: Cloud) -> None:
    for i in range(5):
        cloud.create(f"vm-{i}")
    mine = "per_page" if spec == "0.8.210" else "perPage"
    other = "perPage" if spec == "0.8.210" else "per_page"
    page = cloud.http.get("/v2/vms", params={mine: 2, "page": 3}).json()
    assert len(page["items"]) == 1
    assert page["pagination"] == {"totalRecords": 5, "filteredRecords": 5, "totalPages": 3,
                                  "currentPage": 3, "perPage": 2}  # fmt: skip
    ignored = cloud.http.get("/v2/vms", params={other: 2}).json()
    assert len(ignored["items"]) == 5  # the other spelling is unknown to this server
    seen = set()
    for n in (1, 2, 3):
        seen |= {
            v["id"] for v in cloud.http.get("/v2/vms", params={mine: 2, "page": n}).json()["items"]
        }
    assert len(seen) == 5


def test_filters_by_name_status_and_cluster(spec: str, sim: Simulator, cloud: Cloud) -> None:
    a = cloud.create("web-aaa")
    cloud.create("db-bbb")
    sim.advance(timedelta(minutes=5))
    cloud.http.post(f"/v2/vms/{a['id']}/terminate")
    by_name = cloud.http.get("/v2/vms", params={"name": "web-aaa"}).json()["items"]
    assert [v["id"] for v in by_name] == [a["id"]]
    live = cloud.http.get("/v2/vms", params={"status": "launched"}).json()["items"]
    assert [v["name"] for v in live] == ["db-bbb"]
    if spec == "0.10.0":
        rest = cloud.http.get("/v2/vms", params={"excludeStatus": ["terminating", "new"]})
        assert [v["name"] for v in rest.json()["items"]] == ["db-bbb"]
    assert cloud.http.get("/v2/vms", params={"status": "bogus"}).status_code == 400


def test_get_one_vm_exists_only_in_0_10_and_expands(
    spec: str, sim: Simulator, cloud: Cloud
) -> None:
    vm = cloud.create()
    r = cloud.http.get(f"/v2/vms/{vm['id']}", params={"expand": ["bootDisk", "publicIp"]})
    if spec == "0.8.210":
        assert r.status_code == 405  # only PATCH exists on that path in 0.8.210
        listed = cloud.http.get("/v2/vms", params={"expand": "bootDisk"}).json()["items"][0]
        assert "expanded" not in listed  # 0.8.210 ignores expand
        return
    assert r.status_code == 200
    ex = r.json()["expanded"]
    assert ex["bootDisk"]["id"] == vm["bootDisk"] and ex["publicIp"]["id"] == vm["publicIp"]
    assert ex["publicIp"]["attachedTo"] == {"id": vm["id"], "name": vm["name"]}


def test_rename_vm(cloud: Cloud) -> None:
    vm = cloud.create()
    r = cloud.http.patch(f"/v2/vms/{vm['id']}", json={"name": "renamed-1"})
    assert r.status_code == 200 and r.json()["name"] == "renamed-1"
    assert cloud.http.patch(f"/v2/vms/{vm['id']}", json={"name": "Bad!"}).status_code == 422


def test_delete_disks_and_ips_both_ways(spec: str, sim: Simulator, cloud: Cloud) -> None:
    vm = cloud.create()
    sim.advance(timedelta(minutes=5))
    attached = cloud.http.post("/v1/storages/delete", json={"ids": [vm["bootDisk"]]})
    assert attached.status_code == 406 and code(attached) == want(spec, "not_acceptable")
    cloud.http.post(f"/v2/vms/{vm['id']}/terminate")
    sim.advance(timedelta(minutes=5))
    r = cloud.http.post("/v1/storages/delete", json={"ids": [vm["bootDisk"]]})
    assert r.status_code == 200 and r.json()[0]["status"] == "removing"
    by_path = cloud.http.delete(f"/v1/public_ips/{vm['publicIp']}")
    if spec == "0.8.210":
        assert by_path.status_code == 405  # DELETE /v1/public_ips/{id} is 0.10.0's
        by_path = cloud.http.post("/v1/public_ips/delete", json={"ids": [vm["publicIp"]]})
        assert by_path.json()[0]["status"] == "removing"
    else:
        assert by_path.status_code == 200 and by_path.json()["status"] == "removing"
    sim.advance(timedelta(minutes=1))
    assert not sim.cloud.storages[vm["bootDisk"]].billable
    assert sim.cloud.storages[vm["bootDisk"]].status == "removed"
    assert sim.cloud.public_ips[vm["publicIp"]].status == "removed"
    spent = sim.cloud.spent()
    sim.advance(timedelta(hours=3))
    assert sim.cloud.spent() == spent  # nothing left billing


def test_standalone_disk_and_ip_create_list_delete(
    spec: str, sim: Simulator, http: httpx.Client
) -> None:
    cluster = sim.cloud.catalog.clusters[0].id
    disk = {"name": "data-1", "clusterId": cluster, "storageType": "NVME", "volumeGb": 50,
            "replicated": True}  # fmt: skip
    d = http.post("/v1/storages", json=disk)
    i = http.post(
        "/v1/public_ips", json={"name": "ip-1", "clusterId": cluster, "addressType": "V4"}
    )
    assert d.status_code == 200 and i.status_code == 200
    sim.advance(timedelta(minutes=2))
    assert http.get("/v1/storages").json()["items"][0]["status"] == "ready"
    assert http.get("/v1/public_ips").json()["items"][0]["address"]
    if spec == "0.10.0":
        assert http.get(f"/v1/storages/{d.json()['id']}").json()["replicated"] is True
        assert http.delete(f"/v1/storages/{d.json()['id']}").status_code == 200


def test_unknown_ids_answer_404_and_bad_ids_400(spec: str, http: httpx.Client) -> None:
    missing = "00000000-0000-4000-8000-000000000000"
    r = http.post(f"/v2/vms/{missing}/terminate")
    assert r.status_code == 404 and code(r) == want(spec, "not_found")
    assert http.post("/v2/vms/not-a-uuid/terminate").status_code == 400
    assert http.post("/v1/storages/delete", json={"ids": [missing]}).status_code == 404


def test_ssh_keys_dedupe_by_key_body_and_delete(
    spec: str, http: httpx.Client, cloud: Cloud
) -> None:
    kid = cloud.key_id()
    from tests.sim.cloud.conftest import KEY

    again = http.post(
        "/v1/ssh_keys", json={"name": "other", "publicKey": KEY.rsplit(" ", 1)[0] + " c"}
    )
    assert again.status_code == 409 and code(again) == want(spec, "conflict")
    bad = http.post("/v1/ssh_keys", json={"name": "x", "publicKey": "not a key"})
    assert bad.status_code == 422
    listed = http.get("/v1/ssh_keys").json()
    assert [k["id"] for k in listed["items"]] == [kid] and listed["pagination"]["totalRecords"] == 1
    r = http.post("/v1/ssh_keys/delete", json={"ids": [kid]})
    assert r.status_code == 200 and r.json()[0]["id"] == kid
    assert http.get("/v1/ssh_keys").json()["items"] == []


def test_foreign_resources_hooks(sim: Simulator, http: httpx.Client) -> None:
    vm = sim.cloud.add_foreign_vm("manual-1")
    disk = sim.cloud.add_foreign_storage("manual-disk")
    ip = sim.cloud.add_foreign_public_ip("manual-ip")
    listed = http.get("/v2/vms").json()["items"]
    assert [v["status"] for v in listed] == ["launched"] and listed[0]["id"] == vm.id
    assert {s["id"] for s in http.get("/v1/storages").json()["items"]} >= {disk.id, vm.boot_disk}
    assert ip.id in {i["id"] for i in http.get("/v1/public_ips").json()["items"]}


def test_data_disks_inline_attach_detach_and_outlive_the_vm(sim: Simulator, cloud: Cloud) -> None:
    cluster, conf = cloud.first_point()
    body = vm_body(cluster, conf, "db-1", [cloud.key_id()])
    body["dataDisks"] = [{"name": "db-1-data", "clusterId": cluster, "storageType": "NVME",
                          "volumeGb": 100, "replicated": False}]  # fmt: skip
    vm = cloud.http.post("/v2/vms", json=body).json()
    assert len(vm["dataDisks"]) == 1
    inline = vm["dataDisks"][0]
    sim.advance(timedelta(minutes=5))
    more = {"name": "more", "clusterId": cluster, "storageType": "NVME", "volumeGb": 10,
            "replicated": False}  # fmt: skip
    extra = cloud.http.post("/v1/storages", json=more)
    sim.advance(timedelta(minutes=2))
    r = cloud.http.post(
        f"/v2/vms/{vm['id']}/storages/add", json={"dataDisks": [extra.json()["id"]]}
    )
    assert r.status_code == 200 and r.json()["dataDisks"] == [inline, extra.json()["id"]]
    r = cloud.http.post(f"/v2/vms/{vm['id']}/storages/remove", json={"dataDisks": [inline]})
    assert r.json()["dataDisks"] == [extra.json()["id"]]
    assert sim.cloud.storages[inline].attached_to == [] and sim.cloud.storages[inline].billable
    cloud.http.post(f"/v2/vms/{vm['id']}/terminate")
    sim.advance(timedelta(minutes=5))
    assert sim.cloud.storages[extra.json()["id"]].attached_to == []
    assert sim.cloud.storages[extra.json()["id"]].billable


def test_cloud_init_over_16_kib_is_400(spec: str, cloud: Cloud) -> None:
    cluster, conf = cloud.first_point()
    body = {**vm_body(cluster, conf), "cloudInit": {"userData": "x" * (16 * 1024 + 1)}}
    r = cloud.http.post("/v2/vms", json=body)
    assert r.status_code == 400 and code(r) == want(spec, "bad_request")


def test_provider_terminations_happen_at_the_configured_rate() -> None:
    sim = Simulator(seed=7, cloud=CloudConfig(failure_rate=0, termination_rate=2.0))
    cloud = Cloud(sim)
    sim.set_balance("100000")
    sim.cloud.set_capacity(*cloud.first_point(), 50)
    ids = [cloud.create(f"vm-{i}")["id"] for i in range(10)]
    sim.advance(timedelta(days=2))
    ended = [i for i in ids if sim.cloud.vms[i].status == "terminated"]
    assert ended, "a rate of 2 per VM-day ends some VMs within two days"
    assert all(sim.cloud.storages[sim.cloud.vms[i].boot_disk or ""].billable for i in ended)


def test_a_malformed_raw_item_can_be_added_to_lists(sim: Simulator, cloud: Cloud) -> None:
    """For tests of tolerant clients: the list carries the odd item beside the good ones."""
    cloud.create()
    sim.cloud.raw_vm_items.append({"id": "odd", "name": None, "status": "exploding"})
    listed = cloud.http.get("/v2/vms").json()["items"]
    assert [v["id"] for v in listed][-1] == "odd" and len(listed) == 2
    sim.cloud.raw_items["cloud.list_ssh_keys"] = [{"id": 3}]
    assert cloud.http.get("/v1/ssh_keys").json()["items"][-1] == {"id": 3}
    sim.cloud.raw_items["cloud.prices_vm"] = [{"vmTypeId": None}]
    prices = cloud.http.get("/v1/prices/vm").json()
    assert (prices if isinstance(prices, list) else prices["items"])[-1] == {"vmTypeId": None}


def test_an_instance_returns_to_the_cluster_once(sim: Simulator, cloud: Cloud) -> None:
    """Capacity: taken on create, given back when the VM fails or ends, never twice."""
    cluster, conf = cloud.first_point()
    cap = sim.cloud.catalog.cluster(cluster).capacity  # type: ignore[union-attr]
    before = cap[conf]
    vm = cloud.create()
    assert cap[conf] == before - 1
    sim.cloud.fail_vm(vm["id"])
    assert cap[conf] == before
    cloud.http.post(f"/v2/vms/{vm['id']}/terminate")  # failed → terminated at once
    assert sim.cloud.vms[vm["id"]].status == "terminated" and cap[conf] == before


def test_orphans_are_disks_and_ips_billing_without_a_live_vm(sim: Simulator, cloud: Cloud) -> None:
    vm = cloud.create()
    sim.advance(timedelta(minutes=5))
    assert sim.cloud.orphans() == []
    cloud.http.post(f"/v2/vms/{vm['id']}/terminate")
    sim.advance(timedelta(minutes=5))
    assert {o.id for o in sim.cloud.orphans()} == {vm["bootDisk"], vm["publicIp"]}
    cloud.http.post("/v1/storages/delete", json={"ids": [vm["bootDisk"]]})
    cloud.http.post("/v1/public_ips/delete", json={"ids": [vm["publicIp"]]})
    assert sim.cloud.orphans() == []
