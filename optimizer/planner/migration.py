"""One VM's migration decision: the best allowed target cheaper by the required margin,
when to start and cut over, and whether the saving pays for the overlap. Pure.

A VM billed at its offer's market price (`policy.price_model = "market"`, and always on
per-second billing: `BillingModel.market_priced`) is judged on
the offers' recent levels (`Trends.levels`) instead of the prices of the moment: the
saving is the levels' difference less its uncertainty (`economics.robust_saving`), so a
dip or a noisy tick that would not last is not chased, and no move starts early to catch
a dip (a market-priced VM would not keep its price)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from decimal import Decimal

from optimizer.billing import BillingModel, Timing
from optimizer.clock import EPOCH
from optimizer.fluence.status import is_healthy
from optimizer.planner.economics import evaluate, price_cap, robust_saving
from optimizer.planner.inputs import Action, MarketOffer, MarketView, OwnedVm, Trends
from optimizer.planner.matching import narrow
from optimizer.planner.state import PlanState
from optimizer.planner.windows import in_window


def migration_for(vm: OwnedVm, st: PlanState) -> tuple[str, Action | None]:
    """Given one counted VM and the plan so far, return ("", the migration it should make),
    or (why it stays, None)."""
    fleet = st.fleet
    policy = fleet.policy
    why = _not_movable(vm, st)
    if why or vm.price is None:
        return why or "its price is unknown", None
    market = st.billing.market_priced(policy.price_model)
    levels = st.trends.levels if st.trends is not None and market else {}
    old_level, listed = (
        _vm_level(vm, st.market, levels) if levels else ((vm.price, Decimal(0)), True)
    )
    # off an offer no longer listed a move is for good: targets judged at their week too
    week = st.trends.week_levels if not listed and st.trends is not None else None
    cap = price_cap(old_level[0], policy)
    if fleet.constraints.price_cap_per_epoch is not None:
        cap = min(cap, fleet.constraints.price_cap_per_epoch)
    if cap <= 0:
        return "no offer could be cheaper by the required margin", None
    # market-priced with levels known: the target with the best robust saving
    target, robust = (
        _level_target(vm, st, cap, old_level, levels, week)
        if levels
        else (_target(vm, st, cap), None)
    )
    if target is None and fleet.capacity is not None:
        return _capacity_stay_reason(vm, st, cap), None
    b = st.billing
    if target is None:
        best = next((o.price for o in st.cands), None)
        if best is not None and best < vm.price:
            return (
                f"pays {b.rate(vm.price)}; the best allowed offer ({b.price(best)}) is not "
                f"cheaper by the required margin (≤ {b.price(cap)})",
                None,
            )
        return f"pays {b.rate(vm.price)}; no allowed offer is cheaper", None
    timing, dip, why = _timing(vm, vm.price, target, st)
    if timing is None:
        return why, None
    overlap = b.overlap_cost(vm.price, target.price, timing, vm.next_billing_at)
    at = f"at {b.price(target.price)}"
    if robust is None:
        verdict = evaluate(vm.price, target.price, overlap, policy, b)
    else:  # judged on levels: the saving is their difference less its uncertainty
        verdict = evaluate(old_level[0], old_level[0] - robust, overlap, policy, b)
        at += _level_words(b, _judged(target, levels, week), old_level, robust, week is not None)
    if not verdict.worth_it:
        return f"could move to {target.datacenter} {at}: {verdict.reason}", None
    when = _when(vm, timing, dip, st)
    horizon = Decimal(str(policy.payback_epochs))
    return "", Action(
        kind="migrate",
        fleet=fleet.name,
        vm_id=vm.id,
        offer=target,
        constraints=narrow(target, fleet, cap),
        cap=cap,
        expected_price=target.price,
        old_price=vm.price,
        saving_per_epoch=verdict.saving_per_epoch,
        saving_over_horizon=(
            verdict.saving_per_epoch * horizon - verdict.overlap - policy.disruption_cost_usd
        ),
        not_before=timing.start_at,
        # not aligned: no cutover time, the executor cuts over once the new VM is Active
        cutover_at=timing.cutover_at if timing.aligned else None,
        reason=f"{b.price(vm.price)} → {b.rate(target.price)} in {target.datacenter} "
        f"({target.configuration}): {verdict.reason}; {when}",
    )


def _schedule(vm: OwnedVm, st: PlanState, align: bool) -> Timing:
    """The billing model's timing; a cutover not aligned to billing comes only after the
    fleet's `cutover_health_wait` too, and both VMs are paid for meanwhile."""
    t = st.billing.schedule(st.now, vm.next_billing_at, st.launch.lead_time, align)
    wait = st.fleet.policy.cutover_health_wait
    return t if t.aligned or not wait else Timing(t.start_at, t.cutover_at + wait)


def _when(vm: OwnedVm, timing: Timing, dip: str, st: PlanState) -> str:
    """The reason's words for when the move starts and cuts over."""
    if timing.aligned:
        return f"cutover {timing.cutover_at:%Y-%m-%d %H:%M} UTC, just before its next charge"
    wait = st.fleet.policy.cutover_health_wait
    up = (
        f"once the new VM has been up for {_words(wait)}" if wait else "as soon as the new VM is up"
    )
    if dip and st.billing.schedule(st.now, vm.next_billing_at, st.launch.lead_time, True).aligned:
        return f"start now, {dip}; cutover {up}"
    return f"cutover {up}"


def _words(d: timedelta) -> str:
    """A duration as the reason says it: `1 h 30 min`, `10 min`, `45 s`."""
    h, rest = divmod(int(d.total_seconds()), 3600)
    m, s = divmod(rest, 60)
    return " ".join(f"{n} {unit}" for n, unit in ((h, "h"), (m, "min"), (s, "s")) if n) or "0 s"


def _capacity_stay_reason(vm: OwnedVm, st: PlanState, cap: Decimal) -> str:
    """Why a VM of a capacity-sized fleet stays, compared per capacity unit (vCPU, or GB
    of RAM when the fleet asks only for RAM): offers of other sizes are not comparable
    per VM, and only offers at least as large can replace it."""
    assert vm.price is not None and st.fleet.capacity is not None
    b = st.billing
    by_ram = not st.fleet.capacity.vcpu
    unit = "GB RAM" if by_ram else "vCPU"

    def size(v: int | None, r: int | None) -> int:
        return (r if by_ram else v) or 0

    mine = size(vm.vcpu, vm.ram_gb)
    if mine <= 0:
        return f"pays {b.rate(vm.price)}; its size is unknown, so no offer is comparable"
    fits = [o for o in st.cands if o.vcpu >= (vm.vcpu or 0) and o.ram_gb >= (vm.ram_gb or 0)]
    per = vm.price / mine
    out = f"pays {b.rate(vm.price)} = {b.price(per, 5)}/{unit}"
    if fits:
        best = min(fits, key=lambda o: (o.price, o.offer_key))
        out += (
            f"; the best allowed offer at least as large ({best.configuration}, "
            f"{b.price(best.price)}) "
            + (
                f"is not cheaper by the required margin (≤ {b.price(cap)})"
                if best.price < vm.price
                else "is not cheaper"
            )
        )
    else:
        out += "; no allowed offer at least as large"
    sized = [o for o in st.cands if size(o.vcpu, o.ram_gb) > 0]
    if sized:
        o = min(sized, key=lambda o: (o.price / size(o.vcpu, o.ram_gb), o.offer_key))
        unit_price = o.price / size(o.vcpu, o.ram_gb)
        out += (
            f"; per {unit} the cheapest allowed offer is {o.configuration} at "
            f"{b.price(unit_price, 5)}/{unit}"
        )
        if unit_price < per and size(o.vcpu, o.ram_gb) < mine:
            out += ", but a smaller VM cannot replace this one (the mix is chosen when scaling)"
        out += f" (the fleet is sized by capacity, so prices are compared per {unit})"
    return out


def dip(target: MarketOffer, trends: Trends | None, b: BillingModel) -> str:
    """Why the target's price may not last until the next billing boundary ("" when there
    is no sign of that): it is under its segment's forecast, or the segment's prices rise."""
    if trends is None:
        return ""
    key = (target.configuration, target.country)
    forecast = trends.forecast.get(key)
    if forecast is not None and target.price < forecast:
        return (
            f"{b.price(target.price)} is under the forecast {b.price(forecast)} "
            f"for {target.country}"
        )
    slope = trends.slope.get(key)
    if slope is not None and slope > 0:
        return f"{target.country} prices rise ${slope:.4f}/{b.day}"
    return ""


def _not_movable(vm: OwnedVm, st: PlanState) -> str:
    """Why `vm` may not move at all now ("" when it may)."""
    if st.protected(vm):
        return "listed in do_not_disrupt"
    if not is_healthy(vm.status):
        return f"status {vm.status}: only running VMs are migrated"
    if vm.price is None:
        return "its price is unknown"
    anchor = (
        max(t for t in (vm.created_at, vm.last_migrated_at) if t is not None)
        if (vm.created_at or vm.last_migrated_at)
        else None
    )
    cooldown = EPOCH * st.fleet.policy.cooldown_epochs
    if anchor is not None and st.now - anchor < cooldown:
        return f"in cooldown until {(anchor + cooldown):%Y-%m-%d %H:%M} UTC"
    return ""


def _target(vm: OwnedVm, st: PlanState, cap: Decimal) -> MarketOffer | None:
    """The cheapest allowed offer at or under `cap` that `vm` may move to."""
    for o in st.cands:
        if o.price > cap:
            return None
        if st.fleet.capacity is not None and (
            o.vcpu < (vm.vcpu or 0) or o.ram_gb < (vm.ram_gb or 0)
        ):
            continue
        if not st.usable(o, vm.datacenter) or not st.countries_ok(o, vm.country):
            continue
        if st.shadowed(o, cap, vm.datacenter):
            continue
        return o
    return None


def _level_target(
    vm: OwnedVm,
    st: PlanState,
    cap: Decimal,
    old_level: tuple[Decimal, Decimal],
    levels: Mapping[str, tuple[Decimal, Decimal]],
    week: Mapping[str, Decimal] | None,
) -> tuple[MarketOffer | None, Decimal | None]:
    """Market-priced: of the offers a deploy could land on now at or under `cap` (the
    cheapest allowed one of each group), the one with the best robust saving, each at the
    level `_judged` gives it."""
    target: MarketOffer | None = None
    best: Decimal | None = None
    groups: set[tuple[object, ...]] = set()
    for o in st.cands:
        if o.price > cap:
            break
        if st.fleet.capacity is not None and (
            o.vcpu < (vm.vcpu or 0) or o.ram_gb < (vm.ram_gb or 0)
        ):
            continue
        if not st.usable(o, vm.datacenter) or not st.countries_ok(o, vm.country):
            continue
        if st.shadowed(o, cap, vm.datacenter) or o.group in groups:
            continue
        groups.add(o.group)  # a deploy to this group lands on its cheapest offer
        saving = robust_saving(old_level, _judged(o, levels, week))
        if best is None or saving > best:
            target, best = o, saving
    return target, best


def _level_words(
    b: BillingModel,
    new: tuple[Decimal, Decimal],
    old_level: tuple[Decimal, Decimal],
    robust: Decimal,
    for_good: bool,
) -> str:
    def bare(d: Decimal) -> str:  # an interval's half-width: the amount without "$"
        return b.price(d).removeprefix("$")

    gone = (
        "; its offer is no longer listed, so the move is for good: the target is taken at "
        "the higher of its day's and its week's level"
        if for_good
        else ""
    )
    return (
        f" (level {b.price(new[0])} ± {bare(new[1])} against {b.price(old_level[0])} "
        f"± {bare(old_level[1])}; robust saving {b.rate(robust)}{gone})"
    )


def _judged(
    o: MarketOffer,
    levels: Mapping[str, tuple[Decimal, Decimal]],
    week: Mapping[str, Decimal] | None,
) -> tuple[Decimal, Decimal]:
    """The level (± half-width) a target is judged at: its day's (its price, certain, when
    it has none); for a move that is for good (`week` given) the higher of its day's and
    its week's level, since a low day the week does not bear out is more likely a swing
    that reverts than a new price."""
    level, half = levels.get(o.offer_key, (o.price, Decimal(0)))
    return (max(level, week.get(o.offer_key, level)), half) if week is not None else (level, half)


def _vm_level(
    vm: OwnedVm, market: MarketView, levels: Mapping[str, tuple[Decimal, Decimal]]
) -> tuple[tuple[Decimal, Decimal], bool]:
    """The level of the offer `vm` runs on: by its offer key when known, else the one
    listed offer in its datacenter with its hardware (and, among several, its price);
    its own price, without uncertainty, when that does not single one out. And whether
    that offer is still listed (has a level): False when it has none, or when no listed
    offer has the VM's datacenter and hardware; True when several might be it."""
    price = vm.price or Decimal(0)
    if vm.offer_key is not None:
        own = levels.get(vm.offer_key)
        return (own, True) if own is not None else ((price, Decimal(0)), False)
    same = [
        o
        for o in market.offers
        if o.offer_key in levels
        and (o.datacenter, o.vcpu, o.ram_gb) == (vm.datacenter, vm.vcpu, vm.ram_gb)
    ]
    if not same:
        return (price, Decimal(0)), False
    if len(same) > 1:
        same = [o for o in same if o.price == vm.price]
    return (levels[same[0].offer_key], True) if len(same) == 1 else ((price, Decimal(0)), True)


def _timing(
    vm: OwnedVm, price: Decimal, target: MarketOffer, st: PlanState
) -> tuple[Timing | None, str, str]:
    """When the move would start and cut over, and the target's price dip ("" for none);
    (None, dip, why not now) when the timing rules it out for this plan."""
    policy = st.fleet.policy
    b = st.billing
    timing = _schedule(vm, st, policy.align_to_billing)
    # a market-priced VM would not keep a dip's price: nothing to catch by starting early
    why_dip = "" if b.market_priced(policy.price_model) else dip(target, st.trends, b)
    if why_dip and timing.start_at > st.now:
        # the price may not last until the billing boundary: start now when that pays,
        # else re-decide at the next plan (the overlap shrinks as the boundary nears)
        early = _schedule(vm, st, False)
        if in_window(early.cutover_at, policy.maintenance_windows):
            early_cost = b.overlap_cost(price, target.price, early, vm.next_billing_at)
            early_verdict = evaluate(price, target.price, early_cost, policy, b)
            if not early_verdict.worth_it:
                return (
                    None,
                    why_dip,
                    f"could move to {target.datacenter} at {b.price(target.price)} ({why_dip}), "
                    "but "
                    f"starting now does not pay yet: {early_verdict.reason}",
                )
            timing = early
    if not in_window(timing.cutover_at, policy.maintenance_windows):
        return (
            None,
            why_dip,
            f"could move to {target.datacenter} at {b.price(target.price)}, but the cutover time "
            f"{timing.cutover_at:%H:%M} UTC is outside the maintenance windows",
        )
    return timing, why_dip, ""
