"""The cloud-generation client against a fake cloud server (httpx.MockTransport): typed
reads, Decimal money, pagination to the end, both list shapes, both deletion routes,
error mapping by status and `code`, the key never in errors or logs."""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal

import httpx
import pytest
from structlog.testing import capture_logs

from optimizer.errors import (
    AuthError,
    BadResponse,
    ClientRequestError,
    InsufficientBalance,
    NotAllowedNow,
    RateLimited,
    RequestInvalid,
    ServerError,
)
from optimizer.fluence.cloud import client as cloud_client
from optimizer.fluence.cloud.client import CloudClient
from optimizer.fluence.cloud.wire import CreatePublicIp, CreateStorage, CreateVm
from optimizer.fluence.credentials import Secret
from optimizer.fluence.retry import RetryPolicy
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


def _client(fake: FakeCloud, retries: int = 0, sleeps: list[float] | None = None) -> CloudClient:
    http = httpx.Client(
        base_url="https://api.example.test",
        headers={"X-API-KEY": KEY, "Authorization": f"X-API-KEY {KEY}"},
        transport=fake.transport(),
    )
    return CloudClient(
        http,
        retries=RetryPolicy(max_retries=retries),
        sleep=(sleeps.append if sleeps is not None else lambda s: None),
        secret=Secret(KEY),
    )


@pytest.mark.parametrize("bare", [False, True], ids=["items-0.10.0", "bare-0.8.210"])
def test_catalogue_reads_parse_both_list_shapes(bare: bool) -> None:
    c = _client(FakeCloud(bare=bare))
    clusters = c.clusters()
    assert clusters[0].id == CL_A
    assert all(x.dc_id for x in clusters)  # dcId (0.10.0) and dc_id (0.8.210) both read
    assert {d.country_code for d in c.datacenters()} == {"DE", "FR"}
    assert [x.slug for x in c.vm_configurations()] == [
        "cpu-shared-2vcpu-2gb",
        "cpu-regular-4vcpu-8gb",
    ]
    prices = c.vm_prices()
    assert len(prices) == 4
    assert {p.per_hour for p in prices} == {
        Decimal("0.0125"),
        Decimal("0.0400"),
        Decimal("0.0110"),
        Decimal("0.0390"),
    }
    assert all(isinstance(p.per_hour, Decimal) for p in prices)
    assert c.storage_prices()[0].price_info.price_per_hour_per_qty == Decimal("0.00012")
    assert c.public_ip_prices()[0].price_info.price_per_hour_per_qty == Decimal("0.005")
    assert c.default_images()[0].download_url == "https://img.example/u.img"


def test_prices_filtered_by_cluster_send_the_query() -> None:
    fake = FakeCloud()
    prices = _client(fake).vm_prices(cluster_id=CL_B)
    assert {p.vm_type_id.cluster_id for p in prices} == {CL_B}
    assert fake.requests[-1].url.params["clusterId"] == CL_B


def test_cluster_resources_bulk_or_one_by_one_where_the_bulk_path_is_missing() -> None:
    bulk = FakeCloud()
    res = _client(bulk).all_cluster_resources([CL_A, CL_B])
    assert len(res[CL_A].available_configurations) == 2
    assert len(res[CL_B].available_configurations) == 1
    assert [r.url.path for r in bulk.requests] == ["/v1/clusters/resources"]

    old = FakeCloud(bulk=False)
    res = _client(old).all_cluster_resources([CL_A, CL_B])
    assert res[CL_A].available_public_ips == {"V4": 10}
    assert [r.url.path for r in old.requests] == [
        "/v1/clusters/resources",
        f"/v1/clusters/{CL_A}/resources",
        f"/v1/clusters/{CL_B}/resources",
    ]


def test_cost_is_decimal() -> None:
    r = _client(FakeCloud()).cost(
        [{"vm": {"resource_id": {"vmConfigurationId": CFG_S, "clusterId": CL_A}}}], secs=3600
    )
    assert r.total_cost == Decimal("0.0144") and r.period_secs == 3600


def test_vm_list_follows_every_page() -> None:
    fake = FakeCloud(vms=[vm(i) for i in range(30)], page_size=7)
    vms = _client(fake).list_vms()
    assert [v.id for v in vms] == [vid(i) for i in range(30)]
    pages = [r.url.params["page"] for r in fake.requests]
    assert pages == ["1", "2", "3", "4", "5"]
    # no page size: the specs spell it differently (per_page / perPage)
    assert not {"perPage", "per_page"} & set(fake.requests[0].url.params)


def test_pagination_that_never_ends_is_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cloud_client, "MAX_PAGES", 3)

    def endless(request: httpx.Request) -> httpx.Response:
        page = int(request.url.params["page"])
        return httpx.Response(
            200,
            json={
                "items": [vm(page)],
                "pagination": {"totalPages": 10**6, "currentPage": page, "perPage": 1},
            },
        )

    fake = FakeCloud()
    fake.handle = endless  # type: ignore[method-assign]
    with pytest.raises(BadResponse, match="pagination did not end after 3 pages"):
        _client(fake).list_vms()


def test_vm_filters_and_expand_are_sent() -> None:
    fake = FakeCloud()
    _client(fake).list_vms(
        ids=[vid(1)],
        status=["launched"],
        exclude_status=["terminated"],
        expand=["bootDisk", "publicIp"],
    )
    q = fake.requests[0].url.params
    assert q.get_list("ids") == [vid(1)]
    assert q["status"] == "launched" and q["excludeStatus"] == "terminated"
    assert q.get_list("expand") == ["bootDisk", "publicIp"]


def test_vm_get_rename_terminate() -> None:
    fake = FakeCloud()
    c = _client(fake)
    assert c.get_vm(vid(1)).name == "web-1"
    renamed = c.rename_vm(vid(1), "web-one")
    assert renamed is not None and renamed.name == "web-one"
    c.terminate_vm(vid(1))
    assert fake.vms[1]["status"] == "terminating"
    # terminate again: not allowed in this status → 406 → NotAllowedNow (transient, exit 4)
    with pytest.raises(NotAllowedNow) as info:
        c.terminate_vm(vid(1))
    assert info.value.code == "not_acceptable" and info.value.exit_code == 4
    assert info.value.endpoint == "POST /v2/vms/{vm_id}/terminate"


def test_create_vm_sends_inline_boot_disk_and_public_ip_once() -> None:
    fake = FakeCloud()
    req = CreateVm(
        name="web-a1b2c3",
        cluster_id=CL_A,
        configuration_id=CFG_R,
        boot_disk=CreateStorage(
            cluster_id=CL_A, name="web-a1b2c3", volume_gb=25, os_image="https://img.example/u.img"
        ),
        public_ip=CreatePublicIp(cluster_id=CL_A, name="web-a1b2c3"),
        ssh_keys=[kid(1)],
    )
    created = _client(fake, retries=3).create_vm(req)
    assert created.name == "web-a1b2c3" and created.status == "new"
    body = json.loads(fake.requests[0].content)
    assert body["bootDisk"] == {
        "clusterId": CL_A,
        "name": "web-a1b2c3",
        "storageType": "NVME",
        "volumeGb": 25,
        "replicated": False,
        "osImage": "https://img.example/u.img",
    }
    assert body["publicIp"] == {"clusterId": CL_A, "name": "web-a1b2c3", "addressType": "V4"}
    assert body["sshKeys"] == [kid(1)]


def test_create_vm_is_never_retried() -> None:
    fake = FakeCloud(
        errors={("POST", "/v2/vms"): (503, {"code": "service_unavailable", "error": "busy"})}
    )
    sleeps: list[float] = []
    with pytest.raises(ServerError):
        _client(fake, retries=4, sleeps=sleeps).create_vm(
            CreateVm(name="x", cluster_id=CL_A, configuration_id=CFG_S, boot_disk=did(1))
        )
    assert len(fake.requests) == 1 and sleeps == []


def test_reads_are_retried_on_429_and_5xx() -> None:
    fake = FakeCloud()
    calls = {"n": 0}
    inner = fake.handle

    def flaky(request: httpx.Request) -> httpx.Response:
        calls["n"] += 1
        if calls["n"] <= 2:
            return httpx.Response(
                429, json={"code": "too_many", "error": "slow down"}, headers={"Retry-After": "1"}
            )
        return inner(request)

    fake.handle = flaky  # type: ignore[method-assign]
    sleeps: list[float] = []
    assert len(_client(fake, retries=3, sleeps=sleeps).clusters()) == 2
    assert sleeps == [1.0, 1.0]


@pytest.mark.parametrize("route", ["post", "delete"])
def test_storages_and_public_ips_deleted_by_either_route(route: str) -> None:
    fake = FakeCloud(
        delete_route=route,
        storages=[{"id": did(1), "userId": "u1", "clusterId": CL_A, "name": "web-1",
                   "storageType": "NVME", "status": "ready", "role": "BOOT", "volumeGb": 25,
                   "attachedTo": [], "createdAt": "2026-05-01T10:00:00Z",
                   "priceHourlyUsd": "0.003"}],
    )  # fmt: skip
    c = _client(fake)
    assert c.storages()[0].price_hourly_usd == Decimal("0.003")
    c.delete_storages([did(1)])
    c.delete_public_ips([iid(0), iid(1)])
    assert fake.storages == [] and [ip["id"] for ip in fake.public_ips] == [iid(2)]
    sent = [(r.method, r.url.path) for r in fake.requests if r.method != "GET"]
    if route == "post":
        assert sent == [("POST", "/v1/storages/delete"), ("POST", "/v1/public_ips/delete")]
    else:
        assert sent == [
            ("POST", "/v1/storages/delete"),
            ("DELETE", f"/v1/storages/{did(1)}"),
            ("POST", "/v1/public_ips/delete"),
            ("DELETE", f"/v1/public_ips/{iid(0)}"),
            ("DELETE", f"/v1/public_ips/{iid(1)}"),
        ]


def test_ssh_key_register_and_adopt_on_conflict() -> None:
    fake = FakeCloud()
    c = _client(fake)
    new = c.register_ssh_key("deploy", "ssh-ed25519 AAAAnewkey deploy@ci")
    assert new.id == kid(2)
    # same key body, another comment: the API answers 409; the stored key is adopted
    again = c.register_ssh_key("ops2", "ssh-ed25519 AAAAC3Nza someone-else")
    assert again.id == kid(1)
    assert [k.id for k in c.ssh_keys()] == [kid(1), kid(2)]
    c.delete_ssh_keys([kid(2)])
    assert [k["id"] for k in fake.ssh_keys] == [kid(1)]


def test_balances_and_charges_are_decimal() -> None:
    c = _client(FakeCloud())
    assert c.balances()[0].balance == Decimal("41.250000")
    charges = c.charges(date(2026, 5, 1), date(2026, 5, 31))
    assert charges[0].total_cost == Decimal("0.13125") and charges[0].total_usage_hours == Decimal(
        "10.5"
    )
    assert c.charges_total() == Decimal("0.13125")


@pytest.mark.parametrize(
    ("status", "code", "exc", "exit_code"),
    [
        (401, "unauthorized", AuthError, 3),
        (403, "forbidden", AuthError, 3),
        (406, "not_acceptable", NotAllowedNow, 4),
        (422, "unprocessable_entity", RequestInvalid, 1),
        (422, "insufficient_balance", InsufficientBalance, 1),
        (409, "conflict", ClientRequestError, 1),
        (429, "too_many_requests", RateLimited, 4),
        (500, "internal_server_error", ServerError, 4),
    ],
)
def test_errors_map_by_status_and_code(
    status: int, code: str, exc: type[Exception], exit_code: int
) -> None:
    fake = FakeCloud(
        errors={("GET", "/v1/clusters"): (status, {"code": code, "error": f"it failed {KEY}"})}
    )
    with pytest.raises(exc) as info:
        _client(fake).clusters()
    err = info.value
    assert err.exit_code == exit_code  # type: ignore[attr-defined]
    assert err.code == code and err.status == status  # type: ignore[attr-defined]
    assert KEY not in str(err) and "***" in str(err)


def test_wrong_key_is_an_auth_error_and_the_key_never_logged() -> None:
    fake = FakeCloud(key="the-right-key-123456")
    with capture_logs() as logs, pytest.raises(AuthError) as info:
        _client(fake, retries=2).list_vms()
    assert info.value.exit_code == 3
    assert KEY not in repr(logs) and KEY not in str(info.value)
