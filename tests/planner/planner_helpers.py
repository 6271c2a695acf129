"""Hand-built planner inputs shared by the planner tests (pure: no clock, no I/O)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from optimizer.config import FleetConfig
from optimizer.planner import MarketOffer, MarketView, OwnedVm, plan_fleet

NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
D = Decimal


#: the rules below are written against these limits (the pre-benchmark defaults), spelled
#: out so that tuning the defaults (bench_policy_quality.py) does not change what they test
RULE_POLICY = {
    "min_savings_pct": 10,
    "min_savings_usd_per_epoch": "0.05",
    "payback_epochs": 3,
    "max_migrations_per_epoch": 1,
    "cooldown_epochs": 2,
    "max_surge": 1,
}


def fleet(**kw) -> FleetConfig:
    base = {
        "name": "web",
        "instances": 2,
        "os_image": "https://images.example/ubuntu.img",
        "ssh_keys": ["ops"],
    }
    base.update(kw)
    base["policy"] = {**RULE_POLICY, **base.get("policy", {})}
    return FleetConfig.model_validate(base)


def offer(
    key: str,
    price: str,
    dc: str = "FR-PAR-1",
    cfg: str = "cpu-2-ram-4gb-storage-25gb",
    cap: int = 10,
    **kw,
) -> MarketOffer:
    country = dc.split("-")[0]
    v, r = int(cfg.split("-")[1]), int(cfg.split("-")[3].removesuffix("gb"))
    return MarketOffer(
        offer_key=key,
        configuration=cfg,
        vcpu=v,
        ram_gb=r,
        country=country,
        datacenter=dc,
        price=D(price),
        capacity=cap,
        tier=3,
        **kw,
    )


def vm(
    id: str,
    price: str,
    dc: str = "FR-PAR-1",
    status: str = "Active",
    age_h: float = 100,
    billing_in_h: float = 6,
    cfg=(2, 4),
) -> OwnedVm:
    return OwnedVm(
        id=id,
        name=f"web-{id}",
        status=status,
        price=D(price),
        next_billing_at=NOW + timedelta(hours=billing_in_h),
        created_at=NOW - timedelta(hours=age_h),
        datacenter=dc,
        country=dc[:2],
        vcpu=cfg[0],
        ram_gb=cfg[1],
        reserved_balance=D(price),
    )


def market(*offers: MarketOffer) -> MarketView:
    return MarketView(offers=tuple(offers), taken_at=NOW)


def plan(f, vms, m, **kw):
    return plan_fleet(f, vms, m, now=NOW, **kw)
