"""Account facts on the cloud generation: balance, what bills per hour (own prices, or the
price lists where a resource carries none), charges; parts the key may not read are
None, a refused key still fails. And the seeds' generation asks nothing."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import httpx
import pytest

from optimizer.config import ApiConfig
from optimizer.errors import AuthError
from optimizer.fluence.account import DISK, IP, UNKNOWN, VM
from optimizer.fluence.client import FluenceClient
from optimizer.fluence.cloud.account import usd_balance
from optimizer.fluence.cloud.adapter import CloudApi
from optimizer.fluence.cloud.wire import Balance
from optimizer.fluence.generation import connect
from tests.fluence.cloud.fake import CL_A, KEY, FakeCloud, did, vid

DAYS = (date(2026, 5, 1), date(2026, 5, 17))


def _api(fake: FakeCloud) -> CloudApi:
    api = connect(
        ApiConfig(base_url="https://api.example.test", max_retries=0, generation="cloud"),
        transport=fake.transport(),
        api_key=KEY,
    )
    assert isinstance(api, CloudApi)
    return api


def disk(i: int, **over: object) -> dict[str, object]:
    return {"id": did(i), "clusterId": CL_A, "name": f"web-{i}-d", "storageType": "NVME",
            "status": "ready", "volumeGb": 25, "attachedTo": [vid(i)], **over}  # fmt: skip


def test_burn_rate_adds_every_billed_vm_disk_and_ip_at_exact_prices() -> None:
    fake = FakeCloud()
    fake.storages = [disk(0), disk(1), disk(9, attachedTo=[], name="spare"),
                     disk(8, status="removed")]  # fmt: skip
    fake.vms[2]["status"] = "terminated"  # no longer billed; its disk and IP still are
    facts = _api(fake).account(*DAYS)
    kinds = sorted((r.kind, r.per_hour, r.attached) for r in facts.resources or ())
    assert kinds == sorted(
        [(VM, Decimal("0.0125"), None)] * 2
        + [(DISK, Decimal("0.00012") * 25, True)] * 2
        + [(DISK, Decimal("0.00012") * 25, False)]
        + [(IP, Decimal("0.005"), False)] * 3  # the fake's IPs say nothing of a VM
    )
    assert facts.burn_per_hour == Decimal("0.0125") * 2 + Decimal("0.003") * 3 + Decimal("0.015")
    assert facts.balance == Decimal("41.250000")
    assert facts.charges_since == DAYS[0] and facts.spent_since == Decimal("0.13125")
    assert facts.spent_today == Decimal("0.13125") and facts.notes == ()


def test_charges_the_key_may_not_read_are_unknown_the_rest_stands() -> None:
    fake = FakeCloud()
    fake.errors[("GET", "/v1/billing/charges/aggregated")] = (
        403,
        {"code": "forbidden", "error": "Not allowed to call this endpoint"},
    )
    facts = _api(fake).account(*DAYS)
    assert facts.charged is None and facts.spent_since is None and facts.charges_since is None
    assert facts.balance == Decimal("41.250000") and facts.burn_per_hour is not None
    assert facts.notes == ("charges: not available (403)",)


def test_a_refused_key_still_fails() -> None:
    fake = FakeCloud()
    fake.errors[("GET", "/v2/users/balances")] = (401, {"code": "unauthorized", "error": "no"})
    with pytest.raises(AuthError):
        _api(fake).account(*DAYS)


def test_a_resource_without_a_known_price_makes_the_burn_rate_unknown() -> None:
    fake = FakeCloud()
    fake.storages = [disk(0, clusterId="elsewhere")]  # no storage price for that cluster
    facts = _api(fake).account(*DAYS)
    assert facts.resources is not None and facts.burn_per_hour is None


def test_the_usd_balance_is_the_only_entitlement_or_the_one_named_usd() -> None:
    def b(amount: str, key: str) -> Balance:
        return Balance.model_validate({"balance": amount, "featureKey": key})

    assert usd_balance([b("3.5", "compute")]) == Decimal("3.5")
    assert usd_balance([b("1", "gpu_hours"), b("7.25", "cloud_usd_balance")]) == Decimal("7.25")
    assert usd_balance([b("1", "a"), b("2", "b")]) is None
    assert usd_balance([]) is None


def test_the_seeds_generation_reports_nothing_and_sends_no_request() -> None:
    sent: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        return httpx.Response(500)

    http = httpx.Client(base_url="https://v3.test", transport=httpx.MockTransport(handler))
    client = FluenceClient(http)
    facts = client.account(*DAYS)
    assert facts is UNKNOWN and not facts.known and facts.burn_per_hour is None
    assert sent == []
