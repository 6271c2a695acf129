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

Where the API reports what it charged (the cloud generation: per-second billing, no
`totalSpent` per VM), spend comes from those charges instead, per resource (VMs, disks
and IPs; a resource belongs to the fleet that owns the VM id or whose name it starts
with): this month = the charges from the month's first day, this epoch = today's. The
run rate is then what the scope's billed resources cost per hour now (× 24 per epoch),
and the forecast = actual + that hourly cost × the hours left in the month (no price
trend: the trend is per epoch-priced offer). VMs and their observations are listed as
before.

**Balance runway** (`Runway`): the account's balance ÷ what every billed resource
(VMs, disks and IPs, ours or not) costs per hour now = the hours until the balance is
spent, when both are known.

Everything is Decimal USD.
"""

from __future__ import annotations

import calendar
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from optimizer.billing import FLOOR
from optimizer.billing import billings_between as billings_between
from optimizer.clock import EPOCH, EPOCH_HOURS, EPOCH_SECONDS, utc
from optimizer.config import Config
from optimizer.fluence.account import DISK, IP, VM, AccountFacts
from optimizer.fluence.models import Vm
from optimizer.fluence.status import is_running

ZERO = Decimal(0)
MICRO = Decimal("0.000001")
HOURS_PER_EPOCH = Decimal(EPOCH_HOURS)
#: `billing.FLOOR` in hours: the balance a create needs covers everything this long
FLOOR_HOURS = Decimal(int(FLOOR.total_seconds())) / 3600
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
class Runway:
    """How long the account's balance lasts at the current burn rate.

    `one_more_per_hour` is what one more VM like the dearest the account runs costs per
    hour with a disk and an IP like its dearest: what a migration adds while both VMs
    exist, so the balance a create needs is `FLOOR_HOURS × (burn + one more)`."""

    balance: Decimal
    burn_per_hour: Decimal | None  # None: unknown
    one_more_per_hour: Decimal
    observed_at: datetime

    @property
    def hours_left(self) -> Decimal | None:
        """balance ÷ burn per hour as of `observed_at` (0 when the balance is gone); None
        when nothing bills or the burn rate is unknown."""
        if self.burn_per_hour is None or self.burn_per_hour <= 0:
            return None
        return max(self.balance, ZERO) / self.burn_per_hour

    @property
    def until(self) -> datetime | None:
        """When the balance runs out at this rate."""
        h = self.hours_left
        return None if h is None else self.observed_at + timedelta(hours=float(h))

    @property
    def floor_usd(self) -> Decimal | None:
        """The balance below which the API refuses to create one more VM (with its disk
        and IP): FLOOR_HOURS of everything billed plus the new resources."""
        if self.burn_per_hour is None:
            return None
        return FLOOR_HOURS * (self.burn_per_hour + self.one_more_per_hour)

    def hours_to_floor(self) -> Decimal | None:
        """Hours until the balance falls to `floor_usd` (negative: below it already)."""
        floor = self.floor_usd
        if floor is None or self.burn_per_hour is None or self.burn_per_hour <= 0:
            return None
        return (self.balance - floor) / self.burn_per_hour


def runway_of(facts: AccountFacts | None, observed_at: datetime) -> Runway | None:
    """The runway the facts give, or None when the balance is not reported."""
    if facts is None or facts.balance is None:
        return None
    dearest: dict[str, Decimal] = {}
    for r in facts.resources or ():
        if r.per_hour is not None and r.per_hour > dearest.get(r.kind, ZERO):
            dearest[r.kind] = r.per_hour
    return Runway(
        balance=facts.balance,
        burn_per_hour=facts.burn_per_hour,
        one_more_per_hour=sum((dearest.get(k, ZERO) for k in (VM, DISK, IP)), ZERO),
        observed_at=utc(observed_at),
    )


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
    runway: Runway | None = None

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
    account: AccountFacts | None = None,
    account_at: datetime | None = None,
) -> BudgetReport:
    """Given VM observation intervals, the config and `now`, return the budget per fleet and total.

    `present`: ids of the VMs in the latest poll (default: VMs whose last observation
    ends at the latest `to_at` seen). `vm_fleets`: explicit VM id → fleet (adopted VMs);
    otherwise a VM belongs to the fleet its name starts with (`<fleet>-...`), else to
    "(unmanaged)". `deposits`: fleet → deposit the next planned actions need (from
    estimate). `slopes`: fleet → price trend of the fleet's per-epoch cost, USD per epoch
    per epoch. Observations after `now` are ignored. `account`: the account's facts,
    observed at `account_at` (default `now`): their charges, when they cover this month,
    replace the spend derived from observations, and their balance gives the runway.
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
    if account is not None and account.charges_since == m_start.date():
        owner = {v.vm_id: v.fleet for v in vms if v.fleet != UNMANAGED}
        owner.update(vm_fleets)
        charged = _ChargedScopes(account, owner, names, epochs_left * HOURS_PER_EPOCH)
        fleets = tuple(charged.apply(f) for f in fleets)
        if unmanaged is None and charged.has(UNMANAGED):
            unmanaged = scope(UNMANAGED, [], None, None, gth)
        unmanaged = None if unmanaged is None else charged.apply(unmanaged)
        total = charged.apply(total)
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
        runway=runway_of(account, account_at or now),
    )


class _ChargedScopes:
    """Scope numbers from the API's charges and the billed resources' hourly prices
    (see the module docstring)."""

    def __init__(
        self, facts: AccountFacts, owner: Mapping[str, str], fleets: Sequence[str],
        hours_left: Decimal,
    ) -> None:  # fmt: skip
        self.hours_left = hours_left

        def scope_of(resource_id: str | None, name: str | None) -> str:
            return owner.get(resource_id or "") or fleet_of(name or "", fleets) or UNMANAGED

        self.month: dict[str, Decimal] = {}
        self.today: dict[str, Decimal] = {}
        self.per_hour: dict[str, Decimal] = {}
        for c in facts.charged or ():
            _add(self.month, scope_of(c.resource_id, c.name), c.cost)
        for c in facts.charged_today or ():
            _add(self.today, scope_of(c.resource_id, c.name), c.cost)
        self.rate_known = facts.burn_per_hour is not None
        for r in facts.resources or ():
            _add(self.per_hour, scope_of(r.id, r.name), r.per_hour or ZERO)

    def has(self, scope: str) -> bool:
        return scope in self.month or scope in self.per_hour

    def apply(self, s: ScopeBudget) -> ScopeBudget:
        def of(d: dict[str, Decimal]) -> Decimal:
            return sum(d.values(), ZERO) if s.scope == TOTAL else d.get(s.scope, ZERO)

        month = of(self.month)
        per_hour = of(self.per_hour) if self.rate_known else s.run_rate / HOURS_PER_EPOCH
        return replace(
            s,
            run_rate=per_hour * HOURS_PER_EPOCH,
            spend_epoch=of(self.today),
            spend_month=month,
            forecast_month=month + (per_hour * self.hours_left).quantize(MICRO),
            slope=ZERO,
        )


def _add(d: dict[str, Decimal], key: str, amount: Decimal) -> None:
    d[key] = d.get(key, ZERO) + amount


def points_from_vms(vms: Iterable[Vm], at: datetime) -> list[VmPoint]:
    """One poll of `GET /vms/v3` as VmPoints observed at `at`."""
    return [
        VmPoint(
            vm_id=vm.id,
            name=vm.vm_name,
            status=vm.status,
            from_at=utc(at),
            to_at=utc(at),
            price_per_epoch=vm.cost_per_epoch,
            reserved=vm.reserved_balance,
            total_spent=vm.total_spent,
            next_billing_at=vm.next_billing_at,
            created_at=vm.created_at,
        )
        for vm in vms
    ]
