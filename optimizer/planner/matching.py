"""Which offers a fleet may use, how they rank, and the exact constraints that target one.

Pure functions over `MarketOffer` and the fleet's config.
"""

from __future__ import annotations

from decimal import Decimal

from optimizer.config import FleetConfig
from optimizer.fluence.models import (
    AdditionalResourcesRequest,
    Constraints,
    CpuSpec,
    DatacenterFilter,
    Hardware,
    MemorySpec,
    StorageRequest,
    StorageSpec,
)
from optimizer.planner.inputs import MarketOffer, Trends


def _in(value: str | None, allowed: list[str]) -> bool:
    if not allowed:
        return True
    if value is None:
        return False
    low = value.lower()
    return any(low == a.lower() for a in allowed)


def reliability_of(offer: MarketOffer, trends: Trends | None) -> float | None:
    """The datacenter's reliability score: from the trends, else from the offer, else None."""
    if trends is not None and offer.datacenter in trends.reliability:
        return trends.reliability[offer.datacenter]
    return offer.reliability


def why_not(offer: MarketOffer, fleet: FleetConfig, trends: Trends | None = None) -> str | None:
    """Return None when `offer` satisfies every constraint of `fleet` (API-side ones and the
    client-side ones the API lacks: min tier, certifications, excluded datacenters, minimum
    reliability), else a short reason naming the first constraint that fails."""
    c = fleet.constraints
    if c.configurations and offer.configuration not in c.configurations:
        return f"configuration {offer.configuration} not allowed"
    if c.countries and offer.country not in c.countries:
        return f"country {offer.country} not allowed"
    if c.max_price_per_epoch_usd is not None and offer.price > c.max_price_per_epoch_usd:
        return f"price above the fleet's max {c.max_price_per_epoch_usd}"
    hw = c.hardware
    if not _in(offer.cpu_manufacturer, hw.cpu_manufacturers):
        return "CPU manufacturer not allowed"
    if not _in(offer.cpu_architecture, hw.cpu_architectures):
        return "CPU architecture not allowed"
    if not _in(offer.memory_type, hw.memory_types):
        return "memory type not allowed"
    if not _in(offer.memory_generation, hw.memory_generations):
        return "memory generation not allowed"
    if not _in(offer.storage_type, list(hw.storage_types)):
        return "storage type not allowed"
    if c.min_tier is not None and (offer.tier is None or offer.tier < c.min_tier):
        return f"datacenter tier {offer.tier} below {c.min_tier}"
    if c.certifications:
        have = {x.lower() for x in offer.certifications}
        missing = [x for x in c.certifications if x.lower() not in have]
        if missing:
            return f"missing certification {missing[0]}"
    if offer.datacenter in c.exclude_datacenters:
        return f"datacenter {offer.datacenter} excluded"
    minimum = fleet.policy.min_reliability
    if minimum > 0:
        score = reliability_of(offer, trends)
        if score is not None and score < minimum:
            return f"datacenter {offer.datacenter} reliability {score:.2f} below {minimum:.2f}"
    if offer.capacity <= 0:
        return "no capacity left"
    return None


def rank_key(offer: MarketOffer, trends: Trends | None = None) -> tuple[object, ...]:
    """Sort key: cheapest first; ties go to the more reliable, then the longer-listed
    offer, then the offer key (so the order is total and deterministic)."""
    score = reliability_of(offer, trends)
    listed = offer.listed_since.timestamp() if offer.listed_since else float("inf")
    return (offer.price, -(score if score is not None else 0.5), listed, offer.offer_key)


def candidates(
    offers: tuple[MarketOffer, ...] | list[MarketOffer],
    fleet: FleetConfig,
    trends: Trends | None = None,
) -> list[MarketOffer]:
    """Offers `fleet` may use, best first (see `rank_key`)."""
    ok = [o for o in offers if why_not(o, fleet, trends) is None]
    ok.sort(key=lambda o: rank_key(o, trends))
    return ok


def narrow(offer: MarketOffer, fleet: FleetConfig, cap: Decimal) -> Constraints:
    """The exact constraints that make deploy pick `offer` (or something no dearer and
    indistinguishable to the API): its configuration, its country, its hardware, the
    fleet's additional storage, and `cap` as maxTotalPricePerEpochUsd."""
    cpu = (
        [CpuSpec(manufacturer=offer.cpu_manufacturer, architecture=offer.cpu_architecture)]
        if offer.cpu_manufacturer or offer.cpu_architecture
        else []
    )
    mem = (
        [MemorySpec(type=offer.memory_type, generation=offer.memory_generation)]
        if offer.memory_type or offer.memory_generation
        else []
    )
    storage = [StorageSpec(type=offer.storage_type)] if offer.storage_type else []
    extra = fleet.constraints.additional_storage
    additional = None
    if extra is not None:
        additional = AdditionalResourcesRequest(
            storage=[StorageRequest(type=extra.type, supply=extra.size_gib)]
        )
        if not storage:
            storage = [StorageSpec(type=extra.type)]
    hardware = Hardware(cpu=cpu, memory=mem, storage=storage) if cpu or mem or storage else None
    return Constraints(
        basic_configuration=offer.configuration,
        additional_resources=additional,
        hardware=hardware,
        datacenter=DatacenterFilter(countries=[offer.country]),
        max_total_price_per_epoch_usd=cap,
    )
