"""A list never hides its good items, on both API generations: one malformed VM, SSH key
or price point is emptied or skipped with one warning naming it and a count; the rest of
the list stands; `vms list` exits 0."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest
from structlog.testing import capture_logs

from optimizer.config import ApiConfig
from optimizer.errors import BadResponse
from optimizer.fluence import tolerant
from optimizer.fluence.generation import connect
from tests.fluence.cloud.fake import KEY, FakeCloud, kid, vid, vm
from tests.fluence.cloud.serve import serve

ROOT = Path(__file__).resolve().parents[2]


def v3_vm(i: int, **over: Any) -> dict[str, Any]:
    base = {"id": f"0x{i:040x}", "vmName": f"web-{i}", "status": "Active",
            "pricePerEpoch": "1.25", "createdAt": "2026-05-01T10:00:00Z",
            "ports": [{"port": 22, "protocol": "tcp"}]}  # fmt: skip
    base.update(over)
    return base


#: one malformed item of each kind the issue names, and what must become of it
MALFORMED_V3 = {
    "null name": (v3_vm(1, vmName=None), "kept"),
    "unknown status": (v3_vm(1, status="Hibernating"), "clean"),  # a status is any string
    "unknown port protocol": (v3_vm(1, ports=[{"port": 22, "protocol": "sctp"}]), "kept"),
    "odd timestamp": (v3_vm(1, createdAt="yesterday-ish"), "kept"),
    "no id": (v3_vm(1, id=None), "skipped"),
}
MALFORMED_CLOUD = {
    "null name": (vm(1, name=None), "kept"),
    "unknown status": (vm(1, status="hibernating"), "clean"),
    "odd timestamp": (vm(1, createdAt="31/02/2026 25:61"), "kept"),
    "odd price": (vm(1, priceHourlyUsd="cheap"), "kept"),
    "no id": (vm(1, id=None), "skipped"),
}


def _v3_server(vms: list[dict[str, Any]]):  # type: ignore[no-untyped-def]
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/marketplace/countries":
            return httpx.Response(200, json=["DE"])
        if request.url.path == "/vms/v3":
            return httpx.Response(200, json=vms)
        return httpx.Response(404, json={"error": "Not found"})

    return handler


@pytest.mark.parametrize("case", sorted(MALFORMED_V3))
def test_v3_vm_list_keeps_its_good_items(case: str) -> None:
    bad, fate = MALFORMED_V3[case]
    items = [v3_vm(0), bad, v3_vm(2)]
    api = connect(
        ApiConfig(base_url="https://api.example.test", max_retries=0),
        transport=httpx.MockTransport(_v3_server(items)),
        api_key=KEY,
    )
    before = tolerant.MALFORMED["vm"]
    with capture_logs() as logs:
        vms = api.list_vms()
    _check(vms, logs, fate, before, ids=(v3_vm(0)["id"], v3_vm(2)["id"]), bad_id=v3_vm(1)["id"])


@pytest.mark.parametrize("case", sorted(MALFORMED_CLOUD))
def test_cloud_vm_list_keeps_its_good_items(case: str) -> None:
    bad, fate = MALFORMED_CLOUD[case]
    fake = FakeCloud(vms=[vm(0), bad, vm(2)])
    api = connect(
        ApiConfig(base_url="https://api.example.test", max_retries=0, generation="cloud"),
        transport=fake.transport(),
        api_key=KEY,
    )
    before = tolerant.MALFORMED["vm"]
    with capture_logs() as logs:
        vms = api.list_vms()
    _check(vms, logs, fate, before, ids=(vid(0), vid(2)), bad_id=vid(1))


def _check(vms, logs, fate, before, *, ids, bad_id) -> None:  # type: ignore[no-untyped-def]
    got = [v.id for v in vms]
    warnings = [e for e in logs if e["event"] == "fluence.malformed_item"]
    if fate == "clean":
        assert got == [ids[0], bad_id, ids[1]] and warnings == []
        return
    assert len(warnings) == 1 and warnings[0]["kind"] == "vm"
    assert tolerant.MALFORMED["vm"] == before + 1
    if fate == "kept":
        assert got == [ids[0], bad_id, ids[1]]
        assert warnings[0]["item"] == f"id={bad_id}"
        assert warnings[0]["action"] == "kept with the field empty"
    else:
        assert got == list(ids)
        assert warnings[0]["action"] == "skipped"


def test_malformed_ssh_key_and_price_point_are_skipped_on_cloud() -> None:
    fake = FakeCloud()
    fake.ssh_keys.append({"id": "key-x", "name": "bad", "publicKey": None})
    fake.prices[("no-such-config-but-bad-price", "x")] = "NaN-ish"
    api = connect(
        ApiConfig(base_url="https://api.example.test", max_retries=0, generation="cloud"),
        transport=fake.transport(),
        api_key=KEY,
    )
    with capture_logs() as logs:
        keys = api.ssh_keys()
        offers = api.list_offers()
    assert [k.id for k in keys] == [kid(1)] and len(offers) == 4
    named = {(e["kind"], e["item"]) for e in logs if e["event"] == "fluence.malformed_item"}
    assert ("ssh_key", "id=key-x") in named and any(k == "offer" for k, _ in named)


def test_a_list_of_only_malformed_items_is_a_bad_response() -> None:
    """Not one odd item but a changed answer: never read as an empty fleet."""
    fake = FakeCloud(vms=[vm(0, id=None), vm(1, id=None)])
    api = connect(
        ApiConfig(base_url="https://api.example.test", max_retries=0, generation="cloud"),
        transport=fake.transport(),
        api_key=KEY,
    )
    with pytest.raises(BadResponse, match=r"\[0\]\.id"):
        api.list_vms()


def _cli(url: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {"FLUENCE_API_KEY": KEY, "PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT),
           "HOME": "/nonexistent", "COLUMNS": "200"}  # fmt: skip
    return subprocess.run(
        [sys.executable, "-m", "optimizer", "--api-url", url, *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.http
@pytest.mark.parametrize("generation", ["marketplace-v3", "cloud"])
def test_vms_list_with_one_malformed_vm_lists_the_others_and_exits_0(generation: str) -> None:
    if generation == "cloud":
        handler = FakeCloud(vms=[vm(0), vm(1, id=None), vm(2, name=None)]).handle
        want = {vid(0), vid(2)}
    else:
        handler = _v3_server([v3_vm(0), v3_vm(1, id=None), v3_vm(2, vmName=None)])
        want = {v3_vm(0)["id"], v3_vm(2)["id"]}
    with serve(handler) as url:
        res = _cli(url, "vms", "list", "--json")
        table = _cli(url, "--verbose", "vms", "list")
    assert res.returncode == 0, res.stderr
    assert {v["id"] for v in json.loads(res.stdout)} == want
    assert "fluence.malformed_item" in res.stderr and "skipped" in res.stderr
    assert table.returncode == 0 and "fluence.generation" in table.stderr
    assert f"generation={generation}" in table.stderr
    assert KEY not in res.stderr + table.stderr


def test_the_daemon_exports_the_count() -> None:
    from optimizer.daemon.metrics import Metrics

    fake = FakeCloud(vms=[vm(0), vm(1, id=None)])
    api = connect(
        ApiConfig(base_url="https://api.example.test", max_retries=0, generation="cloud"),
        transport=fake.transport(),
        api_key=KEY,
    )

    def exported() -> float:
        line = next(
            (ln for ln in Metrics().render().splitlines()
             if ln.startswith('fluence_optimizer_api_malformed_items_total{kind="vm"}')),
            None,
        )  # fmt: skip
        return float(line.split()[-1]) if line else 0.0

    before = exported()
    assert len(api.list_vms()) == 1
    assert exported() == before + 1
