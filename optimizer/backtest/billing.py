"""The Fluence billing model, as a simulated account that backtests charge.

Rules (shared/fluence-api.md, DESIGN.md):

- A VM is charged one epoch (24 h) at deploy, then one more at each epoch boundary of its
  own billing period (anchored at the deploy time): charges at deploy + k·epoch.
- On top of that a reserve of `reserve_epochs` × price is held; it is cash, not cost, and
  is refunded when the VM is deleted. The current epoch is NOT refunded.
- A VM deleted at time d pays every charge due strictly before d: deleting exactly at a
  billing boundary avoids that boundary's charge (the billing-aligned cutover).
- A new VM becomes usable `lead_time` after deploy (New → Launching → Active).
- Capacity: a deploy on offer o at a snapshot whose recorded capacity is c succeeds only
  if the VMs this account already runs on o, plus the new one, fit in c. Unknown capacity
  (-1) is unlimited.
- Price models: `deal` (default) — a VM pays the offer's price at its deploy time for its
  whole life; `market` — each charge uses the offer's last recorded price at that moment.

The cloud API generation bills differently (shared/fluence-cloud-api, "Billing"); price
model `per-second`: a VM pays its offer's current price (hourly points) for every second
it exists, from deploy to delete — no charge up front, no epoch, no boundary, no reserve,
no refund. Capacity and lead time as above. It is `optimizer.billing.PerSecond`'s rule,
integrated here over the recorded price path in whole micro-USD × seconds (no rounding
per piece), so the hindsight optimum can be checked for equality.

Money is integer micro-USD inside (exact); results are exposed as `Decimal`. Per-second
amounts are integer micro-USD × `scale` (price per period × seconds, the period being the
market's price unit in seconds), so they stay exact too.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Literal, get_args

import numpy as np

from optimizer.backtest.prices import Market, micros_to_usd
from optimizer.billing import BillingModel as PlannerBilling
from optimizer.billing import billing_model
from optimizer.clock import EPOCH_SECONDS
from optimizer.fluence.status import VmStatus

#: how the backtest bills a VM: `deal` and `market` per epoch (billing.py docstring; the
#: planner's `PriceModel`), `per-second` as the cloud API generation does
BacktestPriceModel = Literal["deal", "market", "per-second"]
PRICE_MODELS: tuple[str, ...] = get_args(BacktestPriceModel)
_NANO = Decimal("0.000000001")


@dataclass(frozen=True)
class BillingModel:
    """Parameters of the simulated billing; the same for every policy in a run."""

    price_model: BacktestPriceModel = "deal"
    lead_time_s: int = 600
    epoch_s: int = EPOCH_SECONDS
    reserve_epochs: int = 1
    disruption_cost_micros: int = 0

    @property
    def per_second(self) -> bool:
        return self.price_model == "per-second"

    @property
    def billing(self) -> PlannerBilling:
        """The shared billing model (optimizer.billing) this simulation stands for: what
        the planner's economics go through in the backtest."""
        return billing_model("per-second" if self.per_second else "epoch-deal")

    def scale(self, market: Market) -> int:
        """What one micro-USD is in this model's amounts: 1 when billed per epoch; per
        second, the market's price period (amounts are price × seconds)."""
        return market.period_s if self.per_second else 1

    def charges_between(self, deployed: int, deleted: int, end: int) -> int:
        """How many charges a VM deployed at `deployed` and deleted at `deleted` pays when
        the run ends at `end`: #{k >= 0 : deployed + k·epoch < min(deleted, end)}."""
        stop = min(deleted, end)
        if stop <= deployed:
            return 0
        return -(-(stop - deployed) // self.epoch_s)


@dataclass
class SimVm:
    """One simulated VM. Times are POSIX seconds, money micro-USD."""

    id: str
    offer: int
    deployed_at: int
    active_at: int
    deal_micros: int
    next_charge: int
    reserve_micros: int
    replaces: str | None = None
    delete_at: int | None = None
    deleted_at: int | None = None
    charged_micros: int = 0
    charges: int = 0

    @property
    def alive(self) -> bool:
        return self.deleted_at is None

    def status(self, now: int) -> str:
        if self.deleted_at is not None:
            return VmStatus.STOPPED
        return VmStatus.ACTIVE if now >= self.active_at else VmStatus.LAUNCHING


@dataclass
class Account:
    """A simulated Fluence account for one policy: deploys, charges, deletes, refunds.

    Call `advance(t)` before acting at time t (it applies every charge due before t and
    every scheduled delete at or before t), then `deploy`/`schedule_delete`; call
    `finish(end)` once at the end of the run.
    """

    market: Market
    model: BillingModel
    vms: dict[str, SimVm] = field(default_factory=dict)
    usage: Counter[int] = field(default_factory=Counter)
    events: list[tuple[int, int]] = field(default_factory=list)  # (time, micro-USD charged)
    vm_epochs: Counter[int] = field(default_factory=Counter)
    vm_seconds: Counter[int] = field(default_factory=Counter)  # per-second: seconds per offer
    reserve_held: int = 0
    peak_reserve: int = 0
    now: int = 0
    _seq: int = 0

    # --- queries --------------------------------------------------------------------------

    def live(self) -> list[SimVm]:
        return [v for v in self.vms.values() if v.deleted_at is None]

    def can_deploy(self, offer: int, step: int) -> bool:
        """Listed at snapshot `step`, and its recorded capacity holds our VMs plus one."""
        if self.market.price[step, offer] < 0:
            return False
        cap = int(self.market.capacity[step, offer])
        return cap < 0 or self.usage[offer] + 1 <= cap

    def current_price(self, vm: SimVm, step: int) -> int:
        """What `vm` pays per epoch (per the market's price period) now: its deal, or its
        offer's current price (market, per-second)."""
        if self.model.price_model == "deal":
            return vm.deal_micros
        return int(self.market.ffill_price[step, vm.offer])

    @property
    def total_micros(self) -> int:
        """The total in the model's amounts (micro-USD × `BillingModel.scale`)."""
        return sum(a for _, a in self.events)

    def to_usd(self, amount: int) -> Decimal:
        """An amount of this account (micro-USD × scale) in USD."""
        return to_usd(amount, self.model.scale(self.market))

    # --- mutations ------------------------------------------------------------------------

    def deploy(self, offer: int, step: int, t: int, replaces: str | None = None) -> SimVm:
        """Deploy one VM on `offer` at time t (snapshot `step`): charge the first epoch now,
        hold the reserve. The caller checks `can_deploy` first."""
        price = int(self.market.price[step, offer])
        if price < 0:
            raise ValueError(f"offer {offer} is not listed at step {step}")
        self._seq += 1
        per_second = self.model.per_second
        vm = SimVm(
            id=f"vm-{self._seq:05d}",
            offer=offer,
            deployed_at=t,
            active_at=t + self.model.lead_time_s,
            deal_micros=price,
            next_charge=t,
            reserve_micros=0 if per_second else price * self.model.reserve_epochs,
            replaces=replaces,
        )
        self.vms[vm.id] = vm
        self.usage[offer] += 1
        self.reserve_held += vm.reserve_micros
        self.peak_reserve = max(self.peak_reserve, self.reserve_held)
        if not per_second:
            self._charge_due(vm, t + 1)  # the first epoch, up front
        if replaces is not None and self.model.disruption_cost_micros:
            scale = self.model.scale(self.market)
            self.events.append((t, self.model.disruption_cost_micros * scale))
        return vm

    def schedule_delete(self, vm_id: str, at: int) -> None:
        """Delete `vm_id` at time `at` (>= now); charges due at or after `at` never happen."""
        vm = self.vms[vm_id]
        if vm.deleted_at is not None:
            return
        at = max(at, self.now)
        vm.delete_at = at if vm.delete_at is None else min(vm.delete_at, at)
        if at <= self.now:
            self._finalize(vm)

    def advance(self, t: int) -> None:
        """Move the clock to t: apply charges due before t and deletes scheduled at <= t."""
        for vm in self.vms.values():
            if vm.deleted_at is not None:
                continue
            stop = t if vm.delete_at is None else min(t, vm.delete_at)
            self._charge_due(vm, stop)
            if vm.delete_at is not None and vm.delete_at <= t:
                self._finalize(vm)
        self.now = max(self.now, t)

    def finish(self, end: int) -> None:
        """End of the run: charges due before `end` are paid; running VMs stay running."""
        self.advance(end)

    def _charge_due(self, vm: SimVm, stop: int) -> None:
        if self.model.per_second:
            # every second it exists, at the price of the moment: `next_charge` is the
            # time the VM has been billed up to
            if stop > vm.next_charge:
                amount = self.market.cost_between(vm.offer, vm.next_charge, stop)
                self.events.append((vm.next_charge, amount))
                self.vm_seconds[vm.offer] += stop - vm.next_charge
                vm.charged_micros += amount
                vm.next_charge = stop
            return
        while vm.next_charge < stop:
            if self.model.price_model == "deal":
                amount = vm.deal_micros
            else:
                amount = self.market.price_asof(vm.offer, vm.next_charge)
                # market mode keeps the reserve at one epoch of the current price
                new_reserve = amount * self.model.reserve_epochs
                self.reserve_held += new_reserve - vm.reserve_micros
                vm.reserve_micros = new_reserve
                self.peak_reserve = max(self.peak_reserve, self.reserve_held)
            self.events.append((vm.next_charge, amount))
            self.vm_epochs[vm.offer] += 1
            vm.charged_micros += amount
            vm.charges += 1
            vm.next_charge += self.model.epoch_s

    def _finalize(self, vm: SimVm) -> None:
        vm.deleted_at = vm.delete_at
        self.usage[vm.offer] -= 1
        self.reserve_held -= vm.reserve_micros  # refunded; the current epoch is not

    # --- results --------------------------------------------------------------------------

    def total(self) -> Decimal:
        return self.to_usd(self.total_micros)

    def cumulative(self) -> tuple[np.ndarray, np.ndarray]:
        """(times, cumulative micro-USD) of every charge, in time order."""
        if not self.events:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
        ev = np.array(sorted(self.events), dtype=np.int64)
        return ev[:, 0], np.cumsum(ev[:, 1]) // self.model.scale(self.market)


def to_usd(amount: int, scale: int) -> Decimal:
    """micro-USD × `scale` → USD (exact per epoch; per second, to a nano-dollar)."""
    if scale == 1:
        return micros_to_usd(amount)
    return (Decimal(int(amount)) / scale).scaleb(-6).quantize(_NANO)
