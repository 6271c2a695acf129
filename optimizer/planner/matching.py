"""Which offers a fleet may use, how they rank, and the exact constraints that target one.

Pure functions over `MarketOffer` and the fleet's config.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable, Sequence
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
from optimizer.planner.inputs import MarketOffer, MarketView, Trends


def _in(value: str | None, allowed: Sequence[str]) -> bool:
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
    return (
        _listing_mismatch(offer, fleet)
        or _hardware_mismatch(offer, fleet)
        or _datacenter_mismatch(offer, fleet, trends)
        or ("no capacity left" if offer.capacity <= 0 else None)
    )


def _listing_mismatch(offer: MarketOffer, fleet: FleetConfig) -> str | None:
    c = fleet.constraints
    if c.configurations and offer.configuration not in c.configurations:
        return f"configuration {offer.configuration} not allowed"
    if c.countries and offer.country not in c.countries:
        return f"country {offer.country} not allowed"
    cap = c.price_cap_per_epoch
    if cap is not None and offer.price > cap:
        return f"price above the fleet's max {cap}"
    return None


def _hardware_mismatch(offer: MarketOffer, fleet: FleetConfig) -> str | None:
    hw = fleet.constraints.hardware
    checks = (
        (offer.cpu_manufacturer, hw.cpu_manufacturers, "CPU manufacturer"),
        (offer.cpu_architecture, hw.cpu_architectures, "CPU architecture"),
        (offer.memory_type, hw.memory_types, "memory type"),
        (offer.memory_generation, hw.memory_generations, "memory generation"),
        (offer.storage_type, hw.storage_types, "storage type"),
    )
    for value, allowed, what in checks:
        if not _in(value, allowed):
            return f"{what} not allowed"
    return None


def _datacenter_mismatch(
    offer: MarketOffer, fleet: FleetConfig, trends: Trends | None
) -> str | None:
    c = fleet.constraints
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
    return None


def rank_key(offer: MarketOffer, trends: Trends | None = None) -> tuple[object, ...]:
    """Sort key: cheapest first; ties go to the more reliable, then the longer-listed
    offer, then the offer key (so the order is total and deterministic)."""
    score = reliability_of(offer, trends)
    listed = offer.listed_since.timestamp() if offer.listed_since else float("inf")
    return (offer.price, -(score if score is not None else 0.5), listed, offer.offer_key)


class _Filter:
    """`why_not(...) is None` as a fast boolean, with the fleet's lists turned into sets."""

    def __init__(self, fleet: FleetConfig, trends: Trends | None) -> None:
        c = fleet.constraints
        hw = c.hardware
        self.configs = set(c.configurations)
        self.countries = set(c.countries)
        self.max_price = c.price_cap_per_epoch

        def low(xs: Iterable[str]) -> set[str]:
            return {x.lower() for x in xs}

        self.hw = [
            low(hw.cpu_manufacturers),
            low(hw.cpu_architectures),
            low(hw.memory_types),
            low(hw.memory_generations),
            low(hw.storage_types),
        ]
        self.min_tier = c.min_tier
        self.certs = low(c.certifications)
        self.excluded = set(c.exclude_datacenters)
        self.min_rel = fleet.policy.min_reliability
        self.trends = trends

    def ok(self, o: MarketOffer) -> bool:
        if self.configs and o.configuration not in self.configs:
            return False
        if self.countries and o.country not in self.countries:
            return False
        if self.max_price is not None and o.price > self.max_price:
            return False
        if o.capacity <= 0 or o.datacenter in self.excluded:
            return False
        for allowed, value in zip(self.hw, o.hardware_key, strict=True):
            if allowed and (value is None or value.lower() not in allowed):
                return False
        if self.min_tier is not None and (o.tier is None or o.tier < self.min_tier):
            return False
        if self.certs and not self.certs <= {x.lower() for x in o.certifications}:
            return False
        if self.min_rel > 0:
            score = reliability_of(o, self.trends)
            if score is not None and score < self.min_rel:
                return False
        return True


def candidates(
    offers: tuple[MarketOffer, ...] | list[MarketOffer],
    fleet: FleetConfig,
    trends: Trends | None = None,
) -> list[MarketOffer]:
    """Offers `fleet` may use (exactly those for which `why_not` is None), best first
    (see `rank_key`)."""
    f = _Filter(fleet, trends)
    ok = [o for o in offers if f.ok(o)]
    ok.sort(key=lambda o: rank_key(o, trends))
    return ok


def market_candidates(
    market: MarketView, fleet: FleetConfig, trends: Trends | None = None
) -> list[MarketOffer]:
    """`candidates(market.offers, ...)`, faster: only the fleet's configurations are
    scanned, and without datacenter scores in `trends` the market's own order is reused."""
    f = _Filter(fleet, trends)
    slugs = sorted(f.configs) if f.configs else sorted(market.by_configuration)
    lists = [[o for o in market.by_configuration.get(s, ()) if f.ok(o)] for s in slugs]
    if trends is not None and trends.reliability:
        ok = [o for lst in lists for o in lst]
        ok.sort(key=lambda o: rank_key(o, trends))
        return ok
    if len(lists) == 1:
        return lists[0]
    return list(heapq.merge(*lists, key=lambda o: rank_key(o, None)))


def narrow(offer: MarketOffer, fleet: FleetConfig, cap: Decimal) -> Constraints:
    """The exact constraints that make deploy pick `offer` (or something no dearer and
    indistinguishable to the API): its configuration, its country, its hardware, the
    fleet's additional storage, and `cap` as maxTotalPricePerEpochUsd; a cloud offer also
    pins its cluster and configuration (the cloud adapter deploys exactly there)."""
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
        cluster_id=offer.cluster_id,
        configuration_id=offer.configuration_id,
    )
