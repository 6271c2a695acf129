"""Economics of moving one VM (DESIGN.md "Key decisions").

benefit  = (current price − new price) per epoch
overlap  = money paid for time nobody uses: the old VM's paid epoch still running after
           cutover (not refunded) + the new VM's paid time before cutover
cost     = overlap + the policy's disruption cost
A move is worth it when the benefit clears both thresholds (percent and USD per epoch)
and the cost is paid back within `payback_epochs`.

When VMs pay their offer's market price at each charge (`price_model = "market"`), the
benefit of a move is not today's price difference — a dip or a noisy tick does not
last — but the difference of the two offers' recent levels, less the uncertainty of that
difference (`robust_saving`): a move must pay back under the forecast's interval, not
its point estimate.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from optimizer.clock import EPOCH
from optimizer.config import FleetPolicy
from optimizer.planner.inputs import CUTOVER_MARGIN

_Q = Decimal("0.000001")


def _frac(delta: timedelta) -> Decimal:
    """A duration as a fraction of an epoch, clipped to [0, 1]."""
    secs = Decimal(int(delta.total_seconds()))
    f = secs / Decimal(int(EPOCH.total_seconds()))
    return min(max(f, Decimal(0)), Decimal(1))


def required_saving(old_price: Decimal, policy: FleetPolicy) -> Decimal:
    """The smallest per-epoch saving that clears both thresholds."""
    pct = old_price * Decimal(str(policy.min_savings_pct)) / Decimal(100)
    return max(pct, policy.min_savings_usd_per_epoch)


def price_cap(old_price: Decimal, policy: FleetPolicy) -> Decimal:
    """The most a replacement may cost: current price minus the required saving."""
    return (old_price - required_saving(old_price, policy)).quantize(_Q)


@dataclass(frozen=True)
class Timing:
    """`aligned`: the cutover is a deadline just before the old VM's next charge. Otherwise
    `cutover_at` only estimates when the new VM will be up (for the overlap cost and the
    maintenance-window check): the executor cuts over as soon as it sees the VM Active."""

    start_at: datetime  # deploy the new VM (not before)
    cutover_at: datetime  # delete the old VM
    aligned: bool = False


def schedule(
    now: datetime, next_billing_at: datetime | None, lead_time: timedelta, align: bool
) -> Timing:
    """When to start the new VM and when to cut over.

    Aligned: cutover just before the old VM's next charge (`CUTOVER_MARGIN` early), the new
    VM started `lead_time` before that; when that start is already past, the charge after.
    Not aligned (or billing time unknown): start now, cut over once it is up."""
    if align and next_billing_at is not None:
        cutover = next_billing_at - CUTOVER_MARGIN
        while cutover - lead_time < now:
            cutover += EPOCH
        return Timing(start_at=cutover - lead_time, cutover_at=cutover, aligned=True)
    return Timing(start_at=now, cutover_at=now + lead_time)


def overlap_cost(
    old_price: Decimal,
    new_price: Decimal,
    timing: Timing,
    next_billing_at: datetime | None,
) -> Decimal:
    """Money spent on time nobody uses: the old VM's paid epoch left at cutover plus the
    new VM's paid time before cutover."""
    old_left = Decimal(0)
    if next_billing_at is not None:
        billing = next_billing_at
        while billing < timing.cutover_at:
            billing += EPOCH
        old_left = old_price * _frac(billing - timing.cutover_at)
    else:
        old_left = old_price / 2  # unknown billing time: assume half an epoch on average
    new_early = new_price * _frac(timing.cutover_at - timing.start_at)
    return (old_left + new_early).quantize(_Q)


@dataclass(frozen=True)
class Verdict:
    worth_it: bool
    saving_per_epoch: Decimal
    saving_over_horizon: Decimal  # net of overlap and disruption cost
    overlap: Decimal
    payback_epochs: Decimal | None  # None: never pays back
    reason: str


def evaluate(
    old_price: Decimal, new_price: Decimal, overlap: Decimal, policy: FleetPolicy
) -> Verdict:
    """Decide whether moving from `old_price` to `new_price` pays, with plain-words reason."""
    saving = old_price - new_price
    cost = overlap + policy.disruption_cost_usd
    horizon = Decimal(str(policy.payback_epochs))
    net = (saving * horizon - cost).quantize(_Q)
    payback = (cost / saving).quantize(Decimal("0.01")) if saving > 0 else None
    pct = (saving / old_price * 100) if old_price > 0 else Decimal(0)
    if saving <= 0:
        return Verdict(False, saving, net, overlap, None, "no cheaper offer")
    if pct < Decimal(str(policy.min_savings_pct)):
        return Verdict(
            False,
            saving,
            net,
            overlap,
            payback,
            f"saving {pct:.1f}% is below min_savings_pct {policy.min_savings_pct:g}%",
        )
    if saving < policy.min_savings_usd_per_epoch:
        return Verdict(
            False,
            saving,
            net,
            overlap,
            payback,
            f"saving ${saving:.4f}/epoch is below min_savings_usd_per_epoch "
            f"${policy.min_savings_usd_per_epoch}",
        )
    if payback is None or payback > horizon:
        return Verdict(
            False,
            saving,
            net,
            overlap,
            payback,
            f"overlap ${overlap:.4f} + disruption ${policy.disruption_cost_usd} pays back in "
            f"{payback} epochs, more than payback_epochs {policy.payback_epochs:g}",
        )
    return Verdict(
        True,
        saving,
        net,
        overlap,
        payback,
        f"saves ${saving:.4f}/epoch ({pct:.1f}%), pays back overlap ${overlap:.4f} in "
        f"{payback} epochs",
    )


def robust_saving(old: tuple[Decimal, Decimal], new: tuple[Decimal, Decimal]) -> Decimal:
    """The per-epoch saving of moving from an offer at level old[0] (± old[1], the
    half-width of its 90 % prediction interval) to one at new[0] ± new[1]: the difference
    of the levels minus the half-width of the difference's interval,
    sqrt(old[1]² + new[1]²). Negative when the move may well not save at all."""
    half = (old[1] * old[1] + new[1] * new[1]).sqrt()
    return (old[0] - new[0] - half).quantize(_Q)
