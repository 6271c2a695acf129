"""Budget state per fleet and in total, computed from VM observations. Pure: no I/O, no clock.

Inputs are the VM observations the snapshot stage records from `GET /vms/v3` (status,
`pricePerEpoch`, `reservedBalance`, `totalSpent`, `nextBillingAt`, `createdAt`), as
intervals `[from_at, to_at]` during which a VM looked the same (one poll is an interval
with `from_at == to_at`), plus `now`, the configuration and optional planner inputs.

How spend in a period is derived (period = this calendar month UTC, or this epoch = the
current UTC day): `totalSpent` is the API's running total of what a VM has been charged,
so per VM

    spend(period) = totalSpent(now) − totalSpent(period start)

where `totalSpent(start)` is the value of the latest observation that began strictly
before the start (an interval spanning the start gives the exact value there). A charge
due exactly at the start belongs to the new period, like a ledger would put it; if polls
left a gap around the start, a charge inside the gap also counts in the new period (at
most one charge per VM per poll gap — poll every few minutes and this never matters).
A VM first seen after the period started:

- created during the period (`createdAt` ≥ start): everything it spent is in the period
  (baseline 0), including the epoch charged up front at deploy;
- created before but first observed after the start (the daemon was not running):
  the baseline is reconstructed from the first observation by taking off one
  `pricePerEpoch` for each billing time (`nextBillingAt` − k epochs) that fell between
  the period start and that observation; such numbers are flagged `estimated`.

VMs deleted during the period keep counting what they spent before deletion (their last
observation); VMs deleted before it count nothing. Spend is never negative.

Forecast for the month = actual to date + for every VM still running, its
`pricePerEpoch` × the number of its billing times left before the month ends (billing
times are `nextBillingAt` + k epochs; charges are discrete, per VM) + the price trend:
a slope `s` (USD per epoch, per epoch) growing the fleet's cost linearly adds
`s × n² / 2` over the `n` epochs left (never taking the projection below zero).

Reserves are the `reservedBalance` of every VM in the latest poll (a Terminated VM still
holds its reserve until it is deleted). The deposit the next planned actions need comes
from the planner's estimates and is passed in.

Everything is Decimal USD.
"""

from __future__ import annotations

import calendar
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from optimizer.billing import billings_between as billings_between
from optimizer.clock import EPOCH, EPOCH_SECONDS, utc
from optimizer.config import Config
from optimizer.fluence.models import Vm
from optimizer.fluence.status import is_running

ZERO = Decimal(0)
MICRO = Decimal("0.000001")
TOTAL = "total"
UNMANAGED = "(unmanaged)"


@dataclass(frozen=True)
class VmPoint:
    """One observation interval of one VM: it looked like this from `from_at` to `to_at`."""

    vm_id: str
    name: str
    status: str
    from_at: datetime
    to_at: datetime
    price_per_epoch: Decimal | None = None
    reserved: Decimal | None = None
    total_spent: Decimal | None = None
    next_billing_at: datetime | None = None
    created_at: datetime | None = None


@dataclass(frozen=True)
class VmBudget:
    """One VM's numbers (only VMs with any observation are listed)."""

    vm_id: str
    name: str
    fleet: str
    status: str
    present: bool
    price_per_epoch: Decimal
    reserved: Decimal
    total_spent: Decimal
    spend_epoch: Decimal
    spend_month: Decimal
    forecast_rest: Decimal  # what is still to be charged this month at today's price
    estimated: bool


@dataclass(frozen=True)
class ScopeBudget:
    """Budget numbers of one fleet, of the VMs no fleet owns, or of the whole account."""

    scope: str
    vms: int  # VMs in the latest poll
    running: int  # of which will still be billed
    run_rate: Decimal  # current per-epoch cost of the running VMs
    spend_epoch: Decimal
    spend_month: Decimal
    forecast_month: Decimal
    total_spent: Decimal  # lifetime, every VM ever observed
    reserves: Decimal
    deposit_needed: Decimal
    monthly_usd: Decimal | None
    max_usd_per_epoch: Decimal | None
    thresholds: tuple[float, ...]
    slope: Decimal
    estimated: bool

    @property
    def remaining(self) -> Decimal | None:
        """Monthly budget left after this month's actual spend (negative when overrun)."""
        return None if self.monthly_usd is None else self.monthly_usd - self.spend_month

    @property
    def actual_fraction(self) -> Decimal | None:
        return _fraction(self.spend_month, self.monthly_usd)

    @property
    def forecast_fraction(self) -> Decimal | None:
        return _fraction(self.forecast_month, self.monthly_usd)

    @property
    def crossed_actual(self) -> float | None:
        """Highest threshold that this month's actual spend has reached, or None."""
        return _crossed(self.actual_fraction, self.thresholds)

    @property
    def crossed_forecast(self) -> float | None:
        """Highest threshold that the month's forecast reaches, or None."""
        return _crossed(self.forecast_fraction, self.thresholds)

    @property
    def over_epoch_cap(self) -> bool:
        return self.max_usd_per_epoch is not None and self.run_rate > self.max_usd_per_epoch


@dataclass(frozen=True)
class BudgetReport:
    now: datetime
    month_start: datetime
    month_end: datetime
    epoch_start: datetime
    epochs_left: Decimal  # fractional epochs until the month ends
    fleets: tuple[ScopeBudget, ...]
    unmanaged: ScopeBudget | None
    total: ScopeBudget
    vms: tuple[VmBudget, ...] = field(default=())

    def scope(self, name: str) -> ScopeBudget:
        if name == TOTAL:
            return self.total
        for s in (*self.fleets, *([self.unmanaged] if self.unmanaged else [])):
            if s.scope == name:
                return s
        raise KeyError(name)

    @property
    def scopes(self) -> tuple[ScopeBudget, ...]:
        extra = (self.unmanaged,) if self.unmanaged else ()
        return (*self.fleets, *extra, self.total)


def _fraction(value: Decimal, budget: Decimal | None) -> Decimal | None:
    if budget is None or budget <= 0:
        return None
    return value / budget


def _crossed(fraction: Decimal | None, thresholds: Sequence[float]) -> float | None:
    if fraction is None:
        return None
    hit = [t for t in thresholds if fraction >= Decimal(repr(t))]
    return max(hit) if hit else None


def month_bounds(now: datetime) -> tuple[datetime, datetime]:
    """The calendar month (UTC) containing `now`: [first day 00:00, next month's first day)."""
    now = utc(now)
    start = datetime(now.year, now.month, 1, tzinfo=UTC)
    days = calendar.monthrange(now.year, now.month)[1]
    return start, start + timedelta(days=days)


def epoch_bounds(now: datetime) -> tuple[datetime, datetime]:
    """The epoch (UTC day) containing `now`."""
    now = utc(now)
    start = datetime(now.year, now.month, now.day, tzinfo=UTC)
    return start, start + EPOCH


def fleet_of(name: str, fleets: Iterable[str]) -> str | None:
    """The fleet a VM name `<fleet>-<token>` belongs to (longest fleet name wins), or None."""
    best = None
    for f in fleets:
        if (
            name.startswith(f + "-")
            and len(name) > len(f) + 1
            and (best is None or len(f) > len(best))
        ):
            best = f
    return best


def _value_before(points: Sequence[VmPoint], t: datetime) -> VmPoint | None:
    """The latest observation that began strictly before `t`."""
    best = None
    for p in points:  # sorted by from_at
        if p.from_at < t:
            best = p
        else:
            break
    return best


def _baseline(points: Sequence[VmPoint], start: datetime) -> tuple[Decimal, bool]:
    """totalSpent at `start` and whether it had to be reconstructed."""
    before = _value_before(points, start)
    if before is not None:
        return before.total_spent or ZERO, False
    first = points[0]
    created = first.created_at or first.from_at
    if utc(created) >= start:
        return ZERO, False
    us = timedelta(microseconds=1)
    charges = billings_between(first.next_billing_at, start - us, first.from_at + us)
    price = first.price_per_epoch or ZERO
    base = (first.total_spent or ZERO) - price * charges
    return max(base, ZERO), True


def compute_budget(
    points: Iterable[VmPoint],
    config: Config,
    now: datetime,
    *,
    present: set[str] | None = None,
    vm_fleets: Mapping[str, str] | None = None,
    deposits: Mapping[str, Decimal] | None = None,
    slopes: Mapping[str, Decimal] | None = None,
) -> BudgetReport:
    """Given VM observation intervals, the config and `now`, return the budget per fleet and total.

    `present`: ids of the VMs in the latest poll (default: VMs whose last observation
    ends at the latest `to_at` seen). `vm_fleets`: explicit VM id → fleet (adopted VMs);
    otherwise a VM belongs to the fleet its name starts with (`<fleet>-...`), else to
    "(unmanaged)". `deposits`: fleet → deposit the next planned actions need (from
    estimate). `slopes`: fleet → price trend of the fleet's per-epoch cost, USD per epoch
    per epoch. Observations after `now` are ignored.
    """
    now = utc(now)
    m_start, m_end = month_bounds(now)
    e_start, _ = epoch_bounds(now)
    epochs_left = Decimal(int((m_end - now).total_seconds())) / Decimal(EPOCH_SECONDS)
    names = [f.name for f in config.fleets]
    vm_fleets = dict(vm_fleets or {})
    deposits = dict(deposits or {})
    slopes = dict(slopes or {})

    by_vm: dict[str, list[VmPoint]] = {}
    for p in points:
        if utc(p.from_at) > now:
            continue
        by_vm.setdefault(p.vm_id, []).append(p)
    for pts in by_vm.values():
        pts.sort(key=lambda p: p.from_at)
    if present is None:
        last = max((pts[-1].to_at for pts in by_vm.values()), default=None)
        present = {vm for vm, pts in by_vm.items() if last is not None and pts[-1].to_at >= last}

    vms: list[VmBudget] = []
    for vm_id, pts in sorted(by_vm.items()):
        latest = pts[-1]
        fleet = vm_fleets.get(vm_id) or fleet_of(latest.name, names) or UNMANAGED
        spent = latest.total_spent or ZERO
        base_m, est_m = _baseline(pts, m_start)
        base_e, est_e = _baseline(pts, e_start)
        is_present = vm_id in present
        price = latest.price_per_epoch or ZERO
        rest = ZERO
        if is_present and is_running(latest.status):
            rest = price * billings_between(latest.next_billing_at, now, m_end)
        vms.append(
            VmBudget(
                vm_id=vm_id,
                name=latest.name,
                fleet=fleet,
                status=latest.status,
                present=is_present,
                price_per_epoch=price,
                reserved=(latest.reserved or ZERO) if is_present else ZERO,
                total_spent=spent,
                spend_epoch=max(spent - base_e, ZERO),
                spend_month=max(spent - base_m, ZERO),
                forecast_rest=rest,
                estimated=est_m or est_e,
            )
        )

    def scope(
        name: str,
        members: list[VmBudget],
        monthly: Decimal | None,
        cap: Decimal | None,
        ths: tuple[float, ...],
    ) -> ScopeBudget:
        running = [v for v in members if v.present and is_running(v.status)]
        spend_month = sum((v.spend_month for v in members), ZERO)
        slope = (
            sum((slopes.get(n, ZERO) for n in names), ZERO)
            if name == TOTAL
            else slopes.get(name, ZERO)
        )
        projected = sum((v.forecast_rest for v in running), ZERO) + (
            slope * epochs_left**2 / 2
        ).quantize(MICRO)
        return ScopeBudget(
            scope=name,
            vms=sum(1 for v in members if v.present),
            running=len(running),
            run_rate=sum((v.price_per_epoch for v in running), ZERO),
            spend_epoch=sum((v.spend_epoch for v in members), ZERO),
            spend_month=spend_month,
            forecast_month=spend_month + max(projected, ZERO),
            total_spent=sum((v.total_spent for v in members), ZERO),
            reserves=sum((v.reserved for v in members), ZERO),
            deposit_needed=(
                sum(deposits.values(), ZERO) if name == TOTAL else deposits.get(name, ZERO)
            ),
            monthly_usd=monthly,
            max_usd_per_epoch=cap,
            thresholds=ths,
            slope=slope,
            estimated=any(v.estimated for v in members),
        )

    gth = tuple(config.budget.thresholds)
    fleets = tuple(
        scope(
            f.name,
            [v for v in vms if v.fleet == f.name],
            f.budget.monthly_usd,
            f.budget.max_usd_per_epoch,
            tuple(sorted(f.budget.thresholds)) if f.budget.thresholds else gth,
        )
        for f in config.fleets
    )
    other = [v for v in vms if v.fleet == UNMANAGED or v.fleet not in names]
    unmanaged = scope(UNMANAGED, other, None, None, gth) if other else None
    b = config.budget
    total = scope(TOTAL, vms, b.monthly_usd, b.max_usd_per_epoch, gth)
    return BudgetReport(
        now=now,
        month_start=m_start,
        month_end=m_end,
        epoch_start=e_start,
        epochs_left=epochs_left,
        fleets=fleets,
        unmanaged=unmanaged,
        total=total,
        vms=tuple(vms),
    )


def points_from_vms(vms: Iterable[Vm], at: datetime) -> list[VmPoint]:
    """One poll of `GET /vms/v3` as VmPoints observed at `at`."""
    return [
        VmPoint(
            vm_id=vm.id,
            name=vm.vm_name,
            status=vm.status,
            from_at=utc(at),
            to_at=utc(at),
            price_per_epoch=vm.price_per_epoch,
            reserved=vm.reserved_balance,
            total_spent=vm.total_spent,
            next_billing_at=vm.next_billing_at,
            created_at=vm.created_at,
        )
        for vm in vms
    ]
