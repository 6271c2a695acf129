"""Economics of moving one VM (DESIGN.md "Key decisions").

benefit  = (current price − new price) per epoch (24 h)
overlap  = money paid for time nobody uses, as the billing model counts it
           (`optimizer.billing`): on epoch deals the old VM's paid epoch still running
           after cutover (not refunded) + the new VM's paid time before cutover; billed
           per second, the new VM's time while the old one still runs
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
from decimal import Decimal

from optimizer.billing import BillingModel
from optimizer.config import FleetPolicy

_Q = Decimal("0.000001")


def required_saving(old_price: Decimal, policy: FleetPolicy) -> Decimal:
    """The smallest per-epoch saving that clears both thresholds."""
    pct = old_price * Decimal(str(policy.min_savings_pct)) / Decimal(100)
    return max(pct, policy.min_savings_usd_per_epoch)


def price_cap(old_price: Decimal, policy: FleetPolicy) -> Decimal:
    """The most a replacement may cost: current price minus the required saving."""
    return (old_price - required_saving(old_price, policy)).quantize(_Q)


@dataclass(frozen=True)
class Verdict:
    worth_it: bool
    saving_per_epoch: Decimal
    saving_over_horizon: Decimal  # net of overlap and disruption cost
    overlap: Decimal
    payback_epochs: Decimal | None  # None: never pays back
    reason: str


def evaluate(
    old_price: Decimal,
    new_price: Decimal,
    overlap: Decimal,
    policy: FleetPolicy,
    billing: BillingModel,
) -> Verdict:
    """Decide whether moving from `old_price` to `new_price` pays, with plain-words reason
    (prices and durations in the words of `billing`)."""
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
            f"saving {billing.rate(saving, 4)} is below min_savings_usd_per_epoch "
            f"${policy.min_savings_usd_per_epoch}" + _per_day(billing),
        )
    if payback is None or payback > horizon:
        return Verdict(
            False,
            saving,
            net,
            overlap,
            payback,
            f"overlap ${overlap:.4f} + disruption ${policy.disruption_cost_usd} pays back in "
            f"{_span(billing, payback)}, more than payback_epochs {policy.payback_epochs:g}"
            + ("" if billing.day == "epoch" else f" ({billing.span(horizon)})"),
        )
    return Verdict(
        True,
        saving,
        net,
        overlap,
        payback,
        f"saves {billing.rate(saving, 4)} ({pct:.1f}%), pays back overlap ${overlap:.4f} in "
        f"{_span(billing, payback)}",
    )


def _span(billing: BillingModel, epochs: Decimal | None) -> str:
    return billing.span(epochs) if epochs is not None else "never"


def _per_day(billing: BillingModel) -> str:
    """ " (per 24 h)" after a per-epoch setting, when the generation's unit is not the epoch."""
    return "" if billing.day == "epoch" else f" (per {billing.day})"


def robust_saving(old: tuple[Decimal, Decimal], new: tuple[Decimal, Decimal]) -> Decimal:
    """The per-epoch saving of moving from an offer at level old[0] (± old[1], the
    half-width of its 90 % prediction interval) to one at new[0] ± new[1]: the difference
    of the levels minus the half-width of the difference's interval,
    sqrt(old[1]² + new[1]²). Negative when the move may well not save at all."""
    half = (old[1] * old[1] + new[1] * new[1]).sqrt()
    return (old[0] - new[0] - half).quantize(_Q)
