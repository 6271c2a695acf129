"""The reaper on the cloud simulator (in-process): it deletes only journaled disks and IPs,
only detached ones whose VM is gone, only after the grace; it reports foreign leftovers
and never touches them; with nothing journaled it makes no call."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from optimizer.config import ApiConfig
from optimizer.executor import journal as jr
from optimizer.executor.reaper import HOURS_PER_MONTH, foreign_orphans, reap
from optimizer.fluence.generation import connect
from optimizer.sim import SimClock, Simulator
from optimizer.sim.cloud import CloudConfig
from optimizer.store.engine import open_store

GRACE = timedelta(minutes=5)


class Counting(httpx.BaseTransport):
    """The simulator's transport, counting the requests that reach it."""

    def __init__(self, inner: httpx.BaseTransport) -> None:
        self.inner, self.paths = inner, []  # type: ignore[var-annotated]

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self.paths.append(f"{request.method} {request.url.path}")
        return self.inner.handle_request(request)


@pytest.fixture
def env(tmp_path: Any) -> tuple[Simulator, Any, Any, Counting]:
    sim = Simulator(
        seed=4,
        clock=SimClock.stepped(datetime(2026, 11, 3, tzinfo=UTC)),
        cloud=CloudConfig(failure_rate=0.0),
    )
    counting = Counting(sim.transport(api="cloud"))
    api = connect(
        ApiConfig(base_url="http://127.0.0.1:9", generation="cloud", max_retries=0),
        transport=counting,
        api_key=sim.api_key,
    )
    engine = open_store(f"sqlite:///{tmp_path / 'r.db'}")
    return sim, api, engine, counting


def _journal(engine: Any, vm: Any, now: datetime) -> None:
    with jr.session(engine) as s:
        for kind, rid in (("disk", vm.boot_disk), ("ip", vm.public_ip)):
            jr.record_resource(s, rid, kind, "web", now, name=vm.name, vm_id=vm.id)
        s.commit()


def test_nothing_journaled_means_no_call(env: Any) -> None:
    sim, api, engine, counting = env
    sim.cloud.add_foreign_storage("left-disk")
    done = reap(api, engine, sim.now(), [], GRACE)
    assert counting.paths == [] and done.summary() == ""


def test_ours_are_deleted_after_the_grace_and_never_while_in_use(env: Any) -> None:
    sim, api, engine, _ = env
    vm = sim.cloud.add_foreign_vm("web-0123456789")  # made by "us" in this test
    _journal(engine, vm, sim.now())
    # in use: listed launched and attached
    done = reap(api, engine, sim.now(), api.list_vms(), GRACE)
    assert done.deleted == [] and done.waiting == []
    sim.cloud.provider_terminate(vm.id)  # gone: detached now, the grace starts
    done = reap(api, engine, sim.now(), api.list_vms(), GRACE)
    assert sorted(done.waiting) == sorted([vm.boot_disk, vm.public_ip])
    sim.advance(GRACE - timedelta(seconds=1))
    assert reap(api, engine, sim.now(), api.list_vms(), GRACE).deleted == []
    sim.advance(timedelta(seconds=2))
    done = reap(api, engine, sim.now(), api.list_vms(), GRACE)
    assert sorted(done.deleted) == sorted([vm.boot_disk, vm.public_ip])
    sim.advance(timedelta(minutes=1))
    assert sim.cloud.orphans() == [] and jr.live_resources(engine) == []
    assert reap(api, engine, sim.now(), api.list_vms(), GRACE).summary() == ""


def test_an_attached_disk_is_kept_even_when_its_vm_is_not_listed(env: Any) -> None:
    sim, api, engine, _ = env
    vm = sim.cloud.add_foreign_vm("web-0123456789")
    _journal(engine, vm, sim.now() - timedelta(hours=1))
    sim.advance(timedelta(hours=1))
    done = reap(api, engine, sim.now(), [], timedelta(0))  # a VM list that lost the VM
    assert done.deleted == [] and len(jr.live_resources(engine)) == 2


def test_foreign_leftovers_are_reported_with_their_monthly_cost_and_left_alone(
    env: Any,
) -> None:
    sim, api, engine, _ = env
    mine = sim.cloud.add_foreign_vm("web-0123456789")
    _journal(engine, mine, sim.now())
    theirs = sim.cloud.add_foreign_vm("box")
    sim.cloud.provider_terminate(theirs.id)
    sim.cloud.provider_terminate(mine.id)
    disk = sim.cloud.add_foreign_storage("data")
    ours = jr.resource_ids(engine)
    report = foreign_orphans(api.list_disks(), api.list_public_ips(), api.list_vms(), ours)
    assert {o.id for o in report} == {disk.id, theirs.boot_disk, theirs.public_ip}
    for o in report:
        assert o.price_per_hour is not None
        assert o.monthly_usd == o.price_per_hour * HOURS_PER_MONTH
    reap(api, engine, sim.now(), api.list_vms(), timedelta(0))
    sim.advance(timedelta(minutes=1))
    assert {o.id for o in sim.cloud.orphans()} == {o.id for o in report}
