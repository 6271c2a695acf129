"""Adapters from wire models to planner inputs. Pure: the caller fetches, these map.

market_view(client.list_offers(None), taken_at=now)  -> MarketView
owned_vm(vm, last_migrated_at=None)                  -> OwnedVm
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from decimal import Decimal

from optimizer.fluence.models import Offer, Vm, parse_slug
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
    """Map one wire `Offer` to a `MarketOffer` (vCPU/RAM from the slug, hardware from the
    resources' metadata, capacity = available basic instances)."""
    sizes = parse_slug(offer.configuration.slug) or (0, 0, 0)
    dc = offer.datacenter
    return MarketOffer(
        offer_key=offer.offer_key,
        configuration=offer.configuration.slug,
        vcpu=sizes[0],
        ram_gb=sizes[1],
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
    """Map one wire `Vm` (from GET /vms/v3) to an `OwnedVm`."""
    vcpu = ram = None
    for r in vm.resources:
        t = r.type.upper()
        if t == "VCPU":
            vcpu = r.quantity if r.quantity is not None else r.supply
        elif t == "RAM":
            ram = r.supply if r.supply is not None else r.quantity
    dc = vm.datacenter
    return OwnedVm(
        id=vm.id,
        name=vm.vm_name,
        status=vm.status,
        price=vm.price_per_epoch,
        next_billing_at=vm.next_billing_at,
        created_at=vm.created_at,
        datacenter=dc.label if dc is not None and dc.country_code else None,
        country=dc.country_code if dc is not None else None,
        vcpu=vcpu,
        ram_gb=ram,
        reserved_balance=vm.reserved_balance or Decimal(0),
        last_migrated_at=last_migrated_at,
    )
