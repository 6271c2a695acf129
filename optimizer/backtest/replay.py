"""Replay recorded history through a policy, step by step, with a simulated executor.

At step s (snapshot time t) a policy is shown a `StepView`: the market history up to and
including snapshot s — the arrays are sliced, so nothing later is reachable —, the fleet's
simulated VMs as they are at t, and the fleet's matching offers. It answers with
`Action`s; the simulated executor applies them to an `Account` (billing.py) the way the
real API would: a deploy lands on the cheapest listed offer that matches the action's
offers and price cap and has capacity; a migration deploys the replacement now and
deletes the old VM when the replacement is Active, or at the requested cutover time if
that is later (make-before-break).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np
import pandas as pd

from optimizer.backtest.billing import Account, BillingModel
from optimizer.backtest.prices import Market
from optimizer.clock import EPOCH_SECONDS
from optimizer.config import FleetConfig
from optimizer.errors import ConfigError
from optimizer.money import to_micros

# --- what a policy sees -------------------------------------------------------------------


@dataclass(frozen=True)
class MarketView:
    """The market known at the current step: rows 0..step of the history, nothing later."""

    times: np.ndarray  # (step+1,) POSIX seconds
    price: np.ndarray  # (step+1, O) micro-USD, -1 = not listed
    capacity: np.ndarray  # (step+1, O) -1 = unknown
    market: Market  # static offer attributes only (keys, configuration, country, ...)

    @property
    def now_price(self) -> np.ndarray:
        row: np.ndarray = self.price[-1]
        return row

    @property
    def now_capacity(self) -> np.ndarray:
        row: np.ndarray = self.capacity[-1]
        return row


@dataclass(frozen=True)
class VmView:
    """A simulated VM as a policy sees it at the current step."""

    id: str
    offer: int
    status: str  # Launching | Active
    price_micros: int  # what it pays per epoch now
    deployed_at: int
    active_at: int
    next_billing_at: int
    tag: object = None
    replacing: str | None = None  # id of the VM this one replaces (while that one lives)
    being_replaced: bool = False  # a replacement is launching / the VM is scheduled to go


@dataclass(frozen=True)
class StepView:
    step: int
    now: int
    market: MarketView
    vms: tuple[VmView, ...]
    matching: np.ndarray  # bool (O,): offers satisfying the fleet's static constraints
    max_price_micros: int | None  # the fleet's price cap
    instances: int
    model: BillingModel
    usage: dict[int, int]  # our VMs per offer (capacity accounting)
    pending: tuple[Action, ...] = ()  # journaled actions waiting for their not_before
    aborted: frozenset[int] = frozenset()  # id() of actions the executor had to abort

    def eligible(self, mask: np.ndarray | None = None, cap: int | None = None) -> np.ndarray:
        """Offers a deploy could land on now: matching, listed, under caps, with capacity."""
        price = self.market.now_price
        ok = self.matching & (price >= 0)
        if mask is not None:
            ok &= mask
        for c in (cap, self.max_price_micros):
            if c is not None:
                ok &= price <= c
        capa = self.market.now_capacity
        used = np.zeros(len(price), dtype=np.int64)
        for o, n in self.usage.items():
            used[o] = n
        ok &= (capa < 0) | (used + 1 <= capa)
        return ok

    def cheapest(self, mask: np.ndarray | None = None, cap: int | None = None) -> int | None:
        """Index of the cheapest eligible offer now (lowest index on ties), or None."""
        ok = self.eligible(mask, cap)
        if not ok.any():
            return None
        p = np.where(ok, self.market.now_price, np.iinfo(np.int64).max)
        return int(np.argmin(p))


# --- what a policy answers ----------------------------------------------------------------


@dataclass(frozen=True)
class Deploy:
    """Deploy `count` VMs, each on the cheapest eligible offer. `diversify`: also keep at
    most the fleet's `max_per_datacenter` of our VMs per datacenter (the baselines ask
    for it; the planner chooses its targets itself)."""

    count: int = 1
    offers: np.ndarray | None = None  # bool mask narrowing the fleet's offers
    max_price_micros: int | None = None
    tag: object = None
    reason: str = ""
    not_before: int | None = None  # journaled now, deployed at this time (as-of prices)
    diversify: bool = False


@dataclass(frozen=True)
class Migrate:
    vm_id: str
    offers: np.ndarray | None = None
    max_price_micros: int | None = None
    cutover_at: int | None = None  # delete the old VM no earlier than this (aligned cutover)
    reason: str = ""
    not_before: int | None = None  # journaled now, the replacement deployed at this time
    diversify: bool = False
    tag: object = None  # set: migrate the VM carrying this tag when the action runs


@dataclass(frozen=True)
class Delete:
    vm_id: str
    at: int | None = None
    reason: str = ""


Action = Deploy | Migrate | Delete


class Policy(Protocol):
    name: str

    def decide(self, view: StepView) -> list[Action]:
        """Given what is known at this step, return the actions to take now."""
        ...


# --- matching -----------------------------------------------------------------------------


@dataclass(frozen=True)
class FleetMatch:
    mask: np.ndarray
    max_price_micros: int | None
    instances: int
    notes: tuple[str, ...] = ()
    max_per_datacenter: int | None = None  # the fleet's diversification limit
    dc: np.ndarray | None = None  # datacenter code per offer (for that limit)


def match_fleet(market: Market, fleet: FleetConfig) -> FleetMatch:
    """The offers of `market` satisfying `fleet`'s constraints that price data can check.

    Configurations, countries, minimum tier (an offer of unknown tier fails it; a history
    without any tier skips the check, with a note), excluded datacenters and
    the price cap (in the market's unit) are checked; hardware, certifications and extra
    storage are not in price histories, so they are listed in `notes` instead. Raise
    ConfigError for a capacity-sized fleet (backtests need `instances`) or when no offer
    ever matches.
    """
    if fleet.instances is None:
        raise ConfigError(
            f"fleet {fleet.name!r}: backtests need a fleet sized by `instances`, not by `capacity`"
        )
    c = fleet.constraints
    mask = np.ones(market.n_offers, dtype=bool)
    if c.configurations:
        mask &= np.isin(market.configuration, c.configurations)
    if c.countries:
        mask &= np.isin(market.country, c.countries)
    tiers_known = bool((market.tier >= 0).any())
    if c.min_tier is not None and tiers_known:
        mask &= market.tier >= c.min_tier
    if c.exclude_datacenters:
        mask &= ~np.isin(market.datacenter, c.exclude_datacenters)
    notes = []
    hw = c.hardware
    if any((hw.cpu_manufacturers, hw.cpu_architectures, hw.memory_types,
            hw.memory_generations, hw.storage_types)) or c.additional_storage:  # fmt: skip
        notes.append("hardware and storage constraints are not in the price history: not checked")
    if c.certifications:
        notes.append("certifications are not in the price history: not checked")
    if c.min_tier is not None and not tiers_known:
        notes.append("the price history has no tiers: min_tier is not checked")
    cap = None
    if c.price_cap_per_epoch is not None:  # in the market's unit (hourly: a 24th, floored)
        cap = to_micros(c.price_cap_per_epoch) // (EPOCH_SECONDS // market.period_s)
    if not mask.any():
        raise ConfigError(
            f"fleet {fleet.name!r}: no offer in the price history matches its constraints "
            f"(configurations {c.configurations or 'any'}, countries {c.countries or 'any'})"
        )
    dc = pd.factorize(
        pd.Series(market.datacenter, dtype=object).where(
            market.datacenter != "", pd.Series(market.keys, dtype=object)
        )
    )[0]
    if fleet.diversification.min_countries is not None:
        notes.append("min_countries is not applied to the baselines (static, greedy, optimum)")
    return FleetMatch(
        mask,
        cap,
        fleet.instances,
        tuple(notes),
        max_per_datacenter=fleet.diversification.max_per_datacenter,
        dc=np.asarray(dc, dtype=np.int64),
    )


# --- the simulated executor and the replay loop -------------------------------------------


@dataclass
class RunStats:
    migrations: int = 0
    deploys: int = 0
    deletes: int = 0
    failed: Counter[str] = field(default_factory=Counter)


@dataclass
class Replay:
    """One policy's run over one market: its simulated account, executor and journal.

    The executor mirrors the live one: an action with a future `not_before` is journaled
    and started at that time (using the prices known then); a migration deploys the
    replacement and deletes the old VM once the replacement is Active and the cutover
    time has come; a deploy that finds no offer under its cap is aborted (counted in
    `stats.failed`)."""

    market: Market
    match: FleetMatch
    model: BillingModel
    account: Account = field(init=False)
    stats: RunStats = field(default_factory=RunStats)
    tags: dict[str, object] = field(default_factory=dict)
    pending: list[tuple[int, int, Action]] = field(default_factory=list)
    aborted: set[int] = field(default_factory=set)

    def __post_init__(self) -> None:
        self.account = Account(self.market, self.model)

    def view(self, step: int) -> StepView:
        t = int(self.market.times[step])
        m = self.market
        mv = MarketView(m.times[: step + 1], m.price[: step + 1], m.capacity[: step + 1], m)
        replaced = {
            v.replaces
            for v in self.account.vms.values()
            if v.replaces is not None and v.deleted_at is None
        }
        vms = []
        for v in self.account.vms.values():
            if v.deleted_at is not None:
                continue
            vms.append(
                VmView(
                    id=v.id,
                    offer=v.offer,
                    status=v.status(t),
                    price_micros=self.account.current_price(v, step),
                    deployed_at=v.deployed_at,
                    active_at=v.active_at,
                    next_billing_at=v.next_charge,
                    tag=self.tags.get(v.id),
                    replacing=v.replaces
                    if v.replaces in self.account.vms
                    and self.account.vms[v.replaces].deleted_at is None
                    else None,
                    being_replaced=v.id in replaced or v.delete_at is not None,
                )
            )
        return StepView(
            step=step,
            now=t,
            market=mv,
            vms=tuple(vms),
            matching=self.match.mask,
            max_price_micros=self.match.max_price_micros,
            instances=self.match.instances,
            model=self.model,
            usage={o: n for o, n in self.account.usage.items() if n},
            pending=tuple(a for _, _, a in self.pending),
            aborted=frozenset(self.aborted),
        )

    def _place(
        self,
        row: int,
        mask: np.ndarray | None,
        cap: int | None,
        diversify: bool = False,
        leaving: int | None = None,
    ) -> int | None:
        """Where a deploy lands at snapshot `row`: the cheapest matching listed offer under
        the caps that has capacity left for one more of our VMs (lowest index on ties).
        With `diversify`, datacenters already holding `max_per_datacenter` of our VMs are
        skipped (a VM `leaving` offer o does not count against o's datacenter)."""
        price = self.market.price[row]
        ok = self.match.mask & (price >= 0)
        if mask is not None:
            ok = ok & mask
        limit, dc = self.match.max_per_datacenter, self.match.dc
        if diversify and limit is not None and dc is not None:
            per_dc = np.zeros(int(dc.max()) + 1, dtype=np.int64)
            for v in self.account.vms.values():
                if v.deleted_at is None and v.delete_at is None:
                    per_dc[dc[v.offer]] += 1
            if leaving is not None:
                per_dc[dc[leaving]] -= 1
            ok = ok & (per_dc[dc] < limit)
        for c in (cap, self.match.max_price_micros):
            if c is not None:
                ok = ok & (price <= c)
        if not ok.any():
            return None
        order = np.flatnonzero(ok)
        order = order[np.argsort(price[order], kind="stable")]
        for o in order:
            if self.account.can_deploy(int(o), row):
                return int(o)
        return None

    def apply(self, view: StepView, actions: list[Action]) -> None:
        """Execute `actions` now, or journal those whose `not_before` is later."""
        for a in actions:
            nb = getattr(a, "not_before", None)
            if nb is not None and nb > view.now:
                self.pending.append((nb, len(self.pending), a))
            else:
                self._execute(a, view.now, view.step)

    def fire_pending(self, upto: int) -> None:
        """Run journaled actions due at or before `upto`, each at its own time with the
        prices known then (the last snapshot at or before it)."""
        due = sorted((p for p in self.pending if p[0] <= upto), key=lambda p: p[:2])
        if not due:
            return
        self.pending = [p for p in self.pending if p[0] > upto]
        for nb, _, a in due:
            self.account.advance(nb)
            self._execute(a, nb, self.market.step_at(nb))

    def _execute(self, a: Action, t: int, row: int) -> None:
        acct = self.account
        if isinstance(a, Deploy):
            for _ in range(a.count):
                o = self._place(row, a.offers, a.max_price_micros, a.diversify)
                if o is None:
                    self.stats.failed["deploy: no offer"] += 1
                    self.aborted.add(id(a))
                    break
                vm = acct.deploy(o, row, t)
                self.tags[vm.id] = a.tag
                self.stats.deploys += 1
        elif isinstance(a, Migrate):
            old = acct.vms.get(a.vm_id)
            if a.tag is not None:  # whichever VM holds the tag now (not one on its way out)
                old = next((v for v in acct.live() if v.delete_at is None
                            and self.tags.get(v.id) == a.tag), None)  # fmt: skip
            if old is None or old.deleted_at is not None or old.delete_at is not None:
                self.stats.failed["migrate: VM gone"] += 1
                self.aborted.add(id(a))
                return
            o = self._place(row, a.offers, a.max_price_micros, a.diversify, old.offer)
            if o is None:
                self.stats.failed["migrate: no offer under the cap"] += 1
                self.aborted.add(id(a))
                return
            new = acct.deploy(o, row, t, replaces=old.id)
            self.tags[new.id] = self.tags.get(old.id)
            acct.schedule_delete(old.id, max(new.active_at, a.cutover_at or 0))
            self.stats.migrations += 1
            self.stats.deploys += 1
        elif isinstance(a, Delete):
            if a.vm_id not in acct.vms or acct.vms[a.vm_id].deleted_at is not None:
                self.stats.failed["delete: VM gone"] += 1
                return
            acct.schedule_delete(a.vm_id, a.at if a.at is not None else t)
            self.stats.deletes += 1


def replay(
    market: Market,
    match: FleetMatch,
    policy: Policy,
    model: BillingModel,
    end: int | None = None,
) -> Replay:
    """Run `policy` over every snapshot before `end` (default: the last snapshot), then
    settle the account at `end`. Return the finished `Replay` (account, stats)."""
    end = int(market.times[-1]) if end is None else end
    run = Replay(market, match, model)
    for step in range(market.n_steps):
        t = int(market.times[step])
        if t >= end:
            break
        run.fire_pending(t)
        run.account.advance(t)
        view = run.view(step)
        actions = policy.decide(view)
        if actions:
            run.apply(view, actions)
    run.fire_pending(end - 1)
    run.account.finish(end)
    return run


def shortfall(view: StepView) -> int:
    """How many VMs the fleet lacks. A VM on its way out (replaced or scheduled for
    deletion) does not count; its replacement does."""
    return max(0, view.instances - sum(1 for v in view.vms if not v.being_replaced))
