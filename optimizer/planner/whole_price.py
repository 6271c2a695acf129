"""A VM's whole price per epoch (24 h): the one unit the planner compares.

A marketplace-v3 offer is priced per epoch for the whole VM; a fleet's `additional_storage`
adds its size times the offer's price per GiB. A cloud price point is priced per hour for
the VM alone, and a VM there holds two more resources billed per hour while they exist:
its boot disk (the fleet's `disk_gb` at the cluster's price per GB) and its public IP
(when the fleet wants one, at the cluster's price). Its whole price per epoch is 24 × the
sum: what the cloud executor creates and its estimate prices. Offers, owned VMs and the
analysis' offer levels all go through here before the planner ranks, caps or compares
anything (the fleet's cap is already per epoch: `FleetConstraints.price_cap_per_epoch`),
so a cluster with a cheaper VM but a dearer disk or address loses when the whole is dearer.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from decimal import Decimal

from optimizer.clock import EPOCH_HOURS
from optimizer.config import FleetConfig
from optimizer.planner.inputs import MarketOffer, MarketView, OwnedVm, Trends

HOURS_PER_EPOCH = Decimal(EPOCH_HOURS)


def whole_price_per_epoch(offer: MarketOffer, fleet: FleetConfig) -> Decimal | None:
    """What one VM of `fleet` on `offer` costs per epoch, everything it is billed for
    included; None when the offer does not say what a part the fleet needs costs."""
    if offer.price_unit != "hour":
        extra = fleet.constraints.additional_storage
        if extra is None:
            return offer.price
        if offer.storage_gib_price is None:
            return None
        return offer.price + offer.storage_gib_price * extra.size_gib
    return hourly_whole_price(offer.price, offer.disk_price_per_gb, offer.public_ip_price, fleet)


def hourly_whole_price(
    vm_per_hour: Decimal,
    disk_per_gb: Decimal | None,
    ip_per_hour: Decimal | None,
    fleet: FleetConfig,
) -> Decimal | None:
    """What one VM of `fleet` priced per hour costs per epoch, boot disk and public IP
    included; None when a part the fleet needs has no price (the offer cannot be priced)."""
    if disk_per_gb is None or (fleet.public_ip and ip_per_hour is None):
        return None
    return _hourly_whole(vm_per_hour, disk_per_gb, ip_per_hour, fleet)


def _hourly_whole(
    vm_per_hour: Decimal,
    disk_per_gb: Decimal | None,
    ip_per_hour: Decimal | None,
    fleet: FleetConfig,
    *,
    public_ip: bool | None = None,
) -> Decimal:
    """24 × (VM + boot disk + public IP) per hour; an unknown part counts as 0."""
    hourly = vm_per_hour + fleet.disk_gb * (disk_per_gb or Decimal(0))
    if fleet.public_ip if public_ip is None else public_ip:
        hourly += ip_per_hour or Decimal(0)
    return HOURS_PER_EPOCH * hourly


def priced_market(market: MarketView, fleet: FleetConfig) -> MarketView:
    """`market` with every offer at its whole price per epoch for `fleet`; offers that do
    not say what a part costs cannot be priced and are left out."""
    if not market.hourly and fleet.constraints.additional_storage is None:
        return market
    out = []
    for o in market.offers:
        price = whole_price_per_epoch(o, fleet)
        if price is not None:
            out.append(
                replace(
                    o,
                    price=price,
                    price_unit="epoch",
                    disk_price_per_gb=None,
                    public_ip_price=None,
                )
            )
    return MarketView(offers=tuple(out), taken_at=market.taken_at)


def _cluster_extras(market: MarketView) -> dict[str, tuple[Decimal | None, Decimal | None]]:
    """Cluster id → (price per GB of disk, per public IP) per hour, from its offers."""
    out: dict[str, tuple[Decimal | None, Decimal | None]] = {}
    for o in market.offers:
        if o.price_unit == "hour" and o.cluster_id is not None:
            disk, ip = out.get(o.cluster_id, (None, None))
            out[o.cluster_id] = (
                o.disk_price_per_gb if disk is None else disk,
                o.public_ip_price if ip is None else ip,
            )
    return out


def priced_vms(vms: Sequence[OwnedVm], market: MarketView, fleet: FleetConfig) -> list[OwnedVm]:
    """`vms` with every cloud VM at its whole price per epoch: its hourly price plus its
    boot disk (the fleet's `disk_gb`, as the executor creates it) and its public IP when
    it holds one, at its cluster's prices as `market` lists them. A cluster that lists
    none (it left the market) adds nothing: the VM's price is then a lower bound, so a
    move must beat even that."""
    if not any(v.price_unit == "hour" for v in vms):
        return list(vms)
    extras = _cluster_extras(market)
    out = []
    for v in vms:
        if v.price_unit == "hour" and v.price is not None:
            disk, ip = extras.get(v.cluster_id or "", (None, None))
            whole = _hourly_whole(v.price, disk, ip, fleet, public_ip=v.has_public_ip)
            v = replace(v, price=whole, price_unit="epoch")
        out.append(v)
    return out


def priced_trends(trends: Trends | None, market: MarketView, fleet: FleetConfig) -> Trends | None:
    """`trends` in the planner's unit. The analysis works in each offer's own unit, so on
    hourly offers an offer's level becomes its whole price per epoch (the level of the VM
    plus the cluster's current disk and IP prices, the half-width × 24; its week level
    likewise), and a segment's
    forecast and slope are scaled to per epoch (the VM alone: a segment spans clusters)."""
    if trends is None or not market.hourly:
        return trends
    hourly = {o.offer_key: o for o in market.offers if o.price_unit == "hour"}
    segments = {(o.configuration, o.country) for o in hourly.values()}
    levels: dict[str, tuple[Decimal, Decimal]] = {}
    for key, (level, half) in trends.levels.items():
        o = hourly.get(key)
        if o is None:
            levels[key] = (level, half)
        else:
            whole = _hourly_whole(level, o.disk_price_per_gb, o.public_ip_price, fleet)
            levels[key] = (whole, half * HOURS_PER_EPOCH)
    week = {
        k: _hourly_whole(v, o.disk_price_per_gb, o.public_ip_price, fleet)
        if (o := hourly.get(k)) is not None
        else v
        for k, v in trends.week_levels.items()
    }
    return replace(
        trends,
        levels=levels,
        week_levels=week,
        forecast=_per_epoch(trends.forecast, segments),
        slope={k: v * EPOCH_HOURS if k in segments else v for k, v in trends.slope.items()},
    )


def _per_epoch(
    values: Mapping[tuple[str, str], Decimal], segments: set[tuple[str, str]]
) -> dict[tuple[str, str], Decimal]:
    return {k: v * HOURS_PER_EPOCH if k in segments else v for k, v in values.items()}
