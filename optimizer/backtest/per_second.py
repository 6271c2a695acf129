"""The hindsight optimum and the lower bound under per-second billing (billing.py).

Per second there are no billing times: a VM on offer o from τ to τ' costs
I_o(τ') − I_o(τ), where I_o integrates the offer's recorded price over time. A VM's life
is a chain of make-before-break segments: the segment started at τ_i on offer o_i runs
until its successor, started at τ_{i+1}, is Active (τ_{i+1} + lead, or the run's end),
plus the disruption cost per migration.

Why the program is exact although a policy may start a move at any second (journaled
actions, `not_before`): fix every start but τ_i. Its cost is
I_{o_{i−1}}(τ_i + lead) − I_{o_i}(τ_i) + constant, piecewise linear in τ_i, with
breakpoints where a price changes under either term (a snapshot time t, or t − lead);
where τ_i may start is decided by the snapshot it falls in (listed, price cap, recorded
capacity) and by the fleet's other VMs (their starts and deletes, and deploys our VM
would leave no room for). Over whole seconds a linear piece is minimised at one of its
ends, so some optimal schedule starts every segment at a "candidate" second: a snapshot
time, the second before one, those shifted back by the lead time, the same around the
run's end and around the other VMs' events (`_candidates`). (A segment squeezed to
nothing is dropped, which costs nothing more.) The program is then a shortest path over
candidate seconds, O(candidates × offers): for each offer it keeps the best
"g[i] − I_o(τ_i)" of the segments that could still be running, so a segment ending at
stop costs that plus I_o(stop).

One VM with recorded capacity is exact. A fleet is planned VM by VM, each around the
VMs planned before it, as for the epoch models: exact when our own VMs never compete for
an offer's last free slots; otherwise a feasible schedule (an upper bound), and
`lower_bound` (each VM planned alone, × instances) is the other side.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from optimizer.backtest.billing import BillingModel
from optimizer.backtest.prices import Market
from optimizer.backtest.replay import FleetMatch

_INF = float("inf")
#: passes over the fleet's VMs when they may compete for capacity (see optimum_per_second)
ROUNDS = 3


@dataclass(frozen=True)
class Span:
    """One planned segment: offer (column of the market), start second, delete second
    (exclusive), and the second it stops counting toward its datacenter's limit."""

    offer: int
    start: int
    stop: int
    replaced_at: int


def _candidates(times: np.ndarray, end: int, lead: int, events: np.ndarray) -> np.ndarray:
    """The seconds a segment may start at in some optimal schedule (module docstring)."""
    marks = np.concatenate((times, [end], events))
    parts = [marks, marks - 1, marks - lead, marks - lead - 1, events + 1, events - lead + 1]
    out = np.unique(np.concatenate(parts).astype(np.int64))
    kept: np.ndarray = out[(out >= times[0]) & (out < end)]
    return kept


def _occupancy(spans: list[Span], T: np.ndarray, n_cols: int) -> np.ndarray:
    """(len(T), cols): how many of `spans` occupy each offer at each candidate second
    (from start, inclusive, to stop, exclusive)."""
    diff = np.zeros((len(T) + 1, n_cols), dtype=np.int64)
    for sp in spans:
        a = int(np.searchsorted(T, sp.start, side="left"))
        b = int(np.searchsorted(T, sp.stop, side="left"))
        diff[a, sp.offer] += 1
        diff[b, sp.offer] -= 1
    return np.cumsum(diff[:-1], axis=0)


def _count_at(spans: list[Span], offer: int, t: int) -> int:
    return sum(1 for sp in spans if sp.offer == offer and sp.start <= t < sp.stop)


def _blocks(spans: list[Span], capacity_at: np.ndarray, n_cols: int) -> list[np.ndarray]:
    """Per offer: the seconds at which another VM deploys there with no room left for one
    more (ours, if it were there): a segment of ours may not span them."""
    out: list[list[int]] = [[] for _ in range(n_cols)]
    for sp, cap in zip(spans, capacity_at, strict=True):
        if cap >= 0 and _count_at(spans, sp.offer, sp.start) + 1 > cap:
            out[sp.offer].append(sp.start)
    return [np.array(sorted(b), dtype=np.int64) for b in out]


def _program(
    T: np.ndarray,
    avail: np.ndarray,
    I_t: np.ndarray,
    I_stop: np.ndarray,
    I_end: np.ndarray,
    stops: np.ndarray,
    end: int,
    blocks: list[np.ndarray],
    disruption: float,
) -> tuple[float, list[tuple[int, int]]]:
    """Shortest chain of segments over candidate seconds T (module docstring); returns
    (cost, [(candidate index, offer column)...]) or (inf, []) when no offer is ever
    available. Costs are in price × seconds."""
    M, n_offers = avail.shape
    first_rows = np.flatnonzero(avail.any(axis=1))
    if not len(first_rows):
        return _INF, []
    first = int(first_rows[0])
    # block bookkeeping per (candidate, offer): a block in (T[k-1], T[k]] resets the
    # running minimum when k is added; one in (T[k-1], stop_k) voids the query at k; one
    # exactly at T[k] forbids starting there
    prev = np.concatenate(([T[0] - 1], T[:-1]))
    reset = np.zeros((M, n_offers), dtype=bool)
    killed = np.zeros((M, n_offers), dtype=bool)
    at = np.zeros((M, n_offers), dtype=bool)
    killed_end = np.zeros(n_offers, dtype=bool)
    for o, b in enumerate(blocks):
        if not len(b):
            continue
        le_prev = np.searchsorted(b, prev, side="right")
        le_now = np.searchsorted(b, T, side="right")
        reset[:, o] = le_now > le_prev
        killed[:, o] = np.searchsorted(b, stops, side="left") > le_prev
        at[:, o] = le_now > np.searchsorted(b, T, side="left")
        killed_end[o] = np.searchsorted(b, end, side="left") > np.searchsorted(b, T[-1], "right")
    start_ok = avail & ~at
    g = np.full(M, _INF)
    pred = np.full(M, -1, dtype=np.int64)
    pred_o = np.full(M, -1, dtype=np.int64)
    R = np.full(n_offers, _INF)  # best g[i] − I_o(T[i]) of segments that may still run on o
    R_arg = np.full(n_offers, -1, dtype=np.int64)
    g[first] = 0.0
    for k in range(first, M):
        if k > first and start_ok[k].any():
            val = R + I_stop[k]
            val[killed[k]] = _INF
            o = int(np.argmin(val))
            if val[o] < _INF:
                g[k], pred[k], pred_o[k] = val[o] + disruption, R_arg[o], o
        r = reset[k]
        if r.any():
            R[r], R_arg[r] = _INF, -1
        if g[k] < _INF:
            v = np.where(start_ok[k], g[k] - I_t[k], _INF)
            better = v < R
            R[better], R_arg[better] = v[better], k
    val = R + I_end
    val[killed_end] = _INF
    o = int(np.argmin(val))
    if not val[o] < _INF:
        return _INF, []
    chain = [(int(R_arg[o]), o)]
    k = int(R_arg[o])
    while pred[k] >= 0:
        chain.append((int(pred[k]), int(pred_o[k])))
        k = int(pred[k])
    return float(val[o]), chain[::-1]


@dataclass
class _Fleet:
    """What the VM-by-VM planning shares: the fleet's offers and their data."""

    market: Market
    match: FleetMatch
    model: BillingModel
    end: int
    cols: np.ndarray
    times: np.ndarray  # snapshots before the end

    def plan_one(
        self,
        others: list[Span],
        forbid: frozenset[tuple[int, int]] = frozenset(),
        with_capacity: bool = True,
    ) -> tuple[float, list[Span]]:
        """The cheapest chain for one VM around `others` (their capacity use and blocks;
        ignored without `with_capacity`, which also drops the datacenter limit).
        `forbid`: (second, column) starts not to use."""
        m, cols, lead, end = self.market, self.cols, self.model.lead_time_s, self.end
        events = np.array(
            sorted({t for sp in others for t in (sp.start, sp.stop, sp.replaced_at)}),
            dtype=np.int64,
        )
        if not with_capacity:
            events = np.zeros(0, dtype=np.int64)
        T = _candidates(self.times, end, lead, np.concatenate((events, [t for t, _ in forbid])))
        rows = np.searchsorted(m.times, T, side="right") - 1
        price = m.price[rows][:, cols]
        avail = price >= 0
        if self.match.max_price_micros is not None:
            avail &= price <= self.match.max_price_micros
        cap = m.capacity[rows][:, cols]
        used = _occupancy(others, T, len(cols)) if with_capacity else 0
        avail &= (cap < 0) | (used + 1 <= cap)
        blocks: list[np.ndarray] = [np.zeros(0, dtype=np.int64)] * len(cols)
        if with_capacity and others:
            cap_at = np.array(
                [m.capacity[m.step_at(sp.start), cols[sp.offer]] for sp in others], dtype=np.int64
            )
            blocks = _blocks(others, cap_at, len(cols))
            avail &= self._datacenter_room(others, T)
        for t, c in forbid:
            k = int(np.searchsorted(T, t))
            if k < len(T) and T[k] == t:
                avail[k, c] = False
        stops = np.minimum(T + lead, end)
        cost, chain = _program(
            T,
            avail,
            m.integral_at(T, cols).astype(np.float64),
            m.integral_at(stops, cols).astype(np.float64),
            m.integral_at(end, cols).astype(np.float64),
            stops,
            end,
            blocks,
            float(self.model.disruption_cost_micros * self.model.scale(m)),
        )
        spans = []
        for i, (k, c) in enumerate(chain):
            nxt = int(T[chain[i + 1][0]]) if i + 1 < len(chain) else end
            spans.append(Span(c, int(T[k]), min(nxt + lead, end), nxt))
        return cost, spans

    def cost(self, spans: list[Span]) -> float:
        """What a chain costs: each segment's price over its life, plus the disruption
        cost per migration (price × seconds)."""
        m, cols = self.market, self.cols
        run = sum(float(m.cost_between(int(cols[sp.offer]), sp.start, sp.stop)) for sp in spans)
        return run + (len(spans) - 1) * float(
            self.model.disruption_cost_micros * self.model.scale(m)
        )

    def static_start(self, n: int) -> list[list[Span]]:
        """Never moving: each VM on the cheapest offer with room at the first snapshot
        (the static baseline's placement), one segment to the end; [] where none fits."""
        m, cols, t0 = self.market, self.cols, int(self.times[0])
        plans: list[list[Span]] = []
        for _ in range(n):
            others = [sp for p in plans for sp in p]
            T = np.array([t0], dtype=np.int64)
            price = m.price[0, cols]
            ok = (price >= 0) & (
                (m.capacity[0, cols] < 0)
                | (_occupancy(others, T, len(cols))[0] + 1 <= m.capacity[0, cols])
            )
            if self.match.max_price_micros is not None:
                ok &= price <= self.match.max_price_micros
            ok &= self._datacenter_room(others, T)[0]
            if not ok.any():
                plans.append([])
                continue
            c = int(np.argmin(np.where(ok, price, np.iinfo(np.int64).max)))
            plans.append([Span(c, t0, self.end, self.end)])
        return plans

    def _datacenter_room(self, others: list[Span], T: np.ndarray) -> np.ndarray:
        """(T, cols): whether the fleet's per-datacenter limit leaves room for one more VM
        (VMs already being replaced do not count, as in the executor)."""
        limit, dc = self.match.max_per_datacenter, self.match.dc
        if limit is None or dc is None:
            return np.ones((len(T), len(self.cols)), dtype=bool)
        codes = np.unique(dc[self.cols], return_inverse=True)[1]
        live = [Span(int(codes[sp.offer]), sp.start, sp.replaced_at, sp.replaced_at)
                for sp in others]  # fmt: skip
        per_dc = _occupancy(live, T, int(codes.max()) + 1)
        ok: np.ndarray = per_dc[:, codes] + 1 <= limit
        return ok


def optimum_per_second(
    market: Market,
    match: FleetMatch,
    model: BillingModel,
    end: int,
    forbid: frozenset[tuple[int, int, int]] = frozenset(),
) -> tuple[int, list[list[Span]], np.ndarray]:
    """(total in price × seconds, per-VM spans, the fleet's offer columns): the cheapest
    schedule VM by VM (module docstring). `forbid`: (VM slot, start second, market offer)."""
    steps = int(np.searchsorted(market.times, end, side="left"))
    cols = np.flatnonzero(match.mask)
    fleet = _Fleet(market, match, model, end, cols, market.times[:steps])
    local = {int(o): i for i, o in enumerate(cols)}
    n = match.instances
    cap = market.capacity[:steps, cols]
    listed = market.price[:steps, cols] >= 0
    # our VMs compete when an offer may lack room for all of them plus a replacement
    contended = n > 1 and (
        bool(((cap >= 0) & (cap <= n) & listed).any()) or match.max_per_datacenter is not None
    )
    best: tuple[float, list[list[Span]]] = (_INF, [])
    # competing, the VMs are planned from nothing and, again, from never moving (the
    # static placement); each start is re-planned VM by VM around the others for a few
    # rounds, keeping a VM's cheaper chain; the cheaper fleet wins
    starts: list[list[list[Span]]] = [[[] for _ in range(n)]]
    if contended:
        starts.append(fleet.static_start(n))
    for plans in starts:
        costs = [fleet.cost(p) if p else _INF for p in plans]
        for rnd in range(ROUNDS if contended else 1):
            for slot in range(n):
                mine = frozenset((t, local[o]) for s, t, o in forbid if s == slot and o in local)
                others = [sp for k, p in enumerate(plans) if k != slot for sp in p]
                cost, spans = fleet.plan_one(others, mine)
                if cost < costs[slot] or (rnd == 0 and not plans[slot]):
                    plans[slot], costs[slot] = spans, cost
        total = sum(0.0 if c == _INF else c for c in costs)
        if total < best[0]:
            best = (total, plans)
    return round(best[0]), best[1], cols


def bound_per_second(market: Market, match: FleetMatch, model: BillingModel, end: int) -> int:
    """A lower bound: one VM planned alone (recorded capacity of at least one, no other VM
    of ours, no datacenter limit) — exact for it —, times the fleet's size."""
    steps = int(np.searchsorted(market.times, end, side="left"))
    if steps == 0:
        return 0
    cols = np.flatnonzero(match.mask)
    fleet = _Fleet(market, match, model, end, cols, market.times[:steps])
    cost, _ = fleet.plan_one([], with_capacity=False)
    return 0 if cost == _INF else match.instances * round(cost)
