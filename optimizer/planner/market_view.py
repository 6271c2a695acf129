"""Adapters from wire models to planner inputs. Pure: the caller fetches, these map.

market_view(client.list_offers(None), taken_at=now)  -> MarketView
owned_vm(vm, last_migrated_at=None)                  -> OwnedVm
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from decimal import Decimal

from optimizer.fluence.models import Offer, Vm, cloud_key
from optimizer.planner.inputs import MarketOffer, MarketView, OwnedVm


def _meta(offer: Offer, kind: str, key: str) -> str | None:
    r = offer.resource(kind)
    if r is None:
        return None
    v = r.metadata.get(key)
    return str(v) if v is not None else None


def _storage_gib_price(offer: Offer) -> Decimal | None:
    prices = [
        r.price
        for r in [
            *offer.max_additional_supply,
            *(x for s in offer.servers for x in s.additional_resources),
        ]
        if r.type.upper() == "STORAGE" and r.price is not None
    ]
    return min(prices) if prices else None


def offer_from_wire(
    offer: Offer,
    *,
    reliability: float | None = None,
    listed_since: datetime | None = None,
) -> MarketOffer:
    """Map one wire `Offer` to a `MarketOffer` (vCPU/RAM from the slug or the resources,
    hardware from the resources' metadata, capacity = available basic instances), its
    price in its own unit (see `whole_price`)."""
    vcpu, ram, _ = offer.sizes
    dc = offer.datacenter
    return MarketOffer(
        offer_key=offer.offer_key,
        configuration=offer.configuration.slug,
        vcpu=vcpu or 0,
        ram_gb=ram or 0,
        country=dc.country_code or "??",
        datacenter=dc.label,
        price=offer.price,
        capacity=offer.capacity,
        tier=dc.tier,
        certifications=tuple(dc.certifications),
        cpu_manufacturer=_meta(offer, "VCPU", "manufacturer"),
        cpu_architecture=_meta(offer, "VCPU", "architecture"),
        memory_type=_meta(offer, "RAM", "type"),
        memory_generation=_meta(offer, "RAM", "generation"),
        storage_type=_meta(offer, "STORAGE", "type"),
        reliability=reliability,
        listed_since=listed_since,
        storage_gib_price=_storage_gib_price(offer),
        cluster_id=offer.cluster_id,
        configuration_id=offer.configuration_id,
        price_unit=offer.unit,
        disk_price_per_gb=offer.disk_price_per_gb,
        public_ip_price=offer.public_ip_price,
    )


def market_view(
    offers: Iterable[Offer],
    *,
    taken_at: datetime,
    listed_since: Mapping[str, datetime] | None = None,
) -> MarketView:
    """All offers of one `POST /marketplace/offers {}` answer as a MarketView.
    `listed_since`: offer_key → first time the store saw it (optional)."""
    seen = listed_since or {}
    out = []
    for o in offers:
        key = o.offer_key
        out.append(offer_from_wire(o, listed_since=seen.get(key)))
    return MarketView(offers=tuple(sorted(out, key=lambda m: m.offer_key)), taken_at=taken_at)


def owned_vm(vm: Vm, *, last_migrated_at: datetime | None = None) -> OwnedVm:
    """Map one wire `Vm` to an `OwnedVm`: a v3 VM at its price per epoch; a cloud VM at
    its hourly price (the VM alone, see `whole_price.priced_vms`), with the price point it
    runs on, its cluster and whether it holds a public IP."""
    vcpu = ram = None
    for r in vm.resources:
        t = r.type.upper()
        if t == "VCPU":
            vcpu = r.quantity if r.quantity is not None else r.supply
        elif t == "RAM":
            ram = r.supply if r.supply is not None else r.quantity
    dc = vm.datacenter
    hourly = vm.price_per_epoch is None and vm.price_per_hour is not None
    key = None
    if vm.cluster_id is not None and (vm.configuration_id or vm.configuration_slug):
        key = cloud_key(vm.cluster_id, vm.configuration_id or vm.configuration_slug or "")
    return OwnedVm(
        id=vm.id,
        name=vm.vm_name,
        status=vm.status,
        price=vm.price_per_hour if hourly else vm.price_per_epoch,
        price_unit="hour" if hourly else "epoch",
        cluster_id=vm.cluster_id,
        has_public_ip=vm.public_ip_id is not None,
        offer_key=key,
        next_billing_at=vm.next_billing_at,
        created_at=vm.created_at,
        datacenter=dc.label if dc is not None and dc.country_code else None,
        country=dc.country_code if dc is not None else None,
        vcpu=vcpu,
        ram_gb=ram,
        reserved_balance=vm.reserved_balance or Decimal(0),
        last_migrated_at=last_migrated_at,
    )
