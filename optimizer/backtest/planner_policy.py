"""The real planner (`optimizer.planner.plan_fleet`) as a backtest policy.

A thin adapter, not a second policy: at each step it turns what the replay knows
(the snapshot's offers, the simulated VMs, the simulated journal) into the planner's
inputs, calls `plan_fleet` exactly as the daemon does (mode "act"), and turns the Plan's
actions back into replay actions:

- market: the offers listed at this snapshot in the fleet's (configuration, country)
  groups, as `MarketOffer`s. Capacity is the recorded capacity minus the simulated VMs
  already on the offer (recorded history has none of ours); unknown capacity is
  unlimited. `listed_since` is the first snapshot (so far) that listed the offer.
- VMs: each simulated VM as an `OwnedVm` (status Launching until its lead time has
  passed, its price per epoch, next billing time, datacenter, country).
- in flight: what the journal would hold — migrations waiting for `not_before`, or
  launching, or waiting for cutover; deploys still launching; migrations started in the
  last epoch.
- trends: as the daemon computes them (optimizer.cycle): each datacenter's listing
  stability from offer longevity, and per (configuration, country) the next epoch's
  forecast median price and the Theil–Sen slope (`optimizer.analysis.market_trends`),
  all over the last 14 days of history up to now (no later row is read), refreshed
  once per `trends_every` (default 24 h; the daemon's analysis_interval defaults to 6 h,
  but a 14-day statistic barely moves in 6 h and this is the adapter's costliest part).
  The planner uses reliability for ranking and forecast/slope to decide whether a
  migration starts now or waits for the billing boundary. Each offer's recent price
  level (`optimizer.analysis.offer_levels`, last 24 h) is refreshed every
  `levels_every` (6 h, the daemon's analysis_interval default); its week level
  (`week_levels`, the median of 7 days, which barely moves in 6 h) with the trends.
- billing: the planner's economics get the shared billing model the backtest's price
  model stands for (`BillingModel.billing`: epoch-deal for `deal` and `market`,
  per-second for `per-second`), as the daemon gets its API edge's. The backtest's price
  model decides how a VM is billed, so the fleet's `policy.price_model` is set to it
  (per second: "market", each VM paying its offer's price of the moment).
- unit: the planner works in USD per 24 h; hourly price points are scaled by 24 on the
  way in, and the price caps of its actions back.
- budget: the fleet's `budget.max_usd_per_epoch`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import numpy as np
import pandas as pd

from optimizer.backtest.prices import Market, micros_to_usd
from optimizer.backtest.replay import Action, Delete, Deploy, Migrate, Policy, StepView
from optimizer.backtest.replay import MarketView as ReplayMarket
from optimizer.config import FleetConfig, FleetPolicy
from optimizer.fluence.status import is_healthy, is_launching
from optimizer.money import to_micros
from optimizer.planner import Action as PlanAction
from optimizer.planner import (
    BudgetState,
    InFlight,
    LaunchStats,
    MarketOffer,
    MarketView,
    OwnedVm,
    Trends,
    plan_fleet,
)

#: the history the daemon's analysis stage reads (optimizer.cycle.ANALYSIS_WINDOW)
TRENDS_WINDOW_S = 14 * 86_400

_UNLIMITED = 1_000_000


def _dt(t: int) -> datetime:
    return datetime.fromtimestamp(t, UTC)


def _ts(d: datetime | None) -> int | None:
    return None if d is None else int(d.timestamp())


@dataclass
class PlannerPolicy:
    """`plan_fleet` driven step by step over recorded history (see the module docstring)."""

    name: str
    fleet: FleetConfig
    market: Market
    recent: list[tuple[int, object]] = field(default_factory=list)  # (planned at, action)
    _cache: dict[tuple[int, int, int], MarketOffer] = field(default_factory=dict)
    last_plan: object = None
    prune: bool = True  # leave out offers that cannot matter (see `decide`)
    trends_every: int = 24 * 3600
    levels_every: int = 6 * 3600
    _trends: Trends | None = None
    _trends_at: int | None = None
    _levels: dict[str, tuple[Decimal, Decimal]] = field(default_factory=dict)
    _levels_at: int | None = None
    per_day: int = field(init=False, default=1)  # price periods per 24 h (1, or 24 hourly)

    def __post_init__(self) -> None:
        c = self.fleet.constraints
        m = self.market
        self.per_day = 86_400 // m.period_s  # the planner's unit is USD per 24 h
        group = np.ones(m.n_offers, dtype=bool)
        if c.configurations:
            group &= np.isin(m.configuration, c.configurations)
        if c.countries:
            group &= np.isin(m.country, c.countries)
        self.group = group
        listed = m.price >= 0
        first = np.argmax(listed, axis=0)
        # an offer listed at step s was first seen at or before s: no look-ahead
        self.listed_since = [_dt(int(m.times[f])) for f in first]
        # each offer's static attributes; `_offer` fills in the price and capacity
        self.static = [
            MarketOffer(
                offer_key=str(m.keys[o]),
                configuration=str(m.configuration[o]),
                vcpu=max(int(m.vcpu[o]), 0),
                ram_gb=max(int(m.ram_gb[o]), 0),
                country=str(m.country[o]),
                datacenter=str(m.datacenter[o]) or f"{m.country[o]}-?-{o}",
                price=Decimal(0),
                capacity=0,
                tier=int(m.tier[o]) if m.tier[o] >= 0 else None,
                listed_since=self.listed_since[o],
            )
            for o in range(m.n_offers)
        ]
        self._key_cat = pd.Index([str(k) for k in m.keys])
        dc_codes, dc_cat = pd.factorize(
            pd.Series([d.datacenter for d in self.static], dtype=object)
        )
        self._dc_codes, self._dc_cat = dc_codes, pd.Index(dc_cat)

    def trends(self, view: StepView) -> Trends | None:
        """Datacenter reliability, segment forecasts and offer levels from the history
        known now (rows up to this step)."""
        now = view.now
        if self._levels_at is None or now - self._levels_at >= self.levels_every:
            self._levels = self._offer_levels(view.market, now)
            self._levels_at = now
            if self._trends is not None:
                self._trends = replace(self._trends, levels=self._levels)
        if self._trends_at is not None and now - self._trends_at < self.trends_every:
            return self._trends
        from optimizer.analysis import datacenter_longevity, listing_stability, offer_longevity

        mv = view.market
        first = int(np.searchsorted(mv.times, now - TRENDS_WINDOW_S, side="left"))
        rows, offers = np.nonzero(mv.price[first:, self.group] >= 0)
        cols = np.flatnonzero(self.group)[offers]
        m = self.market
        presence = pd.DataFrame(
            {
                "ts": pd.to_datetime(mv.times[first:][rows], unit="s", utc=True),
                "offer_key": pd.Categorical.from_codes(cols, categories=self._key_cat),
                "configuration": m.configuration[cols],
                "datacenter": pd.Categorical.from_codes(
                    self._dc_codes[cols], categories=self._dc_cat
                ),
            }
        )
        rel = datacenter_longevity(offer_longevity(presence)) if len(presence) else None
        forecast, slope, week = self._price_trends(mv, first, rows, cols, now)
        self._trends = Trends(
            reliability=listing_stability(rel) if rel is not None else {},
            forecast=forecast,
            slope=slope,
            levels=self._levels,
            week_levels=week,
        )
        self._trends_at = now
        return self._trends

    def _offer_levels(self, mv: ReplayMarket, now: int) -> dict[str, tuple[Decimal, Decimal]]:
        """Each group offer's level over the last LEVEL_WINDOW (see analysis.levels)."""
        from optimizer.analysis.levels import LEVEL_WINDOW, offer_levels

        first = int(
            np.searchsorted(mv.times, now - int(LEVEL_WINDOW.total_seconds()), side="right")
        )
        rows, offers = np.nonzero(mv.price[first:, self.group] >= 0)
        if not len(rows):
            return {}
        cols = np.flatnonzero(self.group)[offers]
        obs = pd.DataFrame(
            {
                "ts": pd.to_datetime(mv.times[first:][rows], unit="s", utc=True),
                "offer_key": pd.Categorical.from_codes(cols, categories=self._key_cat),
                "price_usd": mv.price[first:][rows, cols].astype("float64") * self.per_day / 1e6,
            }
        )
        return offer_levels(obs, now=_dt(now))

    def _price_trends(
        self, mv: ReplayMarket, first: int, rows: np.ndarray, cols: np.ndarray, now: int
    ) -> tuple[dict[tuple[str, str], Decimal], dict[tuple[str, str], float], dict[str, Decimal]]:
        """Forecast and slope per (configuration, country), and each offer's week level, as
        `optimizer.cycle` computes them: `price_signals` and `week_levels` over the
        observations of the last 14 days up to now."""
        from optimizer.analysis import price_signals
        from optimizer.analysis.levels import week_levels

        if not len(rows):
            return {}, {}, {}
        m = self.market
        times = mv.times[first:]
        prices = mv.price[first:]
        caps = mv.capacity[first:]
        obs = pd.DataFrame(
            {
                "ts": pd.to_datetime(times[rows], unit="s", utc=True),
                "offer_key": pd.Categorical.from_codes(cols, categories=self._key_cat),
                "configuration": m.configuration[cols],
                "country": m.country[cols],
                "city": "",
                "datacenter": pd.Categorical.from_codes(
                    self._dc_codes[cols], categories=self._dc_cat
                ),
                "vcpu": m.vcpu[cols].astype("int64"),
                "ram_gb": m.ram_gb[cols].astype("int64"),
                "price_usd": prices[rows, cols].astype("float64") * self.per_day / 1e6,
                "capacity": caps[rows, cols].astype("int64"),
            }
        )
        forecast, slope = price_signals(obs, now=_dt(now + 1), since=_dt(now - TRENDS_WINDOW_S))
        return forecast, slope, week_levels(obs, now=_dt(now))

    def _offer(self, o: int, price: int, capacity: int) -> MarketOffer:
        key = (o, price, capacity)
        hit = self._cache.get(key)
        if hit is None:
            hit = replace(
                self.static[o], price=micros_to_usd(price * self.per_day), capacity=capacity
            )
            if len(self._cache) > 200_000:
                self._cache.clear()
            self._cache[key] = hit
        return hit

    def decide(self, view: StepView) -> list[Action]:
        m = self.market
        price_model = "market" if view.model.per_second else view.model.price_model
        if self.fleet.policy.price_model != price_model:
            policy = self.fleet.policy.model_copy(update={"price_model": price_model})
            self.fleet = self.fleet.model_copy(update={"policy": policy})
        now = view.now
        price = view.market.now_price
        cap = view.market.now_capacity
        listed = self.group & (price >= 0)
        # Offers dearer than every VM of a full, settled fleet can be neither a migration
        # target (cap < the VM's price) nor shadow one (same group, price <= cap), and no
        # deploy is due: leaving them out changes no decision, and saves most of the time.
        settled = sum(1 for v in view.vms if not v.being_replaced) >= view.instances and all(
            is_healthy(v.status) for v in view.vms
        )
        if self.prune and settled and view.vms:
            listed &= price <= max(v.price_micros for v in view.vms)
        offers = []
        for i in np.flatnonzero(listed):
            o = int(i)
            c = int(cap[o])
            eff = _UNLIMITED if c < 0 else max(c - view.usage.get(o, 0), 0)
            offers.append(self._offer(o, int(price[o]), eff))
        offers.sort(key=lambda x: x.offer_key)
        market = MarketView(offers=tuple(offers), taken_at=_dt(now))

        # what the journal would hold
        busy: set[str] = set()
        new_ids: set[str] = set()
        migrations = scaling = 0
        for a in view.pending:
            if isinstance(a, Migrate):
                busy.add(a.vm_id)
                migrations += 1
            else:
                scaling += 1
        for v in view.vms:
            if v.replacing is not None:  # launched by a migration not yet cut over
                new_ids.add(v.id)
                busy.add(v.replacing)
                migrations += 1
            elif is_launching(v.status):  # launched by a deploy, not yet Active
                new_ids.add(v.id)
                scaling += 1
            elif v.being_replaced:
                busy.add(v.id)
        # the journal's recent migrations: planned in the last epoch and not aborted
        self.recent = [
            (t, a) for t, a in self.recent if now - t < 86_400 and id(a) not in view.aborted
        ]
        in_flight = InFlight(
            busy=frozenset(busy),
            new_vm_ids=frozenset(new_ids),
            scaling=scaling,
            migrations=migrations,
            recent_migrations=tuple(_dt(t) for t, _ in self.recent),
        )

        vms = []
        for v in view.vms:
            if v.being_replaced and v.replacing is None and v.id not in busy:
                continue  # scheduled for deletion: gone as far as the fleet is concerned
            at = v.offer
            vms.append(
                OwnedVm(
                    id=v.id,
                    name=f"{self.fleet.name}-{v.id}",
                    status=v.status,
                    price=micros_to_usd(v.price_micros * self.per_day),
                    next_billing_at=None if view.model.per_second else _dt(v.next_billing_at),
                    created_at=_dt(v.deployed_at),
                    datacenter=str(m.datacenter[at]) or f"{m.country[at]}-?-{at}",
                    country=str(m.country[at]),
                    vcpu=int(m.vcpu[at]) if m.vcpu[at] > 0 else None,
                    ram_gb=int(m.ram_gb[at]) if m.ram_gb[at] > 0 else None,
                    reserved_balance=Decimal(0)
                    if view.model.per_second
                    else micros_to_usd(v.price_micros * view.model.reserve_epochs),
                    offer_key=str(m.keys[at]),
                )
            )
        spend = sum((x.price or Decimal(0) for x in vms), Decimal(0))
        budget = BudgetState(
            cap_per_epoch=self.fleet.budget.max_usd_per_epoch, spend_per_epoch=spend
        )
        plan = plan_fleet(
            self.fleet,
            vms,
            market,
            self.trends(view),
            budget,
            LaunchStats(lead_time=timedelta(seconds=view.model.lead_time_s)),
            now=_dt(now),
            mode="act",
            in_flight=in_flight,
            billing=view.model.billing,
        )
        self.last_plan = plan
        return self._translate(plan.actions, now)

    def _target(self, action: object) -> np.ndarray | None:
        """The offers the action's constraints allow (configuration and country; the
        planner narrows to one group; the price cap is applied separately)."""
        c = getattr(action, "constraints", None)
        if c is None:
            return None
        m = self.market
        mask = np.ones(m.n_offers, dtype=bool)
        if c.basic_configuration:
            mask &= m.configuration == c.basic_configuration
        if c.datacenter is not None and c.datacenter.countries:
            mask &= np.isin(m.country, c.datacenter.countries)
        return mask

    def _translate(self, actions: Sequence[PlanAction], now: int) -> list[Action]:
        out: list[Action] = []
        for a in actions:
            cap = to_micros(a.cap) // self.per_day if a.cap is not None else None
            if a.kind == "deploy":
                out.append(
                    Deploy(1, self._target(a), cap, reason=a.reason, not_before=_ts(a.not_before))
                )
            elif a.kind == "migrate" and a.vm_id is not None:
                mig = Migrate(
                    a.vm_id,
                    self._target(a),
                    cap,
                    cutover_at=_ts(a.cutover_at),
                    reason=a.reason,
                    not_before=_ts(a.not_before),
                )
                self.recent.append((now, mig))
                out.append(mig)
            elif a.kind in ("delete", "finalize") and a.vm_id is not None:
                out.append(Delete(a.vm_id, reason=a.reason))
            elif a.kind == "replace_stuck" and a.vm_id is not None:
                out.append(Delete(a.vm_id, reason=a.reason))
                out.append(Deploy(1, self._target(a), cap, reason=a.reason))
        return out


def planner_policies(
    fleet: FleetConfig, market: Market, policy_sets: dict[str, FleetPolicy]
) -> tuple[dict[str, Policy], list[str]]:
    """(name → policy, notes): the planner with the fleet's own policy as "planner", plus
    one planner per policy set (the fleet with that `[policy]`)."""
    pols: dict[str, Policy] = {"planner": PlannerPolicy("planner", fleet, market)}
    for name, pol in policy_sets.items():
        pols[name] = PlannerPolicy(name, fleet.model_copy(update={"policy": pol}), market)
    return pols, []
