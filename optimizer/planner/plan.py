"""`plan_fleet`: the pure decision of what one fleet should do next.

Given the fleet's config, the VMs it owns, the market, trends, budget, launch statistics,
what the executor is already doing, and `now`, return a `Plan`. No I/O, no clock reads;
the same inputs always give the same plan.

Order of decisions:
1. Provider-terminated VMs are finalized (DELETE releases the reserve); they no longer count.
2. VMs stuck in New/Launching past `launch_timeout` are replaced in another datacenter.
3. Size: deploy up to `instances` (or the `capacity` target, cheapest mix of allowed
   configurations), within diversification limits and the budget cap; scale down by
   removing the dearest VMs first (inside maintenance windows), never below the target.
4. Migrations: per healthy VM, the best allowed offer cheaper by the required margin,
   when the economics clear, within cooldown, per-epoch, surge and window limits.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from decimal import Decimal

from optimizer.clock import EPOCH
from optimizer.config import FleetConfig, MaintenanceWindow, Mode
from optimizer.fluence.status import VmStatus, is_ended, is_healthy, is_launching
from optimizer.planner.economics import evaluate, overlap_cost, price_cap, schedule
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
from optimizer.planner.matching import market_candidates, narrow

DEPOSIT_EPOCHS = 2
_DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def in_window(t: datetime, windows: Sequence[MaintenanceWindow]) -> bool:
    """True when `t` (UTC) falls in one of the daily windows, or when there are none."""
    if not windows:
        return True
    tod = t.timetz().replace(tzinfo=None)
    for w in windows:
        if w.start <= w.end:
            if _DAYS[t.weekday()] in w.days and w.start <= tod < w.end:
                return True
        else:  # crosses midnight: belongs to the day it started
            if tod >= w.start and _DAYS[t.weekday()] in w.days:
                return True
            if tod < w.end and _DAYS[(t.weekday() - 1) % 7] in w.days:
                return True
    return False


def _protected(vm: OwnedVm, fleet: FleetConfig) -> bool:
    dnd = fleet.policy.do_not_disrupt
    return vm.id in dnd or vm.name in dnd


@dataclass
class _State:
    """Mutable bookkeeping while one plan is built."""

    fleet: FleetConfig
    market: MarketView
    trends: Trends | None
    in_flight: InFlight
    per_dc: Counter[str] = field(default_factory=Counter)
    per_country: Counter[str] = field(default_factory=Counter)
    used: Counter[str] = field(default_factory=Counter)  # offer_key → instances planned
    budget_left: Decimal | None = None
    allowed: frozenset[str] = frozenset()  # offer keys that pass every fleet constraint
    _block: dict[tuple[object, ...], Decimal | None] = field(default_factory=dict)

    def block_price(self, group: tuple[object, ...]) -> Decimal | None:
        """Cheapest offer in `group` the fleet must not land on (None: there is none)."""
        if group not in self._block:
            self._block[group] = next(
                (
                    o.price
                    for o in self.market.by_group.get(group, ())
                    if o.offer_key not in self.allowed and o.capacity > 0
                ),
                None,
            )
        return self._block[group]

    def add(self, dc: str | None, country: str | None) -> None:
        if dc:
            self.per_dc[dc] += 1
        if country:
            self.per_country[country] += 1

    def remove(self, dc: str | None, country: str | None) -> None:
        if dc and self.per_dc[dc] > 0:
            self.per_dc[dc] -= 1
        if country and self.per_country[country] > 0:
            self.per_country[country] -= 1

    def countries(self) -> int:
        return sum(1 for n in self.per_country.values() if n > 0)

    def dc_ok(self, o: MarketOffer, leaving_dc: str | None = None) -> bool:
        limit = self.fleet.diversification.max_per_datacenter
        if limit is None:
            return True
        n = self.per_dc[o.datacenter] - (1 if leaving_dc == o.datacenter else 0)
        return n < limit

    def countries_ok(self, o: MarketOffer, leaving_country: str | None) -> bool:
        """Moving a VM out of `leaving_country` into `o` keeps enough distinct countries."""
        need = self.fleet.diversification.min_countries
        if need is None or leaving_country is None or leaving_country == o.country:
            return True
        before = self.countries()
        after = before
        if self.per_country[leaving_country] == 1:
            after -= 1
        if self.per_country[o.country] == 0:
            after += 1
        return after >= min(need, before)

    def usable(self, o: MarketOffer, leaving_dc: str | None = None) -> bool:
        return (
            self.used[o.offer_key] < o.capacity
            and o.datacenter not in self.in_flight.avoid_datacenters
            and self.dc_ok(o, leaving_dc)
        )

    def shadowed(self, target: MarketOffer, cap: Decimal, leaving_dc: str | None) -> bool:
        """True when deploy could land on another offer the fleet must not use: one in the
        same (configuration, country, hardware) group priced at or under `cap` that fails a
        client-side filter or a diversification limit."""
        block = self.block_price(target.group)
        if block is not None and block <= cap:
            return True
        if self.fleet.diversification.max_per_datacenter is None and not (
            self.in_flight.avoid_datacenters
        ):
            return False
        for o in self.market.by_group.get(target.group, ()):
            if o.price > cap:
                break
            if o.offer_key == target.offer_key or o.offer_key not in self.allowed:
                continue
            if not self.dc_ok(o, leaving_dc) or o.datacenter in self.in_flight.avoid_datacenters:
                return True
        return False


def _pick_new(
    st: _State,
    cands: Sequence[MarketOffer],
    *,
    accept: Callable[[MarketOffer], bool] = lambda o: True,
    avoid_dc: str | None = None,
) -> MarketOffer | None:
    """Best offer for one more VM: prefers a new country while below `min_countries`."""
    need = st.fleet.diversification.min_countries
    want_new_country = need is not None and st.countries() < need
    fallback: MarketOffer | None = None
    for o in cands:
        if o.datacenter == avoid_dc or not accept(o) or not st.usable(o):
            continue
        if st.budget_left is not None and o.price > st.budget_left:
            break  # sorted by price: nothing later fits either
        if st.shadowed(o, o.price, None):
            continue
        if not want_new_country or st.per_country[o.country] == 0:
            return o
        if fallback is None:
            fallback = o
    return fallback


def _deploy_action(
    st: _State,
    o: MarketOffer,
    reason: str,
    kind: str = "deploy",
    vm_id: str | None = None,
    old_price: Decimal | None = None,
) -> Action:
    st.used[o.offer_key] += 1
    st.add(o.datacenter, o.country)
    if st.budget_left is not None:
        st.budget_left -= o.price - (old_price or Decimal(0))
    return Action(
        kind=kind,  # type: ignore[arg-type]
        fleet=st.fleet.name,
        reason=reason,
        vm_id=vm_id,
        offer=o,
        constraints=narrow(o, st.fleet, o.price),
        cap=o.price,
        expected_price=o.price,
        old_price=old_price,
    )


def _cheapest_mix(
    configs: dict[str, tuple[int, int, Decimal]], need_vcpu: int, need_ram: int
) -> dict[str, int]:
    """Counts per configuration that cover (need_vcpu, need_ram) at the least total price.
    `configs`: slug → (vcpu, ram_gb, unit price). Dynamic programming over covered amounts
    (scaled by the common divisor), ties broken by fewer VMs then slug order."""
    if (need_vcpu <= 0 and need_ram <= 0) or not configs:
        return {}
    slugs = sorted(configs)
    gv = math.gcd(*(configs[s][0] for s in slugs), max(need_vcpu, 0)) or 1
    gr = math.gcd(*(configs[s][1] for s in slugs), max(need_ram, 0)) or 1
    tv, tr = (
        max(need_vcpu, 0) // gv + (1 if need_vcpu % gv else 0),
        max(need_ram, 0) // gr + (1 if need_ram % gr else 0),
    )
    best: dict[tuple[int, int], tuple[Decimal, int, tuple[int, ...]]] = {
        (0, 0): (Decimal(0), 0, (0,) * len(slugs))
    }
    # states in increasing coverage order; each transition adds one VM of one configuration
    for v in range(tv + 1):
        for r in range(tr + 1):
            cur = best.get((v, r))
            if cur is None:
                continue
            for i, s in enumerate(slugs):
                cv, cr, price = configs[s]
                nv, nr = min(tv, v + cv // gv), min(tr, r + cr // gr)
                if (nv, nr) == (v, r):
                    continue
                counts = list(cur[2])
                counts[i] += 1
                cand = (cur[0] + price, cur[1] + 1, tuple(counts))
                old = best.get((nv, nr))
                if old is None or cand[:2] < old[:2] or (cand[:2] == old[:2] and cand[2] > old[2]):
                    best[(nv, nr)] = cand
    final = best.get((tv, tr))
    if final is None:
        return {}
    return {s: n for s, n in zip(slugs, final[2], strict=True) if n}


def plan_fleet(
    fleet: FleetConfig,
    vms: Sequence[OwnedVm],
    market: MarketView,
    trends: Trends | None = None,
    budget: BudgetState | None = None,
    launch: LaunchStats | None = None,
    *,
    now: datetime,
    mode: Mode = "recommend",
    in_flight: InFlight | None = None,
    taken: Mapping[str, int] | None = None,
) -> Plan:
    """Plan one fleet. `vms` must be the fleet's OWNED VMs only (created or adopted); the
    plan never names any other VM. `budget.spend_per_epoch` is the whole account's running
    cost; the cap is never exceeded by planned deploys (in every mode, so a recommendation
    shows what `act` would do). `taken`: offer key → instances other fleets' plans already
    claim this tick (so fleets do not all aim at the last free slot). Deterministic for
    equal inputs."""
    budget = budget or BudgetState()
    launch = launch or LaunchStats()
    extra = fleet.constraints.additional_storage
    if extra is not None:
        # the price of a VM with additional storage is the configuration's price plus the
        # storage; offers that do not say what storage costs cannot be priced: skip them
        market = MarketView(
            offers=tuple(
                replace(o, price=o.price + o.storage_gib_price * extra.size_gib)
                for o in market.offers
                if o.storage_gib_price is not None
            ),
            taken_at=market.taken_at,
        )
    in_flight = in_flight or InFlight()
    policy = fleet.policy
    st = _State(fleet=fleet, market=market, trends=trends, in_flight=in_flight)
    st.used.update(taken or {})
    if budget.cap_per_epoch is not None:
        st.budget_left = budget.cap_per_epoch - budget.spend_per_epoch
    cands = market_candidates(market, fleet, trends)
    st.allowed = frozenset(o.offer_key for o in cands)
    actions: list[Action] = []
    verdicts: dict[str, VmVerdict] = {}
    notes: list[str] = []
    budget_limited = False

    vms = sorted(vms, key=lambda v: v.id)
    counted: list[OwnedVm] = []  # VMs that make up the fleet's size
    for vm in vms:
        if vm.id in in_flight.new_vm_ids:
            verdicts[vm.id] = VmVerdict(vm.id, vm.name, "busy", "being launched by the executor")
            continue
        if is_ended(vm.status) and vm.id in in_flight.busy:
            # the old VM of an open migration ended before the action did (we deleted it and
            # crashed or lost the answer, or the provider terminated it mid-migration): it
            # keeps its place until the action ends, because its replacement is the
            # in-flight new VM, which is not counted above — else a VM too many
            verdicts[vm.id] = VmVerdict(vm.id, vm.name, "busy", "being replaced by the executor")
            counted.append(vm)
            continue
        if vm.status == VmStatus.TERMINATED:
            continue
        if vm.status == VmStatus.STOPPED:
            verdicts[vm.id] = VmVerdict(vm.id, vm.name, "stay", "stopped by the user; not counted")
            continue
        counted.append(vm)
        st.add(vm.datacenter, vm.country)

    # 1. provider-terminated → finalize
    for vm in vms:
        if vm.status == VmStatus.TERMINATED and vm.id not in in_flight.busy:
            actions.append(
                Action(
                    kind="finalize",
                    fleet=fleet.name,
                    vm_id=vm.id,
                    old_price=vm.price,
                    reason="terminated by the provider: DELETE releases its reserve; "
                    "a replacement is deployed",
                )
            )
            verdicts[vm.id] = VmVerdict(vm.id, vm.name, "finalize", "terminated by the provider")

    # 2. stuck launches → replace elsewhere
    for vm in counted:
        if vm.id in in_flight.busy or not is_launching(vm.status):
            continue
        if vm.created_at is None or now - vm.created_at <= policy.launch_timeout:
            continue
        o = _pick_new(st, cands, avoid_dc=vm.datacenter)
        if o is None:
            verdicts[vm.id] = VmVerdict(
                vm.id, vm.name, "stay", f"stuck in {vm.status} but no other offer fits"
            )
            continue
        st.remove(vm.datacenter, vm.country)
        actions.append(
            _deploy_action(
                st,
                o,
                f"stuck in {vm.status} for {_hm(now - vm.created_at)} (timeout "
                f"{_hm(policy.launch_timeout)}): delete it and deploy in {o.datacenter}",
                kind="replace_stuck",
                vm_id=vm.id,
                old_price=vm.price,
            )
        )
        verdicts[vm.id] = VmVerdict(
            vm.id, vm.name, "replace", f"stuck in {vm.status}; replaced in {o.datacenter}"
        )

    # 3. size
    minimum: int
    excess = 0  # VMs above the fleet's size: they use up the surge a migration would need
    scaling_busy = in_flight.scaling > 0
    if scaling_busy:
        notes.append("size changes wait: earlier deploys or deletions are still in progress")
    if fleet.instances is not None:
        target = fleet.instances
        minimum = max(target - policy.max_unavailable, 0)
        # with no size change open, a busy VM missing from the list is the old VM of an open
        # migration (deleted, then gone from the list before the action ended): its
        # in-flight replacement takes its place
        size = len(counted) + len(in_flight.busy - {vm.id for vm in vms})
        excess = max(size - target, 0)
        if not scaling_busy and size < target:
            for i in range(target - size):
                o = _pick_new(st, cands)
                if o is None:
                    missing = target - size - i
                    if st.budget_left is not None and any(st.usable(c) for c in cands):
                        budget_limited = True
                        notes.append(
                            f"budget cap {budget.cap_per_epoch}/epoch leaves room for "
                            f"{size + i} of {target} VMs; {missing} not deployed"
                            + (" (below the fleet's minimum)" if size + i < minimum else "")
                        )
                    elif not cands:
                        notes.append(
                            "no allowed offer: nothing on the market satisfies the fleet's "
                            f"constraints; {missing} VM(s) cannot be deployed (check "
                            "configurations, countries, max price, min_tier, hardware)"
                        )
                    else:
                        notes.append(f"no allowed offer with capacity for {missing} more VM(s)")
                    break
                actions.append(
                    _deploy_action(
                        st, o, f"fleet has {size + i} of {target} VMs: deploy in {o.datacenter}"
                    )
                )
        elif not scaling_busy and size > target:
            _scale_down(st, counted, size - target, now, actions, verdicts, notes, in_flight)
    else:
        assert fleet.capacity is not None
        want_v, want_r = fleet.capacity.vcpu or 0, fleet.capacity.ram_gb or 0
        have_v = sum(vm.vcpu or 0 for vm in counted)
        have_r = sum(vm.ram_gb or 0 for vm in counted)
        target = len(counted)
        minimum = len(counted)
        if not scaling_busy and (have_v < want_v or have_r < want_r):
            cheapest: dict[str, tuple[int, int, Decimal]] = {}
            for o in cands:
                if o.configuration not in cheapest and st.usable(o):
                    cheapest[o.configuration] = (o.vcpu, o.ram_gb, o.price)
            mix = _cheapest_mix(cheapest, want_v - have_v, want_r - have_r)
            for slug in sorted(mix):
                for _ in range(mix[slug]):
                    o = _pick_new(st, cands, accept=lambda c, s=slug: c.configuration == s)
                    if o is None:
                        budget_limited = budget_limited or st.budget_left is not None
                        notes.append(f"could not place one more {slug} (capacity or budget)")
                        break
                    actions.append(
                        _deploy_action(
                            st,
                            o,
                            f"capacity {have_v} vCPU/{have_r} GB below target {want_v}/"
                            f"{want_r}: cheapest mix adds {slug} in {o.datacenter}",
                        )
                    )
                    target += 1
            minimum = target
        elif not scaling_busy:
            removable = sorted(
                (vm for vm in counted if _removable(vm, fleet, in_flight)),
                key=lambda v: (-(v.price or 0), v.id),
            )
            for vm in removable:
                cv, cr = vm.vcpu or 0, vm.ram_gb or 0
                if have_v - cv >= want_v and have_r - cr >= want_r and cv + cr > 0:
                    if not in_window(now, policy.maintenance_windows):
                        notes.append("scale-down waits for a maintenance window")
                        break
                    have_v, have_r = have_v - cv, have_r - cr
                    _delete(
                        st,
                        vm,
                        "capacity above target: removing the dearest VM first",
                        actions,
                        verdicts,
                    )
                    target -= 1
            minimum = target

    # budget: over the cap with VMs above the minimum → remove dearest down to the minimum
    if st.budget_left is not None and st.budget_left < 0 and not scaling_busy:
        live = [vm for vm in counted if vm.id not in verdicts]
        removable = sorted(
            (vm for vm in live if _removable(vm, fleet, in_flight)),
            key=lambda v: (-(v.price or 0), v.id),
        )
        for vm in removable:
            if st.budget_left >= 0 or len(live) <= minimum:
                break
            _delete(
                st,
                vm,
                f"over the budget cap {budget.cap_per_epoch}/epoch: removing the dearest VM",
                actions,
                verdicts,
            )
            live.remove(vm)
            st.budget_left += vm.price or 0
        if st.budget_left < 0:
            budget_limited = True
            notes.append(
                f"spend is above the budget cap {budget.cap_per_epoch}/epoch and the fleet is at "
                "its minimum; nothing more is deployed"
            )

    # 4. migrations
    recent = sum(1 for t in in_flight.recent_migrations if now - t < EPOCH)
    surge = policy.max_surge - in_flight.migrations - excess
    slots = min(policy.max_migrations_per_epoch - recent, surge)
    horizon = Decimal(str(policy.payback_epochs))
    proposals: list[tuple[Decimal, OwnedVm, MarketOffer, Action]] = []
    for vm in counted:
        if vm.id in verdicts:
            continue
        if vm.id in in_flight.busy:
            verdicts[vm.id] = VmVerdict(vm.id, vm.name, "busy", "an action is in progress")
            continue
        why, found = _migration_for(vm, st, cands, launch.lead_time, now, horizon)
        if found is None:
            verdicts[vm.id] = VmVerdict(vm.id, vm.name, "stay", why)
            continue
        proposals.append((found.saving_per_epoch, vm, found.offer, found))  # type: ignore[arg-type]
    proposals.sort(key=lambda p: (-p[0], p[1].id))
    taken = 0
    for _saving, vm, offer, act in proposals:
        if taken >= slots:
            limit = (
                f"max_migrations_per_epoch {policy.max_migrations_per_epoch} reached"
                if policy.max_migrations_per_epoch - recent <= surge
                else f"max_surge {policy.max_surge} reached"
                + (f" ({excess} VM(s) above the fleet's size)" if excess else "")
            )
            verdicts[vm.id] = VmVerdict(
                vm.id, vm.name, "stay", f"could save ${act.saving_per_epoch:.4f}/epoch but {limit}"
            )
            continue
        # re-check against what earlier migrations in this plan used
        if not st.usable(offer, vm.datacenter) or not st.countries_ok(offer, vm.country):
            verdicts[vm.id] = VmVerdict(
                vm.id, vm.name, "stay", "its best target was taken by another move in this plan"
            )
            continue
        st.used[offer.offer_key] += 1
        st.remove(vm.datacenter, vm.country)
        st.add(offer.datacenter, offer.country)
        if st.budget_left is not None:
            st.budget_left += act.saving_per_epoch
        actions.append(act)
        verdicts[vm.id] = VmVerdict(vm.id, vm.name, "migrate", act.reason)
        taken += 1

    # totals
    cost_now = sum((vm.price or Decimal(0) for vm in counted), Decimal(0))
    planned = cost_now
    deposits = Decimal(0)
    for a in actions:
        if a.deploys and a.expected_price is not None:
            deposits += a.expected_price * DEPOSIT_EPOCHS
            planned += a.expected_price
        if a.kind in ("migrate", "delete", "replace_stuck") and a.old_price is not None:
            planned -= a.old_price
    healthy = sum(1 for vm in counted if is_healthy(vm.status))
    for vm in counted:
        verdicts.setdefault(vm.id, VmVerdict(vm.id, vm.name, "stay", "no change needed"))
    return Plan(
        fleet=fleet.name,
        mode=mode,
        now=now,
        actions=tuple(actions),
        verdicts=tuple(verdicts[k] for k in sorted(verdicts)),
        target_instances=target,
        healthy_instances=healthy,
        cost_per_epoch_now=cost_now,
        cost_per_epoch_planned=planned,
        deposits_needed=deposits,
        reserves_held=sum((vm.reserved_balance for vm in vms), Decimal(0)),
        notes=tuple(notes),
        budget_limited=budget_limited,
    )


def _hm(d: timedelta) -> str:
    mins = int(d.total_seconds() // 60)
    return f"{mins // 60}h{mins % 60:02d}m" if mins >= 60 else f"{mins}m"


def _removable(vm: OwnedVm, fleet: FleetConfig, in_flight: InFlight) -> bool:
    return not _protected(vm, fleet) and vm.id not in in_flight.busy


def _delete(
    st: _State,
    vm: OwnedVm,
    reason: str,
    actions: list[Action],
    verdicts: dict[str, VmVerdict],
) -> None:
    st.remove(vm.datacenter, vm.country)
    actions.append(
        Action(
            kind="delete",
            fleet=st.fleet.name,
            vm_id=vm.id,
            old_price=vm.price,
            reason=reason,
            saving_per_epoch=vm.price or Decimal(0),
        )
    )
    verdicts[vm.id] = VmVerdict(vm.id, vm.name, "delete", reason)


def _scale_down(
    st: _State,
    counted: list[OwnedVm],
    surplus: int,
    now: datetime,
    actions: list[Action],
    verdicts: dict[str, VmVerdict],
    notes: list[str],
    in_flight: InFlight,
) -> None:
    """Remove `surplus` VMs, dearest first; launching ones count as dearest of all equal."""
    fleet = st.fleet
    if not in_window(now, fleet.policy.maintenance_windows):
        notes.append(f"{surplus} VM(s) above the target; scale-down waits for a maintenance window")
        return
    removable = sorted(
        (vm for vm in counted if _removable(vm, fleet, in_flight) and vm.id not in verdicts),
        key=lambda v: (-(v.price or 0), v.id),
    )
    for vm in removable[:surplus]:
        _delete(
            st,
            vm,
            f"fleet is above its {fleet.instances} instances: removing the dearest "
            f"(${vm.price}/epoch) first",
            actions,
            verdicts,
        )
    if len(removable) < surplus:
        notes.append("some surplus VMs are protected (do_not_disrupt) or busy and stay")


def _dip(target: MarketOffer, trends: Trends | None) -> str:
    """Why the target's price may not last until the next billing boundary ("" when there
    is no sign of that): it is under its segment's forecast, or the segment's prices rise."""
    if trends is None:
        return ""
    key = (target.configuration, target.country)
    forecast = trends.forecast.get(key)
    if forecast is not None and target.price < forecast:
        return f"${target.price} is under the forecast ${forecast} for {target.country}"
    slope = trends.slope.get(key)
    if slope is not None and slope > 0:
        return f"{target.country} prices rise ${slope:.4f}/epoch"
    return ""


def _migration_for(
    vm: OwnedVm,
    st: _State,
    cands: Sequence[MarketOffer],
    lead: timedelta,
    now: datetime,
    horizon: Decimal,
) -> tuple[str, Action | None]:
    """Why `vm` stays, or the migration it should make."""
    fleet = st.fleet
    policy = fleet.policy
    if _protected(vm, fleet):
        return "listed in do_not_disrupt", None
    if not is_healthy(vm.status):
        return f"status {vm.status}: only running VMs are migrated", None
    if vm.price is None:
        return "its price is unknown", None
    anchor = (
        max(t for t in (vm.created_at, vm.last_migrated_at) if t is not None)
        if (vm.created_at or vm.last_migrated_at)
        else None
    )
    cooldown = EPOCH * policy.cooldown_epochs
    if anchor is not None and now - anchor < cooldown:
        return f"in cooldown until {(anchor + cooldown):%Y-%m-%d %H:%M} UTC", None
    cap = price_cap(vm.price, policy)
    if fleet.constraints.max_price_per_epoch_usd is not None:
        cap = min(cap, fleet.constraints.max_price_per_epoch_usd)
    if cap <= 0:
        return "no offer could be cheaper by the required margin", None
    target: MarketOffer | None = None
    for o in cands:
        if o.price > cap:
            break
        if fleet.capacity is not None and (o.vcpu < (vm.vcpu or 0) or o.ram_gb < (vm.ram_gb or 0)):
            continue
        if not st.usable(o, vm.datacenter) or not st.countries_ok(o, vm.country):
            continue
        if st.shadowed(o, cap, vm.datacenter):
            continue
        target = o
        break
    if target is None:
        best = next((o.price for o in cands), None)
        if best is not None and best < vm.price:
            return (
                f"pays ${vm.price}/epoch; the best allowed offer (${best}) is not cheaper by "
                f"the required margin (≤ ${cap})",
                None,
            )
        return f"pays ${vm.price}/epoch; no allowed offer is cheaper", None
    timing = schedule(now, vm.next_billing_at, lead, policy.align_to_billing)
    dip = _dip(target, st.trends)
    if dip and timing.start_at > now:
        # the price may not last until the billing boundary: start now when that pays,
        # else re-decide at the next plan (the overlap shrinks as the boundary nears)
        early = schedule(now, vm.next_billing_at, lead, False)
        if in_window(early.cutover_at, policy.maintenance_windows):
            early_cost = overlap_cost(vm.price, target.price, early, vm.next_billing_at)
            early_verdict = evaluate(vm.price, target.price, early_cost, policy)
            if early_verdict.worth_it:
                timing = early
            else:
                return (
                    f"could move to {target.datacenter} at ${target.price} ({dip}), but "
                    f"starting now does not pay yet: {early_verdict.reason}",
                    None,
                )
    if not in_window(timing.cutover_at, policy.maintenance_windows):
        return (
            f"could move to {target.datacenter} at ${target.price}, but the cutover time "
            f"{timing.cutover_at:%H:%M} UTC is outside the maintenance windows",
            None,
        )
    overlap = overlap_cost(vm.price, target.price, timing, vm.next_billing_at)
    verdict = evaluate(vm.price, target.price, overlap, policy)
    if not verdict.worth_it:
        return f"could move to {target.datacenter} at ${target.price}: {verdict.reason}", None
    if timing.start_at <= now and policy.align_to_billing and vm.next_billing_at is not None:
        when = f"start now, {dip}; cutover as soon as the new VM is up"
    elif policy.align_to_billing and vm.next_billing_at is not None:
        when = f"cutover {timing.cutover_at:%Y-%m-%d %H:%M} UTC, just before its next charge"
    else:
        when = "cutover as soon as the new VM is up"
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
        cutover_at=timing.cutover_at,
        reason=f"${vm.price} → ${target.price}/epoch in {target.datacenter} "
        f"({target.configuration}): {verdict.reason}; {when}",
    )
