"""Every path and method the cloud client can call exists in Fluence's published specs,
and every request it builds validates against each spec version that has the operation
(tests/contract/spec.py: openapi-core, closed objects, no undeclared query parameters).

The calls below exercise every public method of CloudClient, the fallbacks included (the
per-cluster resources of 0.8.210, DELETE …/{id} of the newest docs); a new method must
be added here or the coverage check fails."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from datetime import date
from typing import Any

import httpx
import pytest

from optimizer.fluence.cloud.client import CloudClient
from optimizer.fluence.cloud.wire import CreatePublicIp, CreateStorage, CreateVm
from optimizer.fluence.retry import RetryPolicy
from tests.contract.spec import VERSIONS, load, require_specs
from tests.fluence.cloud.fake import CFG_S, CL_A, CL_B, KEY, FakeCloud, did, iid, kid, vid

BOTH = VERSIONS
NEW = ("0.10.0",)  # operations or parameters only the newer spec has

#: (method exercised, the call, spec versions its requests must validate against,
#:  fake-server settings that steer it onto a fallback)
CALLS: list[tuple[str, Callable[[CloudClient], Any], tuple[str, ...], dict[str, Any]]] = [
    ("probe", lambda c: c.probe(), BOTH, {}),
    ("clusters", lambda c: c.clusters(), BOTH, {}),
    ("datacenters", lambda c: c.datacenters(), BOTH, {}),
    ("vm_configurations", lambda c: c.vm_configurations(), BOTH, {}),
    ("cluster_resources", lambda c: c.cluster_resources(CL_A), BOTH, {}),
    ("all_cluster_resources", lambda c: c.all_cluster_resources([CL_A, CL_B]), NEW, {}),
    ("all_cluster_resources", lambda c: c.all_cluster_resources([CL_A]), BOTH, {"bulk": False}),
    ("default_images", lambda c: c.default_images(), BOTH, {}),
    ("vm_prices", lambda c: c.vm_prices(), BOTH, {}),
    ("vm_prices", lambda c: c.vm_prices(cluster_id=CL_A), BOTH, {}),
    ("storage_prices", lambda c: c.storage_prices(CL_A), BOTH, {}),
    ("public_ip_prices", lambda c: c.public_ip_prices(CL_A), BOTH, {}),
    (
        "cost",
        lambda c: c.cost(
            [{"vm": {"resource_id": {"vmConfigurationId": CFG_S, "clusterId": CL_A}}}], 3600
        ),
        BOTH,
        {},
    ),
    ("ssh_keys", lambda c: c.ssh_keys(), BOTH, {}),
    ("register_ssh_key", lambda c: c.register_ssh_key("ci", "ssh-ed25519 AAAAci c@i"), BOTH, {}),
    ("register_ssh_key", lambda c: c.register_ssh_key("x", "ssh-ed25519 AAAAC3Nza o"), BOTH, {}),
    ("delete_ssh_keys", lambda c: c.delete_ssh_keys([kid(1)]), BOTH, {}),
    ("list_vms", lambda c: c.list_vms(), BOTH, {}),
    (
        "list_vms",
        lambda c: c.list_vms(ids=[vid(1), vid(2)], name="web-1", status=["launched"]),
        BOTH,
        {},
    ),
    (
        "list_vms",
        lambda c: c.list_vms(exclude_status=["terminated"], expand=["bootDisk", "publicIp"]),
        NEW,
        {},
    ),
    ("get_vm", lambda c: c.get_vm(vid(1)), NEW, {}),
    ("get_vm", lambda c: c.get_vm(vid(1), expand=["publicIp"]), NEW, {}),
    (
        "create_vm",
        lambda c: c.create_vm(
            CreateVm(
                name="web-a1b2c3",
                cluster_id=CL_A,
                configuration_id=CFG_S,
                boot_disk=CreateStorage(
                    cluster_id=CL_A, name="web-a1b2c3", volume_gb=25, os_image="https://i/u.img"
                ),
                public_ip=CreatePublicIp(cluster_id=CL_A, name="web-a1b2c3"),
                ssh_keys=[kid(1)],
            )
        ),
        BOTH,
        {},
    ),
    ("rename_vm", lambda c: c.rename_vm(vid(1), "web-one"), BOTH, {}),
    ("terminate_vm", lambda c: c.terminate_vm(vid(1)), BOTH, {}),
    ("storages", lambda c: c.storages(), BOTH, {}),
    ("delete_storages", lambda c: c.delete_storages([did(1)]), BOTH, {}),
    ("delete_storages", lambda c: c.delete_storages([did(1)]), NEW, {"delete_route": "delete"}),
    ("public_ips", lambda c: c.public_ips(), BOTH, {}),
    ("delete_public_ips", lambda c: c.delete_public_ips([iid(0)]), BOTH, {}),
    ("delete_public_ips", lambda c: c.delete_public_ips([iid(0)]), NEW, {"delete_route": "delete"}),
    ("balances", lambda c: c.balances(), BOTH, {}),
    ("charges", lambda c: c.charges(date(2026, 5, 1), date(2026, 5, 31)), BOTH, {}),
    ("charges_total", lambda c: c.charges_total(date(2026, 5, 1)), BOTH, {}),
]
#: requests that only reach the fake to be turned down there, so that the client takes
#: its fallback: not calls a real server of that version would receive
FALLBACK_PROBES = {("GET", "/v1/clusters/resources"), ("POST", "/v1/storages/delete"),
                   ("POST", "/v1/public_ips/delete")}  # fmt: skip


def _run(call: Callable[[CloudClient], Any], fake_kw: dict[str, Any]) -> list[httpx.Request]:
    fake = FakeCloud(**fake_kw)
    http = httpx.Client(
        base_url="https://api.fluence.dev",
        headers={"X-API-KEY": KEY, "Authorization": f"X-API-KEY {KEY}",
                 "Content-Type": "application/json"},
        transport=fake.transport(),
    )  # fmt: skip
    call(CloudClient(http, retries=RetryPolicy(max_retries=0), sleep=lambda s: None))
    return fake.requests


def test_every_public_method_is_exercised() -> None:
    public = {
        name
        for name, _ in inspect.getmembers(CloudClient, inspect.isfunction)
        if not name.startswith("_") and name in CloudClient.__dict__ and name != "error_for"
    }
    assert public == {name for name, *_ in CALLS}


@pytest.mark.parametrize(("name", "call", "versions", "fake_kw"), CALLS, ids=[c[0] for c in CALLS])
def test_requests_exist_in_the_specs_and_validate(
    name: str,
    call: Callable[[CloudClient], Any],
    versions: tuple[str, ...],
    fake_kw: dict[str, Any],
) -> None:
    require_specs()
    requests = _run(call, fake_kw)
    assert requests, f"{name} sent nothing"
    for request in requests:
        where = {v: load(v).template(request.method, request.url.path) for v in VERSIONS}
        assert any(where.values()), f"{request.method} {request.url.path} is in no spec"
        fallback = (request.method, request.url.path) in FALLBACK_PROBES and (
            fake_kw.get("bulk") is False or fake_kw.get("delete_route") == "delete"
        )
        for v in versions:
            if where[v] is None and fallback:
                continue  # 0.8.210 lacks the path the client tries first; it falls back
            load(v).check_request(request)
