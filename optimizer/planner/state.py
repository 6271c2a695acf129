"""`PlanState`: what one plan knows and has decided so far, passed from phase to phase
(see `optimizer.planner.phases`). The inputs are fixed when it is made; the bookkeeping
(VMs per datacenter and country, instances planned per offer, budget left) and the
decisions (actions, verdicts, notes) grow as the phases run."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from optimizer.billing import EPOCH_DEAL, BillingModel
from optimizer.config import FleetConfig
from optimizer.fluence.status import is_unknown
from optimizer.planner.inputs import (
    Action,
    ActionKind,
    BudgetState,
    Decision,
    InFlight,
    LaunchStats,
    MarketOffer,
    MarketView,
    OwnedVm,
    Trends,
    VmVerdict,
)
from optimizer.planner.matching import narrow


@dataclass
class PlanState:
    """Inputs, bookkeeping and decisions of one plan being built.

    `market` is priced for the fleet (additional storage included); `cands` are its offers
    that pass every fleet constraint, cheapest first; `vms` the fleet's owned VMs by id;
    `counted` those that make up the fleet's size. `target`/`minimum` are the fleet's size
    and the least it may shrink to, `excess` the VMs above the size (set by sizing).
    `billing`: how the provider charges (overlap, alignment, deposits or balance floor);
    `new_per_epoch`: what the VMs this plan creates cost per epoch together."""

    fleet: FleetConfig
    market: MarketView
    trends: Trends | None
    in_flight: InFlight
    now: datetime
    budget: BudgetState = field(default_factory=BudgetState)
    launch: LaunchStats = field(default_factory=LaunchStats)
    billing: BillingModel = EPOCH_DEAL
    vms: list[OwnedVm] = field(default_factory=list)
    cands: list[MarketOffer] = field(default_factory=list)
    # bookkeeping
    per_dc: Counter[str] = field(default_factory=Counter)
    per_country: Counter[str] = field(default_factory=Counter)
    used: Counter[str] = field(default_factory=Counter)  # offer_key → instances planned
    budget_left: Decimal | None = None
    new_per_epoch: Decimal = Decimal(0)
    allowed: frozenset[str] = frozenset()  # offer keys that pass every fleet constraint
    _block: dict[tuple[object, ...], Decimal | None] = field(default_factory=dict)
    # decisions
    counted: list[OwnedVm] = field(default_factory=list)
    actions: list[Action] = field(default_factory=list)
    verdicts: dict[str, VmVerdict] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    budget_limited: bool = False
    target: int = 0
    minimum: int = 0
    excess: int = 0

    @property
    def scaling_busy(self) -> bool:
        """An earlier deploy or deletion is still running: the size is not re-decided."""
        return self.in_flight.scaling > 0

    def verdict(self, vm: OwnedVm, decision: Decision, reason: str) -> None:
        """Record why `vm` stays or what happens to it (the last word counts)."""
        self.verdicts[vm.id] = VmVerdict(vm.id, vm.name, decision, reason)

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

    def pick_new(
        self,
        cands: Sequence[MarketOffer],
        *,
        accept: Callable[[MarketOffer], bool] = lambda o: True,
        avoid_dc: str | None = None,
    ) -> MarketOffer | None:
        """Best offer for one more VM: prefers a new country while below `min_countries`."""
        need = self.fleet.diversification.min_countries
        want_new_country = need is not None and self.countries() < need
        fallback: MarketOffer | None = None
        for o in cands:
            if o.datacenter == avoid_dc or not accept(o) or not self.usable(o):
                continue
            if self.budget_left is not None and o.price > self.budget_left:
                break  # sorted by price: nothing later fits either
            if self.shadowed(o, o.price, None):
                continue
            if not want_new_country or self.per_country[o.country] == 0:
                return o
            if fallback is None:
                fallback = o
        return fallback

    def funds_short(self, price: Decimal) -> str:
        """Why the balance cannot pay for creating one more VM at `price` per epoch on top
        of the plan's other new VMs ("" when it can, or when the balance is unknown)."""
        balance = self.budget.balance_usd
        if balance is None:
            return ""
        running = self.budget.burn_per_epoch
        if running is None:
            running = self.budget.spend_per_epoch
        need = self.billing.funds_to_start(self.new_per_epoch + price, running)
        return "" if balance >= need else self.billing.funds_words(balance, need)

    def deploy(
        self,
        o: MarketOffer,
        reason: str,
        kind: ActionKind = "deploy",
        vm_id: str | None = None,
        old_price: Decimal | None = None,
    ) -> None:
        """Plan one new VM on `o` (a deploy, or the new half of a replacement)."""
        self.used[o.offer_key] += 1
        self.new_per_epoch += o.price
        self.add(o.datacenter, o.country)
        if self.budget_left is not None:
            self.budget_left -= o.price - (old_price or Decimal(0))
        self.actions.append(
            Action(
                kind=kind,
                fleet=self.fleet.name,
                reason=reason,
                vm_id=vm_id,
                offer=o,
                constraints=narrow(o, self.fleet, o.price),
                cap=o.price,
                expected_price=o.price,
                old_price=old_price,
            )
        )

    def delete(self, vm: OwnedVm, reason: str) -> None:
        """Plan the deletion of owned `vm`."""
        self.remove(vm.datacenter, vm.country)
        self.actions.append(
            Action(
                kind="delete",
                fleet=self.fleet.name,
                vm_id=vm.id,
                old_price=vm.price,
                reason=reason,
                saving_per_epoch=vm.price or Decimal(0),
            )
        )
        self.verdict(vm, "delete", reason)

    def protected(self, vm: OwnedVm) -> bool:
        """Listed in the fleet's `do_not_disrupt` (by id or name)."""
        dnd = self.fleet.policy.do_not_disrupt
        return vm.id in dnd or vm.name in dnd

    def removable(self, vm: OwnedVm) -> bool:
        """Neither protected nor changed by an unfinished action, and in a status the
        optimizer knows (a status it does not know means: leave the VM alone)."""
        return (
            not is_unknown(vm.status)
            and not self.protected(vm)
            and vm.id not in self.in_flight.busy
        )
