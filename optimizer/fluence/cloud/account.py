"""Account facts on the cloud generation (`optimizer.fluence.account`), from:

- the balance: `GET /v2/users/balances` (one entitlement, or the one whose feature key
  names USD; several others and none of them USD: unknown);
- what bills now: the VMs in a billed status, and every disk and public IP not yet
  removed (`GET /v2/vms`, `/v1/storages`, `/v1/public_ips`), each at its own
  `priceHourlyUsd` (0.10.0) or, where the resource does not carry one (0.8.210), at the
  price lists' (`/v1/prices/vm`, `/storage` per GB, `/public-ip`), asked only then;
- the charges: `GET /v1/billing/charges/aggregated` per resource from `since` to today,
  and for today alone.

A part the key may not read (403) or the server does not route (404/405) is None, with
a note; a refused key (401) or any other failure raises as usual.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import date
from decimal import Decimal
from typing import TypeVar

from optimizer.errors import ApiError
from optimizer.fluence.account import DISK, IP, VM, AccountFacts, BilledResource, ResourceCharge
from optimizer.fluence.cloud.client import CloudClient
from optimizer.fluence.cloud.wire import Balance, ChargesEntry, PublicIp, Storage

#: VM statuses the meter runs in (a suspended, terminating or ended VM is not billed;
#: its disk and IP are, until deleted)
BILLED_VM_STATUSES = frozenset(
    {"new", "launching", "launched", "updating", "restarting", "softRebooting"}
)
#: disk and IP statuses in which the meter has stopped
UNBILLED_STATUSES = frozenset({"removing", "removed", "failed"})
#: the charges' resource types, as neutral kinds
KINDS = {"VM": VM, "STORAGE": DISK, "PUBLIC_IP": IP}
#: statuses meaning "this key may not read that" or "this server has no such path"
UNANSWERED = frozenset({403, 404, 405})

T = TypeVar("T")


def account_facts(client: CloudClient, since: date, today: date) -> AccountFacts:
    """The account's balance, billed resources and charges (see the module docstring)."""
    notes: list[str] = []
    balances = _part(notes, "balance", client.balances)
    charged = _part(notes, "charges", lambda: client.charges(since, today))
    charged_today = _part(notes, "charges", lambda: client.charges(today, today))
    return AccountFacts(
        balance=None if balances is None else usd_balance(balances),
        resources=tuple(billed_resources(client)),
        charges_since=since if charged is not None else None,
        charged=None if charged is None else tuple(map(_charge, charged)),
        charged_today=None if charged_today is None else tuple(map(_charge, charged_today)),
        notes=tuple(dict.fromkeys(notes)),
    )


def usd_balance(balances: Sequence[Balance]) -> Decimal | None:
    """The account's USD balance among its entitlements, or None when it is not clear
    which one that is."""
    if len(balances) == 1:
        return balances[0].balance
    usd = [b for b in balances if "usd" in (b.feature_key or "").lower()]
    return usd[0].balance if len(usd) == 1 else None


def billed_resources(client: CloudClient) -> list[BilledResource]:
    """Every VM, disk and IP the meter runs for, with its hourly price."""
    vms = [v for v in client.list_vms() if v.status in BILLED_VM_STATUSES]
    disks = [s for s in client.storages() if (s.status or "") not in UNBILLED_STATUSES]
    ips = [i for i in client.public_ips() if (i.status or "") not in UNBILLED_STATUSES]
    prices = _Prices(client)
    out = [
        BilledResource(
            v.id,
            v.name,
            VM,
            v.price_hourly_usd
            if v.price_hourly_usd is not None
            else prices.vm(v.cluster_id, v.configuration_id),
        )
        for v in vms
    ]
    out += [BilledResource(s.id, s.name, DISK, prices.disk(s), bool(s.attached_to)) for s in disks]
    out += [
        BilledResource(i.id, i.name, IP, prices.ip(i), i.attached_vm_id is not None) for i in ips
    ]
    return out


class _Prices:
    """The price lists, each fetched on first need (0.10.0 resources carry their price)."""

    def __init__(self, client: CloudClient) -> None:
        self.client = client
        self._vm: dict[tuple[str, str], Decimal] | None = None
        self._disk: dict[tuple[str, str, bool], Decimal] | None = None
        self._ip: dict[tuple[str, str], Decimal] | None = None

    def vm(self, cluster: str | None, configuration: str | None) -> Decimal | None:
        if self._vm is None:
            self._vm = {
                (p.vm_type_id.cluster_id, p.vm_type_id.vm_configuration_id): p.per_hour
                for p in self.client.vm_prices()
            }
        return self._vm.get((cluster or "", configuration or ""))

    def disk(self, s: Storage) -> Decimal | None:
        if s.price_hourly_usd is not None:
            return s.price_hourly_usd
        if s.volume_gb is None:
            return None
        if self._disk is None:
            self._disk = {
                (t.cluster_id, t.storage_type.upper(), t.replicated): (
                    p.price_info.price_per_hour_per_qty
                )
                for p in self.client.storage_prices()
                for t in [p.storage_type_id]
            }
        key = (s.cluster_id or "", (s.storage_type or "NVME").upper(), bool(s.replicated))
        per_gb = self._disk.get(key)
        return None if per_gb is None else per_gb * s.volume_gb

    def ip(self, i: PublicIp) -> Decimal | None:
        if i.price_hourly_usd is not None:
            return i.price_hourly_usd
        if self._ip is None:
            self._ip = {
                (p.public_ip_type_id.cluster_id, p.public_ip_type_id.address_type.upper()): (
                    p.price_info.price_per_hour_per_qty
                )
                for p in self.client.public_ip_prices()
            }
        return self._ip.get((i.cluster_id or "", (i.address_type or "V4").upper()))


def _charge(e: ChargesEntry) -> ResourceCharge:
    kind = KINDS.get(e.resource_type or "", (e.resource_type or "").lower() or None)
    return ResourceCharge(e.resource_id, e.resource_name, kind, e.total_cost)


def _part(notes: list[str], what: str, call: Callable[[], T]) -> T | None:
    """`call()`, or None (noted) when the key may not read it or the path is not routed."""
    try:
        return call()
    except ApiError as err:
        if err.status not in UNANSWERED:
            raise
        notes.append(f"{what}: not available ({err.status})")
        return None
