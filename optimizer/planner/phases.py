"""The phases of one fleet's plan, in the order `plan_fleet` runs them. Each takes the
`PlanState` built so far and adds its decisions; each can be run and tested on its own.

1. `start`: price the market and the VMs for the fleet (`whole_price`: every price a whole
   VM's per epoch), pick the allowed offers, set the budget left.
2. `count_members`: which owned VMs make up the fleet's size.
3. `finalize_terminated`: provider-terminated VMs are deleted (DELETE releases the reserve).
4. `replace_stuck`: VMs stuck in New/Launching past `launch_timeout` move elsewhere.
5. `size` (`size_to_instances` or `size_to_capacity`): deploy up to the target (the capacity target
   by the cheapest mix of allowed configurations), within diversification limits and the
   budget; scale down by removing the dearest VMs first, inside maintenance windows.
6. `trim_to_budget`: over the cap, remove the dearest VMs down to the fleet's minimum.
7. `migrate`: per healthy VM, the best allowed offer cheaper by the required margin, when
   the economics clear, within cooldown, per-epoch, surge and window limits.
8. `finish`: totals (cost now and planned, deposits) into a `Plan`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from decimal import Decimal

from optimizer.billing import EPOCH_DEAL, BillingModel
from optimizer.clock import EPOCH
from optimizer.config import FleetConfig, Mode
from optimizer.fluence.status import VmStatus, is_ended, is_healthy, is_launching, is_unknown
from optimizer.planner.capacity_mix import cheapest_mix
from optimizer.planner.inputs import (
    Action,
    BudgetState,
    InFlight,
    LaunchStats,
    MarketOffer,
    MarketView,
    OwnedVm,
    Plan,
    Trends,
    VmVerdict,
)
from optimizer.planner.matching import market_candidates
from optimizer.planner.migration import migration_for
from optimizer.planner.state import PlanState
from optimizer.planner.whole_price import priced_market, priced_trends, priced_vms
from optimizer.planner.windows import in_window


def start(
    fleet: FleetConfig,
    vms: Sequence[OwnedVm],
    market: MarketView,
    *,
    now: datetime,
    trends: Trends | None = None,
    budget: BudgetState | None = None,
    launch: LaunchStats | None = None,
    in_flight: InFlight | None = None,
    taken: Mapping[str, int] | None = None,
    billing: BillingModel = EPOCH_DEAL,
) -> PlanState:
    """The state every later phase works on: the market priced for the fleet, the allowed
    offers cheapest first, instances other fleets already claim (`taken`), the budget left,
    how the provider bills (`billing`)."""
    budget = budget or BudgetState()
    st = PlanState(
        fleet=fleet,
        market=priced_market(market, fleet),
        trends=priced_trends(trends, market, fleet),
        in_flight=in_flight or InFlight(),
        now=now,
        budget=budget,
        launch=launch or LaunchStats(),
        billing=billing,
        vms=sorted(priced_vms(vms, market, fleet), key=lambda v: v.id),
    )
    st.used.update(taken or {})
    if budget.cap_per_epoch is not None:
        st.budget_left = budget.cap_per_epoch - budget.spend_per_epoch
    st.cands = market_candidates(st.market, fleet, st.trends)
    st.allowed = frozenset(o.offer_key for o in st.cands)
    return st


def count_members(st: PlanState) -> None:
    """Sort the owned VMs into `counted` (they make up the fleet's size) and the rest:
    VMs the executor is launching, provider-terminated VMs, VMs the user stopped."""
    busy = st.in_flight.busy
    for vm in st.vms:
        if vm.id in st.in_flight.new_vm_ids:
            st.verdict(vm, "busy", "being launched by the executor")
            continue
        if is_ended(vm.status) and vm.id in busy:
            # the old VM of an open migration ended before the action did (we deleted it and
            # crashed or lost the answer, or the provider terminated it mid-migration): it
            # keeps its place until the action ends, because its replacement is the
            # in-flight new VM, which is not counted above — else a VM too many
            st.verdict(vm, "busy", "being replaced by the executor")
            st.counted.append(vm)
            continue
        if vm.status == VmStatus.TERMINATED:
            continue
        if vm.status == VmStatus.STOPPED:
            st.verdict(vm, "stay", "stopped by the user; not counted")
            continue
        st.counted.append(vm)
        st.add(vm.datacenter, vm.country)
        if is_unknown(vm.status):
            # counted (no replacement is deployed for it) but never removed or replaced
            st.verdict(vm, "stay", f"status {vm.status!r} is unknown here: left alone")


def finalize_terminated(st: PlanState) -> None:
    """Provider-terminated VMs no action is busy with are deleted: that releases their
    reserve (where creating one locks a reserve), and sizing deploys their replacement."""
    release = "DELETE releases its reserve" if st.billing.reserves else "it is deleted"
    for vm in st.vms:
        if vm.status == VmStatus.TERMINATED and vm.id not in st.in_flight.busy:
            st.actions.append(
                Action(
                    kind="finalize",
                    fleet=st.fleet.name,
                    vm_id=vm.id,
                    old_price=vm.price,
                    reason=f"terminated by the provider: {release}; a replacement is deployed",
                )
            )
            st.verdict(vm, "finalize", "terminated by the provider")


def replace_stuck(st: PlanState) -> None:
    """VMs stuck in New/Launching past the policy's `launch_timeout` are replaced in
    another datacenter (when one fits)."""
    timeout = st.fleet.policy.launch_timeout
    for vm in st.counted:
        if vm.id in st.in_flight.busy or not is_launching(vm.status):
            continue
        if vm.created_at is None or st.now - vm.created_at <= timeout:
            continue
        o = st.pick_new(st.cands, avoid_dc=vm.datacenter)
        if o is None:
            st.verdict(vm, "stay", f"stuck in {vm.status} but no other offer fits")
            continue
        short = st.funds_short(o.price)
        if short:
            st.verdict(vm, "stay", f"stuck in {vm.status}, but {short}")
            continue
        st.remove(vm.datacenter, vm.country)
        st.deploy(
            o,
            f"stuck in {vm.status} for {_hm(st.now - vm.created_at)} (timeout "
            f"{_hm(timeout)}): delete it and deploy in {o.datacenter}",
            kind="replace_stuck",
            vm_id=vm.id,
            old_price=vm.price,
        )
        st.verdict(vm, "replace", f"stuck in {vm.status}; replaced in {o.datacenter}")


def size(st: PlanState) -> None:
    """Bring the fleet to its size: `size_to_instances` or `size_to_capacity`, by what the
    fleet declares. While earlier size changes run, only the bounds are set."""
    if st.scaling_busy:
        st.notes.append("size changes wait: earlier deploys or deletions are still in progress")
    if st.fleet.instances is not None:
        size_to_instances(st)
    else:
        size_to_capacity(st)


def size_to_instances(st: PlanState) -> None:
    """An `instances` fleet: deploy up to the count, or remove the surplus (dearest first,
    in a maintenance window); sets `target`, `minimum` and `excess`."""
    fleet, in_flight = st.fleet, st.in_flight
    assert fleet.instances is not None
    target = st.target = fleet.instances
    minimum = st.minimum = max(target - fleet.policy.max_unavailable, 0)
    # with no size change open, a busy VM missing from the list is the old VM of an open
    # migration (deleted, then gone from the list before the action ended): its in-flight
    # replacement takes its place
    size = len(st.counted) + len(in_flight.busy - {vm.id for vm in st.vms})
    st.excess = max(size - target, 0)
    if st.scaling_busy:
        return
    # VMs in unknown statuses do not make the fleet "too big": nothing is removed for them
    unknown = sum(1 for vm in st.counted if is_unknown(vm.status))
    if size - unknown > target:
        _scale_down(st, size - unknown - target)
        return
    for i in range(target - size):
        o = st.pick_new(st.cands)
        if o is None:
            missing = target - size - i
            if st.budget_left is not None and any(st.usable(c) for c in st.cands):
                st.budget_limited = True
                st.notes.append(
                    f"budget cap {st.budget.cap_per_epoch}/{st.billing.day} leaves room for "
                    f"{size + i} of {target} VMs; {missing} not deployed"
                    + (" (below the fleet's minimum)" if size + i < minimum else "")
                )
            elif not st.cands:
                st.notes.append(
                    "no allowed offer: nothing on the market satisfies the fleet's "
                    f"constraints; {missing} VM(s) cannot be deployed (check "
                    "configurations, countries, max price, min_tier, hardware)"
                )
            else:
                st.notes.append(f"no allowed offer with capacity for {missing} more VM(s)")
            return
        short = st.funds_short(o.price)
        if short:
            st.notes.append(f"{target - size - i} VM(s) not deployed: {short}")
            return
        st.deploy(o, f"fleet has {size + i} of {target} VMs: deploy in {o.datacenter}")


def size_to_capacity(st: PlanState) -> None:
    """A `capacity` fleet: add the cheapest mix of allowed configurations that covers the
    vCPU/RAM missing, or remove the dearest VMs the target does not need (in a maintenance
    window); sets `target` and `minimum` to the VM count that results."""
    assert st.fleet.capacity is not None
    st.target = st.minimum = len(st.counted)
    if st.scaling_busy:
        return
    want_v, want_r = st.fleet.capacity.vcpu or 0, st.fleet.capacity.ram_gb or 0
    have_v = sum(vm.vcpu or 0 for vm in st.counted)
    have_r = sum(vm.ram_gb or 0 for vm in st.counted)
    if have_v < want_v or have_r < want_r:
        _grow_capacity(st, (have_v, have_r), (want_v, want_r))
    else:
        _shrink_capacity(st, (have_v, have_r), (want_v, want_r))
    st.minimum = st.target


def _grow_capacity(st: PlanState, have: tuple[int, int], want: tuple[int, int]) -> None:
    cheapest: dict[str, tuple[int, int, Decimal]] = {}
    for c in st.cands:
        if c.configuration not in cheapest and st.usable(c):
            cheapest[c.configuration] = (c.vcpu, c.ram_gb, c.price)
    mix = cheapest_mix(cheapest, want[0] - have[0], want[1] - have[1])
    for slug in sorted(mix):

        def of_slug(c: MarketOffer, slug: str = slug) -> bool:
            return c.configuration == slug

        for _ in range(mix[slug]):
            o = st.pick_new(st.cands, accept=of_slug)
            if o is None:
                st.budget_limited = st.budget_limited or st.budget_left is not None
                st.notes.append(f"could not place one more {slug} (capacity or budget)")
                break
            short = st.funds_short(o.price)
            if short:
                st.notes.append(f"one more {slug} not deployed: {short}")
                break
            st.deploy(
                o,
                f"capacity {have[0]} vCPU/{have[1]} GB below target {want[0]}/"
                f"{want[1]}: cheapest mix adds {slug} in {o.datacenter}",
            )
            st.target += 1


def _shrink_capacity(st: PlanState, have: tuple[int, int], want: tuple[int, int]) -> None:
    have_v, have_r = have
    for vm in _dearest_first(vm for vm in st.counted if st.removable(vm)):
        cv, cr = vm.vcpu or 0, vm.ram_gb or 0
        if have_v - cv >= want[0] and have_r - cr >= want[1] and cv + cr > 0:
            if not in_window(st.now, st.fleet.policy.maintenance_windows):
                st.notes.append("scale-down waits for a maintenance window")
                return
            have_v, have_r = have_v - cv, have_r - cr
            st.delete(vm, "capacity above target: removing the dearest VM first")
            st.target -= 1


def _scale_down(st: PlanState, surplus: int) -> None:
    """Remove `surplus` VMs, dearest first; launching ones count as dearest of all equal."""
    fleet = st.fleet
    if not in_window(st.now, fleet.policy.maintenance_windows):
        st.notes.append(
            f"{surplus} VM(s) above the target; scale-down waits for a maintenance window"
        )
        return
    removable = _dearest_first(
        vm for vm in st.counted if st.removable(vm) and vm.id not in st.verdicts
    )
    for vm in removable[:surplus]:
        st.delete(
            vm,
            f"fleet is above its {fleet.instances} instances: removing the dearest "
            f"({_rate(st, vm.price)}) first",
        )
    if len(removable) < surplus:
        st.notes.append("some surplus VMs are protected (do_not_disrupt) or busy and stay")


def trim_to_budget(st: PlanState) -> None:
    """Over the budget cap with VMs above the fleet's minimum: remove the dearest ones
    until the spend fits or the minimum is reached."""
    if st.budget_left is None or st.budget_left >= 0 or st.scaling_busy:
        return
    cap = st.budget.cap_per_epoch
    live = [vm for vm in st.counted if vm.id not in st.verdicts]
    for vm in _dearest_first(vm for vm in live if st.removable(vm)):
        if st.budget_left >= 0 or len(live) <= st.minimum:
            break
        st.delete(vm, f"over the budget cap {cap}/{st.billing.day}: removing the dearest VM")
        live.remove(vm)
        st.budget_left += vm.price or 0
    if st.budget_left < 0:
        st.budget_limited = True
        st.notes.append(
            f"spend is above the budget cap {cap}/{st.billing.day} and the fleet is at "
            "its minimum; nothing more is deployed"
        )


def migrate(st: PlanState) -> None:
    """Propose a migration per counted VM that has none of the decisions above, then take
    the best savings first within the per-epoch and surge limits."""
    policy = st.fleet.policy
    recent = sum(1 for t in st.in_flight.recent_migrations if st.now - t < EPOCH)
    surge = policy.max_surge - st.in_flight.migrations - st.excess
    slots = min(policy.max_migrations_per_epoch - recent, surge)
    proposals: list[tuple[OwnedVm, MarketOffer, Action]] = []
    for vm in st.counted:
        if vm.id in st.verdicts:
            continue
        if vm.id in st.in_flight.busy:
            st.verdict(vm, "busy", "an action is in progress")
            continue
        why, found = migration_for(vm, st)
        if found is None or found.offer is None:
            st.verdict(vm, "stay", why)
            continue
        proposals.append((vm, found.offer, found))
    proposals.sort(key=lambda p: (-p[2].saving_per_epoch, p[0].id))
    moved = 0
    for vm, offer, act in proposals:
        if moved >= slots:
            limit = (
                f"max_migrations_per_epoch {policy.max_migrations_per_epoch} reached"
                if policy.max_migrations_per_epoch - recent <= surge
                else f"max_surge {policy.max_surge} reached"
                + (f" ({st.excess} VM(s) above the fleet's size)" if st.excess else "")
            )
            st.verdict(
                vm, "stay", f"could save {st.billing.rate(act.saving_per_epoch, 4)} but {limit}"
            )
            continue
        # re-check against what earlier migrations in this plan used
        if not st.usable(offer, vm.datacenter) or not st.countries_ok(offer, vm.country):
            st.verdict(vm, "stay", "its best target was taken by another move in this plan")
            continue
        short = st.funds_short(offer.price)
        if short:
            st.verdict(
                vm,
                "stay",
                f"could save {st.billing.rate(act.saving_per_epoch, 4)} in "
                f"{offer.datacenter}, but {short}",
            )
            continue
        st.used[offer.offer_key] += 1
        st.new_per_epoch += offer.price
        st.remove(vm.datacenter, vm.country)
        st.add(offer.datacenter, offer.country)
        if st.budget_left is not None:
            st.budget_left += act.saving_per_epoch
        st.actions.append(act)
        st.verdict(vm, "migrate", act.reason)
        moved += 1


def finish(st: PlanState, mode: Mode) -> Plan:
    """The plan: its actions, a verdict for every VM, and what the fleet costs now and
    will cost once the actions are done, with the deposits its deploys need."""
    cost_now = sum((vm.price or Decimal(0) for vm in st.counted), Decimal(0))
    planned = cost_now
    deposits = Decimal(0)
    for a in st.actions:
        if a.deploys and a.expected_price is not None:
            deposits += st.billing.deposit(a.expected_price)
            planned += a.expected_price
        if a.kind in ("migrate", "delete", "replace_stuck") and a.old_price is not None:
            planned -= a.old_price
    for vm in st.counted:
        st.verdicts.setdefault(vm.id, VmVerdict(vm.id, vm.name, "stay", "no change needed"))
    return Plan(
        fleet=st.fleet.name,
        mode=mode,
        now=st.now,
        actions=tuple(st.actions),
        verdicts=tuple(st.verdicts[k] for k in sorted(st.verdicts)),
        target_instances=st.target,
        healthy_instances=sum(1 for vm in st.counted if is_healthy(vm.status)),
        cost_per_epoch_now=cost_now,
        cost_per_epoch_planned=planned,
        deposits_needed=deposits,
        reserves_held=sum((vm.reserved_balance for vm in st.vms), Decimal(0)),
        notes=tuple(st.notes),
        budget_limited=st.budget_limited,
        billing=st.billing,
    )


def _dearest_first(vms: Iterable[OwnedVm]) -> list[OwnedVm]:
    return sorted(vms, key=lambda v: (-(v.price or 0), v.id))


def _rate(st: PlanState, price: Decimal | None) -> str:
    return "price unknown" if price is None else st.billing.rate(price)


def _hm(d: timedelta) -> str:
    mins = int(d.total_seconds() // 60)
    return f"{mins // 60}h{mins % 60:02d}m" if mins >= 60 else f"{mins}m"
