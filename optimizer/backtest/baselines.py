"""Baselines every backtest is measured against.

- `StaticPolicy`: deploy on the cheapest matching offers at the start, never move.
- `GreedyPolicy`: move a VM whenever any matching offer is cheaper at all, right away.
- `hindsight_optimum`: the cheapest schedule knowing the whole future, under the same
  billing model (billing.py) and migration model (make-before-break: the old VM is
  deleted when its replacement is Active, plus the disruption cost per migration).

The optimum is a dynamic program per VM over snapshot steps. A VM's life is a chain of
segments; a segment deployed at step j on offer o and deleted when the next segment's VM
becomes Active (t_k + lead) costs its charges (billing.BillingModel.charges_between).
g[k] = min_j g[j] + cost(segment j → k) + disruption, with the first deploy at the first
step that has an offer. Under the `deal` model the cheapest eligible offer at j is always
the best choice for a segment starting at j, so the program is O(steps²); under `market`
each start j compares every offer's cumulative cost over the epochs that follow
(O(steps × offers × epochs)). Capacity is respected VM by VM, under both price models:
each VM's schedule uses up recorded capacity for the ones planned after it, and a
segment may not sit on an offer when an earlier-planned VM deploys there with no room
left (exact when capacity does not bind; otherwise a feasible schedule, an upper bound).
Under per-second billing the program is per_second.py's, exact over every start second.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from optimizer.backtest.billing import BillingModel
from optimizer.backtest.per_second import optimum_per_second
from optimizer.backtest.prices import Market
from optimizer.backtest.replay import (
    Action,
    Deploy,
    FleetMatch,
    Migrate,
    StepView,
    shortfall,
)
from optimizer.fluence.status import is_healthy

_INF = float("inf")
#: passes over the VMs when capacity binds (a second one re-plans each VM around the
#: others; it found nothing better on the benchmark markets, so one is the default)
CAPACITY_ROUNDS = 1


class StaticPolicy:
    """Cheapest offers at the start; afterwards only replaces missing VMs."""

    name = "static"

    def decide(self, view: StepView) -> list[Action]:
        n = shortfall(view)
        return [Deploy(n, reason="fleet below its size", diversify=True)] if n else []


class GreedyPolicy:
    """Move any Active VM as soon as a matching offer is cheaper than what it pays."""

    name = "greedy"

    def decide(self, view: StepView) -> list[Action]:
        acts: list[Action] = []
        n = shortfall(view)
        if n:
            acts.append(Deploy(n, reason="fleet below its size", diversify=True))
        best = view.cheapest()
        if best is None:
            return acts
        best_price = int(view.market.now_price[best])
        for v in view.vms:
            if not is_healthy(v.status) or v.being_replaced or v.replacing is not None:
                continue
            if best_price < v.price_micros:
                acts.append(
                    Migrate(
                        v.id,
                        max_price_micros=v.price_micros - 1,
                        reason="cheaper offer",
                        diversify=True,
                    )
                )
        return acts


@dataclass(frozen=True)
class Segment:
    step: int  # deploy at market.times[step]
    offer: int
    at: int | None = None  # per second: deploy at this second (in snapshot `step`'s interval)


@dataclass(frozen=True)
class Optimum:
    total_micros: int
    schedules: tuple[tuple[Segment, ...], ...]  # one chain of segments per VM

    @property
    def migrations(self) -> int:
        return sum(max(0, len(s) - 1) for s in self.schedules)


def hindsight_optimum(  # noqa: C901 — one coordinate-descent loop over VM slots whose state is
    # the shared usage/deploy matrices and the `mark` closure; split, each part would take them all
    market: Market,
    match: FleetMatch,
    model: BillingModel,
    end: int | None = None,
    forbid: frozenset[tuple[int, int, int]] = frozenset(),
) -> Optimum:
    """The cheapest make-before-break schedule for `match.instances` VMs over the whole
    history (see the module docstring). Decisions are on snapshot steps before `end`.
    `forbid`: (vm slot, step, offer) deploys the program must not use (see
    `ScheduledPolicy.failed`; per second: (vm slot, second, offer))."""
    end = int(market.times[-1]) if end is None else end
    if model.per_second:
        return _optimum_per_second(market, match, model, end, forbid)
    steps = int(np.searchsorted(market.times, end, side="left"))
    times = market.times[:steps]
    cols = np.flatnonzero(match.mask)  # work on the fleet's offers only
    local = {int(o): i for i, o in enumerate(cols)}
    price = market.price[:steps, cols]
    capacity = market.capacity[:steps, cols]
    usage = np.zeros((steps, len(cols)), dtype=np.int64)
    deploys = np.zeros((steps, len(cols)), dtype=np.int64)
    limit = match.max_per_datacenter
    dc = (
        np.unique(match.dc[cols], return_inverse=True)[1]
        if limit is not None and match.dc is not None
        else None
    )
    dc_usage = np.zeros((steps, int(dc.max()) + 1 if dc is not None else 0), dtype=np.int64)
    has_cap = bool((capacity >= 0).any())
    n = match.instances
    chains: list[list[Segment] | None] = [None] * n
    costs = [0] * n

    def mark(chain: list[Segment] | None, sign: int) -> None:
        for i, seg in enumerate(chain or ()):
            stop = (
                int(times[chain[i + 1].step]) + model.lead_time_s  # type: ignore[index]
                if i + 1 < len(chain)  # type: ignore[arg-type]
                else end
            )
            live = (times >= times[seg.step]) & (times < stop)
            usage[live, seg.offer] += sign
            deploys[seg.step, seg.offer] += sign
            if dc is not None:
                dc_usage[live, dc[seg.offer]] += sign

    # VM by VM; when capacity binds, a second round re-plans each VM around the others
    rounds = CAPACITY_ROUNDS if (has_cap or dc is not None) and n > 1 else 1
    for rnd in range(rounds):
        for slot in range(n):
            mark(chains[slot], -1)
            avail = price >= 0
            if match.max_price_micros is not None:
                avail &= price <= match.max_price_micros
            block = None
            if dc is not None and limit is not None:
                avail &= dc_usage[:, dc] + 1 <= limit
            for f_slot, f_step, f_offer in forbid:
                if f_slot == slot and f_step < steps and f_offer in local:
                    avail[f_step, local[f_offer]] = False
            if has_cap:
                avail &= (capacity < 0) | (usage + 1 <= capacity)
                # a VM alive on o when another VM deploys there must leave it room
                block = _next_block(times, (deploys > 0) & (capacity >= 0) & (usage + 1 > capacity))
            if model.price_model == "deal":
                cost, chain = _dp_deal(times, price, avail, model, end, block)
            else:
                ff = market.ffill_price[:, cols]
                cost, chain = _dp_market(market.times, ff, times, avail, model, end, block)
            if rnd == 0 or (chain is not None and cost < costs[slot]):
                chains[slot], costs[slot] = chain, cost
            mark(chains[slot], +1)
    schedules = [
        tuple(Segment(sg.step, int(cols[sg.offer])) for sg in c) if c else () for c in chains
    ]
    total = sum(costs)
    return Optimum(int(total), tuple(schedules))


def _optimum_per_second(
    market: Market,
    match: FleetMatch,
    model: BillingModel,
    end: int,
    forbid: frozenset[tuple[int, int, int]],
) -> Optimum:
    total, plans, cols = optimum_per_second(market, match, model, end, forbid)
    schedules = tuple(
        tuple(Segment(market.step_at(sp.start), int(cols[sp.offer]), sp.start) for sp in p)
        for p in plans
    )
    return Optimum(total, schedules)


def _n_charges(model: BillingModel, start: int, stop: np.ndarray, end: int) -> np.ndarray:
    s = np.minimum(stop, end) - start
    return np.where(s > 0, -(-s // model.epoch_s), 0)


def _next_block(times: np.ndarray, blocking: np.ndarray) -> np.ndarray:
    """nb[j, o]: time of the first blocking deploy on o strictly after step j (max int64
    when none). A segment started at j on o and deleted at e is valid iff nb[j, o] >= e."""
    S = len(times)
    never = np.iinfo(np.int64).max
    at = np.where(blocking, times[:, None], never)
    nb = np.full_like(at, never)
    # reverse running minimum of event times, shifted by one step
    rev = np.minimum.accumulate(at[::-1], axis=0)[::-1]
    nb[: S - 1] = rev[1:]
    return nb


def _best_for(
    e: np.ndarray, nb_sorted: np.ndarray, pm: np.ndarray, am: np.ndarray, offers: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """For each segment end in `e`: the cheapest price (and its offer) among offers whose
    next blocking deploy is not before that end. Offers are sorted longest-valid first;
    pm/am are the running minimum price and its position."""
    cnt = np.searchsorted(-nb_sorted, -e, side="right")  # offers with nb >= e
    val = np.where(cnt > 0, pm[np.maximum(cnt - 1, 0)], _INF)
    return val, offers[am[np.maximum(cnt - 1, 0)]]


def _dp_deal(
    times: np.ndarray,
    price: np.ndarray,
    avail: np.ndarray,
    model: BillingModel,
    end: int,
    block: np.ndarray | None = None,
) -> tuple[int, list[Segment] | None]:
    S = len(times)
    big = np.iinfo(np.int64).max
    masked = np.where(avail, price, big)
    best_o = np.argmin(masked, axis=1)
    p = masked[np.arange(S), best_o].astype(np.float64)
    p[p >= big] = _INF
    finite = np.isfinite(p)
    if not finite.any():
        return 0, None
    first = int(np.argmax(finite))
    g = np.full(S, _INF)
    pred = np.full(S, -1, dtype=np.int64)
    pred_o = np.full(S, -1, dtype=np.int64)  # offer of the segment that ends at k
    g[first] = 0.0
    D = float(model.disruption_cost_micros)
    best_total, best_last, best_last_o = _INF, -1, -1
    stops = np.minimum(times + model.lead_time_s, end)
    for j in range(first, S):
        if not np.isfinite(g[j]) or not finite[j]:
            continue
        t0 = int(times[j])
        if block is None or not (block[j][avail[j]] < end).any():
            # no capacity interplay: the cheapest offer at j serves every segment end
            pj_end, oj_end = p[j], int(best_o[j])
            pk = np.full(S - j - 1, p[j])
            ok = np.full(S - j - 1, int(best_o[j]))
        else:
            offers = np.flatnonzero(avail[j])
            nb = block[j, offers]
            order = np.argsort(-nb, kind="stable")  # longest-valid first
            nb_sorted = nb[order]
            pr = price[j, offers[order]].astype(np.float64)
            pm = np.minimum.accumulate(pr)
            new_min = np.empty(len(pr), dtype=bool)
            new_min[0] = True
            new_min[1:] = pr[1:] < pm[:-1]
            am = np.maximum.accumulate(np.where(new_min, np.arange(len(pr)), 0))

            v_end, o_end = _best_for(np.array([end]), nb_sorted, pm, am, offers[order])
            pj_end, oj_end = float(v_end[0]), int(o_end[0])
            pk, ok = _best_for(stops[j + 1 :], nb_sorted, pm, am, offers[order])
        if np.isfinite(pj_end):
            fin = g[j] + pj_end * float(model.charges_between(t0, end, end))
            if fin < best_total:
                best_total, best_last, best_last_o = fin, j, oj_end
        if j + 1 < S:
            n = _n_charges(model, t0, stops[j + 1 :], end)
            cand = g[j] + pk * n + D
            cand[~finite[j + 1 :]] = _INF
            better = cand < g[j + 1 :]
            g[j + 1 :][better] = cand[better]
            pred[j + 1 :][better] = j
            pred_o[j + 1 :][better] = ok[better]
    if best_last < 0:
        return 0, None
    chain = [Segment(best_last, best_last_o)]
    k = best_last
    while pred[k] >= 0:
        chain.append(Segment(int(pred[k]), int(pred_o[k])))
        k = int(pred[k])
    return round(best_total), chain[::-1]


def _dp_market(
    all_times: np.ndarray,
    ff: np.ndarray,
    times: np.ndarray,
    avail: np.ndarray,
    model: BillingModel,
    end: int,
    block: np.ndarray | None = None,
) -> tuple[int, list[Segment] | None]:
    S = len(times)
    any_avail = np.asarray(avail.any(axis=1))
    if not any_avail.any():
        return 0, None
    first = int(np.argmax(any_avail))
    g = np.full(S, _INF)
    pred = np.full(S, -1, dtype=np.int64)
    pred_o = np.full(S, -1, dtype=np.int64)
    g[first] = 0.0
    D = float(model.disruption_cost_micros)
    best_total, best_last, best_last_o = _INF, -1, -1
    stops = times + model.lead_time_s
    for j in range(first, S):
        if not np.isfinite(g[j]) or not any_avail[j]:
            continue
        t0 = int(times[j])
        m_max = model.charges_between(t0, end, end)
        offers = np.flatnonzero(avail[j])
        charge_t = t0 + model.epoch_s * np.arange(m_max, dtype=np.int64)
        rows = np.searchsorted(all_times, charge_t, side="right") - 1
        rows[0] = j  # the first charge is the deploy price
        cum = np.cumsum(ff[np.ix_(rows, offers)].astype(np.float64), axis=0)  # (m, offers)
        if block is not None and (block[j, offers] < end).any():
            # capacity interplay: an offer is valid for a segment only until another of
            # our VMs deploys there with no room left (see _next_block)
            _market_step_blocked(j, g, pred, pred_o, cum, offers, block[j, offers], model, end,
                                 times, stops, any_avail, D)  # fmt: skip
            nb = block[j, offers]
            ok = nb >= end
            if ok.any():
                last = np.where(ok, cum[-1], _INF)
                o_end = int(np.argmin(last))
                if g[j] + last[o_end] < best_total:
                    best_total, best_last, best_last_o = g[j] + last[o_end], j, int(offers[o_end])
            continue
        arg = np.argmin(cum, axis=1)
        best = cum[np.arange(m_max), arg]  # best[m-1]: cheapest m charges from j
        fin = g[j] + best[-1]
        if fin < best_total:
            best_total, best_last, best_last_o = fin, j, int(offers[arg[-1]])
        if j + 1 < S:
            n = _n_charges(model, t0, stops[j + 1 :], end)
            cand = g[j] + best[n - 1] + D
            cand[~any_avail[j + 1 :]] = _INF
            better = cand < g[j + 1 :]
            g[j + 1 :][better] = cand[better]
            pred[j + 1 :][better] = j
            pred_o[j + 1 :][better] = offers[arg[n[better] - 1]]
    chain = [Segment(best_last, best_last_o)]
    k = best_last
    while pred[k] >= 0:
        chain.append(Segment(int(pred[k]), int(pred_o[k])))
        k = int(pred[k])
    return round(best_total), chain[::-1]


def _market_step_blocked(
    j: int,
    g: np.ndarray,
    pred: np.ndarray,
    pred_o: np.ndarray,
    cum: np.ndarray,
    offers: np.ndarray,
    nb: np.ndarray,
    model: BillingModel,
    end: int,
    times: np.ndarray,
    stops: np.ndarray,
    any_avail: np.ndarray,
    D: float,
) -> None:
    """One step of the market program from start j when capacity binds: a segment
    ending at stop_k may use only offers whose next blocking deploy is not before
    stop_k. Offers sorted longest-valid first, so each stop's valid offers are a prefix."""
    S = len(times)
    if j + 1 >= S:
        return
    order = np.argsort(-nb, kind="stable")
    nb_sorted = nb[order]
    cs = cum[:, order]
    pm = np.minimum.accumulate(cs, axis=1)  # (m, prefix): cheapest among the first offers
    stop = np.minimum(stops[j + 1 :], end)
    n = _n_charges(model, int(times[j]), stops[j + 1 :], end)
    cnt = np.searchsorted(-nb_sorted, -stop, side="right")  # offers with nb >= stop
    val = np.where(cnt > 0, pm[n - 1, np.maximum(cnt - 1, 0)], _INF)
    cand = g[j] + val + D
    cand[~any_avail[j + 1 :]] = _INF
    better = np.flatnonzero(cand < g[j + 1 :])
    for i in better:
        k = j + 1 + int(i)
        g[k] = cand[i]
        pred[k] = j
        pred_o[k] = offers[order[int(np.argmin(cs[n[i] - 1, : cnt[i]]))]]


class ScheduledPolicy:
    """Follows precomputed per-VM schedules (used to replay the hindsight optimum through
    the same simulated executor and billing as every other policy)."""

    name = "optimum"

    def __init__(self, market: Market, optimum: Optimum) -> None:
        self.starts: dict[int, list[tuple[int, int]]] = {}
        for slot, chain in enumerate(optimum.schedules):
            for i, seg in enumerate(chain):
                self.starts.setdefault(seg.step, []).append((slot, i))
        self.optimum = optimum
        self.n = market.n_offers
        self.issued: dict[int, tuple[int, int, int]] = {}  # id(action) → (slot, step, offer)
        self.keep: list[Action] = []

    def failed(self, aborted: set[int]) -> frozenset[tuple[int, int, int]]:
        """The (slot, step, offer) deploys the executor could not make (capacity taken by
        the VM's own predecessor on the same offer, or by another VM); per second
        (slot, second, offer)."""
        return frozenset(v for k, v in self.issued.items() if k in aborted)

    def decide(self, view: StepView) -> list[Action]:
        acts: list[Action] = []
        current = {v.tag: v for v in view.vms if not v.being_replaced}
        for slot, i in self.starts.get(view.step, []):
            seg = self.optimum.schedules[slot][i]
            only = np.zeros(self.n, dtype=bool)
            only[seg.offer] = True
            a: Action
            # per second a segment may start between snapshots: journaled until then
            later = seg.at if seg.at is not None and seg.at > view.now else None
            if i == 0:
                a = Deploy(
                    1, offers=only, tag=slot, reason="optimum", diversify=True, not_before=later
                )
            elif seg.at is not None:  # the slot's VM when the move runs (maybe not yet up)
                a = Migrate(
                    "", offers=only, reason="optimum", diversify=True, not_before=later, tag=slot
                )
            elif slot in current:
                a = Migrate(current[slot].id, offers=only, reason="optimum", diversify=True)
            else:
                continue
            key = seg.step if seg.at is None else seg.at
            self.issued[id(a)] = (slot, key, seg.offer)
            self.keep.append(a)
            acts.append(a)
        return acts
