"""The cloud adapter's write side against the cloud simulator over loopback HTTP, on both
spec versions: estimate prices a whole VM per 24 h, deploy creates the VM with its disk
and IP named alike and registers SSH keys once, delete terminates and leaves disk and IP
for `delete_disks` / `delete_public_ips`, patch renames and refuses ports. Also: the
marketplace-v3 wire is unchanged by the new neutral fields."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from optimizer.config import ApiConfig
from optimizer.errors import NoMatchingOffers, NotAllowedNow, RequestInvalid
from optimizer.fluence.cloud.adapter import CloudApi
from optimizer.fluence.generation import connect
from optimizer.fluence.models import (
    Constraints,
    DeployRequest,
    VmConfiguration,
    VmUpdate,
)
from optimizer.sim import SimClock, Simulator, start_server
from optimizer.sim.cloud import CloudConfig

pytestmark = pytest.mark.http

KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl ops"
IMAGE = "https://images.example/ubuntu.img"


@pytest.fixture(params=["0.10.0", "0.8.210"])
def sim(request: pytest.FixtureRequest) -> Simulator:
    start = datetime(2026, 11, 1, tzinfo=UTC)
    cfg = CloudConfig(spec=request.param, failure_rate=0.0)
    return Simulator(seed=7, clock=SimClock.stepped(start), cloud=cfg)


@pytest.fixture
def api(sim: Simulator) -> Iterator[CloudApi]:
    with start_server(sim, api="cloud") as srv:
        a = connect(
            ApiConfig(base_url=srv.url, generation="cloud", max_retries=0),
            api_key=sim.api_key,
            sleep=lambda s: None,
        )
        assert isinstance(a, CloudApi)
        yield a
        a.close()


def _pinned(sim: Simulator, **kw: object) -> Constraints:
    cluster, conf, _ = sim.cloud.price_points()[0]
    sim.cloud.set_capacity(cluster, conf, 10)
    return Constraints(cluster_id=cluster, configuration_id=conf, **kw)  # type: ignore[arg-type]


def _request(c: Constraints, name: str = "web-0123456789", **kw: object) -> DeployRequest:
    vc = VmConfiguration(name=name, os_image=IMAGE, ssh_keys=[KEY], **kw)  # type: ignore[arg-type]
    return DeployRequest(constraints=c, vm_configuration=vc)


def test_estimate_is_the_whole_vm_per_24_hours_with_no_deposit(
    sim: Simulator, api: CloudApi
) -> None:
    c = _pinned(sim, disk_gb=40)
    cl = sim.cloud.catalog.cluster(c.cluster_id or "")
    assert cl is not None
    vm_hour = sim.cloud.catalog.vm_price(cl.id, c.configuration_id or "")
    assert vm_hour is not None
    whole = vm_hour + cl.storage_gb_hour * 40 + cl.public_ip_hour
    est = api.estimate(c, 1)
    assert est.total_price_per_epoch == est.max_price_per_epoch
    assert abs(est.total_price_per_epoch - whole * 24) < Decimal("0.0001")
    assert est.deposit_amount_usdc == 0
    no_ip = api.estimate(_pinned(sim, disk_gb=40, public_ip=False), 2)
    assert abs(no_ip.total_price_per_epoch - (whole - cl.public_ip_hour) * 48) < Decimal("0.001")


def test_estimate_without_a_pin_takes_the_cheapest_match_and_none_is_an_error(
    sim: Simulator, api: CloudApi
) -> None:
    _, conf, _ = sim.cloud.price_points()[0]
    slug = sim.cloud.catalog.config_by_id[conf].slug
    est = api.estimate(Constraints(basic_configuration=slug), 1)
    assert est.total_price_per_epoch > 0
    with pytest.raises(NoMatchingOffers, match="no price point"):
        api.estimate(Constraints(cluster_id="no-such-cluster"), 1)


def test_deploy_names_vm_disk_and_ip_alike_and_registers_the_key_once(
    sim: Simulator, api: CloudApi
) -> None:
    c = _pinned(sim)
    (d,) = api.deploy(_request(c, disk_gb=30))
    vm = sim.cloud.vms[d.vm_id]
    assert vm.name == d.vm_name == "web-0123456789"
    assert (vm.cluster_id, vm.configuration_id) == (c.cluster_id, c.configuration_id)
    disk = sim.cloud.storages[d.boot_disk_id or ""]
    ip = sim.cloud.public_ips[d.public_ip_id or ""]
    assert disk.name == ip.name == vm.name and disk.volume_gb == 30 and disk.os_image == IMAGE
    (d2,) = api.deploy(_request(c, name="web-abcdefabcd", public_ip=False))
    assert d2.public_ip_id is None and sim.cloud.vms[d2.vm_id].public_ip is None
    assert len(sim.cloud.ssh_keys) == 1  # registered once, reused
    assert sim.cloud.vms[d2.vm_id].ssh_keys == vm.ssh_keys


def test_a_key_the_account_has_is_adopted_and_a_stored_name_resolves(
    sim: Simulator, api: CloudApi
) -> None:
    stored = sim.cloud.add_ssh_key({"name": "laptop", "publicKey": KEY.replace(" ops", " x")})
    c = _pinned(sim)
    (d,) = api.deploy(_request(c))
    assert sim.cloud.vms[d.vm_id].ssh_keys == [stored.id]
    vc = VmConfiguration(name="web-name000000", os_image=IMAGE, ssh_keys=["laptop"])
    (d2,) = api.deploy(DeployRequest(constraints=c, vm_configuration=vc))
    assert sim.cloud.vms[d2.vm_id].ssh_keys == [stored.id]
    before = len(sim.cloud.vms)
    vc = VmConfiguration(name="web-nokey00000", os_image=IMAGE, ssh_keys=["nobody"])
    with pytest.raises(RequestInvalid, match="'nobody' is neither a public key"):
        api.deploy(DeployRequest(constraints=c, vm_configuration=vc))
    assert len(sim.cloud.vms) == before


def test_a_name_the_api_cannot_take_is_refused_before_anything_is_sent(
    sim: Simulator, api: CloudApi
) -> None:
    with pytest.raises(RequestInvalid, match="shorten the fleet name") as err:
        api.deploy(_request(_pinned(sim), name="a-very-long-fleet-name-0123456789"))
    assert err.value.permanent and "\n" not in str(err.value)
    assert sim.cloud.vms == {} and sim.cloud.storages == {}


def test_delete_terminates_and_leaves_disk_and_ip_until_deleted(
    sim: Simulator, api: CloudApi
) -> None:
    (d,) = api.deploy(_request(_pinned(sim)))
    sim.advance(timedelta(minutes=5))
    api.delete_vms([d.vm_id])
    sim.advance(timedelta(minutes=5))
    assert sim.cloud.vms[d.vm_id].status == "terminated"
    disks = {x.id: x for x in api.list_disks()}
    ips = {x.id: x for x in api.list_public_ips()}
    disk, ip = disks[d.boot_disk_id or ""], ips[d.public_ip_id or ""]
    assert not disk.attached and not ip.attached and not disk.removed
    assert disk.name == ip.name == "web-0123456789" and disk.size_gb == 25
    assert disk.price_per_hour is not None and ip.price_per_hour is not None
    assert {o.id for o in sim.cloud.orphans()} == {disk.id, ip.id}  # billing until deleted
    api.delete_disks([disk.id])
    api.delete_public_ips([ip.id])
    sim.advance(timedelta(minutes=1))
    assert sim.cloud.orphans() == []
    with pytest.raises(NotAllowedNow):  # already terminated: transient-looking, not lost
        api.delete_vms([d.vm_id])
    # a VM the API does not know counts as gone
    api.delete_vms(["00000000-0000-4000-8000-000000000000"])


def test_patch_renames_and_refuses_ports_with_nothing_sent(sim: Simulator, api: CloudApi) -> None:
    (d,) = api.deploy(_request(_pinned(sim)))
    api.patch_vms([VmUpdate(id=d.vm_id, vm_name="web-renamed")])
    assert sim.cloud.vms[d.vm_id].name == "web-renamed"
    with pytest.raises(RequestInvalid, match="open ports cannot be changed") as err:
        api.patch_vms(
            [VmUpdate(id=d.vm_id, vm_name="web-other"), VmUpdate(id=d.vm_id, open_ports=[])]
        )
    assert "\n" not in str(err.value)
    assert sim.cloud.vms[d.vm_id].name == "web-renamed"  # nothing of the batch was sent
    (vm,) = [v for v in api.list_vms() if v.id == d.vm_id]
    assert vm.ports is None and vm.boot_disk_id == d.boot_disk_id


def test_marketplace_v3_wire_is_unchanged_by_the_cloud_fields() -> None:
    vc = VmConfiguration(name="web-x", os_image=IMAGE, ssh_keys=[KEY], disk_gb=40, public_ip=False)
    c = Constraints(basic_configuration="cpu-2-ram-4gb-storage-25gb", disk_gb=40, public_ip=True)
    wire = DeployRequest(constraints=c, vm_configuration=vc).wire()
    assert wire == {
        "constraints": {"basicConfiguration": "cpu-2-ram-4gb-storage-25gb"},
        "instances": 1,
        "vmConfiguration": {"name": "web-x", "openPorts": [], "osImage": IMAGE, "sshKeys": [KEY]},
    }
    # the journal keeps constraints without them, too
    assert "disk" not in json.dumps(c.model_dump(mode="json", by_alias=True, exclude_none=True))
