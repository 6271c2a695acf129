"""A cloud placement in `Constraints` reaches the journal but never the marketplace wire:
the v3 client sends exactly what it sent before placement existed."""

from __future__ import annotations

import json
from decimal import Decimal

import httpx

from optimizer.config import ApiConfig
from optimizer.fluence.client import build_client
from optimizer.fluence.models import (
    Constraints,
    DatacenterFilter,
    DeployRequest,
    VmConfiguration,
)

BASE = Constraints(
    basic_configuration="cpu-2-ram-4gb-storage-25gb",
    datacenter=DatacenterFilter(countries=["DE"]),
    max_total_price_per_epoch_usd=Decimal("1.20"),
)
PLACED = BASE.model_copy(update={"cluster_id": "cl-1", "configuration_id": "cfg-1"})


def _bodies(constraints: Constraints) -> list[dict[str, object]]:
    """The JSON bodies the v3 client sends for an offer search, an estimate and a deploy."""
    sent: list[dict[str, object]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        sent.append(json.loads(request.content))
        if request.url.path.endswith("/estimate"):
            return httpx.Response(
                200,
                json={
                    "depositAmountUsdc": "2",
                    "totalPricePerEpoch": "1",
                    "maxPricePerEpoch": "1",
                    "instances": 1,
                },
            )
        if request.url.path == "/vms/v3":
            return httpx.Response(200, json=[{"vmId": "0x1", "vmName": "web-abc"}])
        return httpx.Response(200, json=[])

    client = build_client(
        ApiConfig(base_url="https://api.example.test"),
        transport=httpx.MockTransport(handler),
        api_key="sk-placement-test-0001",
    )
    with client:
        client.list_offers(constraints)
        client.estimate(constraints, 1)
        client.deploy(
            DeployRequest(
                constraints=constraints,
                vm_configuration=VmConfiguration(
                    name="web-abc", os_image="https://x/img.qcow2", ssh_keys=["k"]
                ),
            )
        )
    return sent


def test_v3_client_never_sends_the_cloud_placement() -> None:
    plain, placed = _bodies(BASE), _bodies(PLACED)
    assert placed == plain
    assert "clusterId" not in json.dumps(placed) and "configurationId" not in json.dumps(placed)
    assert plain[0] == {
        "basicConfiguration": "cpu-2-ram-4gb-storage-25gb",
        "datacenter": {"countries": ["DE"]},
        "maxTotalPricePerEpochUsd": "1.20",
    }


def test_the_journal_keeps_the_placement() -> None:
    stored = PLACED.model_dump_json(by_alias=True, exclude_none=True)  # as the journal does
    back = Constraints.model_validate_json(stored)
    assert (back.cluster_id, back.configuration_id) == ("cl-1", "cfg-1")
    assert Constraints.model_validate_json(BASE.model_dump_json(by_alias=True)).cluster_id is None
