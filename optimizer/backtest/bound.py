"""A lower bound on what any policy can pay over a history: no schedule beats it.

Why a bound and not only the optimum: `baselines.hindsight_optimum` plans on snapshot
times, but a policy's journaled actions start at any time (`not_before`, e.g. a
billing-aligned start 15 min before a VM's charge, between two snapshots). Moving a start
inside a snapshot interval changes nothing about prices, but it shifts the VM's billing
phase: which charges fall before a cutover or the run's end and, under the `market`
model, which recorded price each later charge samples. So a policy can beat the
snapshot-time schedule by a few charges. The exact optimum over every start time is a
program over a lattice of times (snapshots ± whole epochs ± lead times) that grows with
the history and its irregularity; instead this module computes a relaxation that is
provably not above the cost of any schedule a replayed policy can carry out:

- every VM of the fleet runs from the first snapshot to the end (all policies deploy the
  fleet at once), as a chain of make-before-break segments: a segment started at τ on
  offer o is deleted at τ' + lead when its successor starts at τ' (or runs to the end);
- a start at any time τ in snapshot interval s = [t_s, t_s+1) pays, as the replay's
  account does, the offer's price known at τ (snapshot s) and is possible only on offers
  listed at s, matching, under the fleet's price cap and with recorded room for one VM;
- the segment's charge count N = #{m >= 0 : τ + m·epoch < stop} is replaced by its
  minimum over τ anywhere in interval s and τ' anywhere in interval s' (each segment's
  start chosen on its own, which is the relaxation), and each charge's price by the
  lowest price the offer had anywhere in that charge's window [t_s + m·epoch,
  t_s+1 + m·epoch) (market model; the deal model keeps the deploy price);
- recorded capacity beyond "room for one" and `max_per_datacenter` are dropped, so the
  VMs are independent and the fleet's bound is `instances` × one VM's.

Every real schedule is feasible for the relaxed problem at a cost at least its relaxed
cost, hence bound <= the cost of any schedule. The program runs over snapshot intervals
(O(steps² + steps × offers × epochs)), like the optimum's.

Per second there is no billing phase to relax: the bound is one VM's exact optimum over
every start second without the fleet's other VMs, × instances (per_second.py).
"""

from __future__ import annotations

import numpy as np

from optimizer.backtest.billing import BillingModel
from optimizer.backtest.per_second import bound_per_second
from optimizer.backtest.prices import Market
from optimizer.backtest.replay import FleetMatch

_INF = float("inf")


def lower_bound(
    market: Market, match: FleetMatch, model: BillingModel, end: int | None = None
) -> int:
    """A lower bound (micro-USD; per second micro-USD × `model.scale`) on the total cost
    of running `match.instances` VMs from the first snapshot to `end` under `model`,
    whatever the policy (module docstring)."""
    end = int(market.times[-1]) if end is None else end
    if model.per_second:
        return bound_per_second(market, match, model, end)
    steps = int(np.searchsorted(market.times, end, side="left"))
    if steps == 0:
        return 0
    cols = np.flatnonzero(match.mask)
    price = market.price[:steps, cols]
    cap = market.capacity[:steps, cols]
    avail = (price >= 0) & ((cap < 0) | (cap >= 1))
    if match.max_price_micros is not None:
        avail &= price <= match.max_price_micros
    one = _one_vm(market.times, market.ffill_price[:, cols], price, avail, steps, model, end)
    return match.instances * one


def _interval_bounds(times: np.ndarray, steps: int, end: int) -> tuple[np.ndarray, np.ndarray]:
    """(lo, hi) of the start-time intervals: state 0 is the first deploy, fixed at the
    first snapshot (lo = hi = t_0); state s+1 is "anywhere in [t_s, t_s+1)", the last one
    reaching `end`. hi is a supremum (not attained) except for state 0."""
    lo = np.empty(steps + 1, dtype=np.int64)
    hi = np.empty(steps + 1, dtype=np.int64)
    lo[0] = hi[0] = times[0]
    lo[1:] = times[:steps]
    hi[1:steps] = times[1:steps]
    hi[steps] = end
    return lo, hi


def _min_charges(x: np.ndarray, epoch: int, attained: bool) -> np.ndarray:
    """The fewest charges a segment of length > x (or = x when `attained`) pays:
    #{m >= 0 : m·epoch < length}, at least 1."""
    x = np.maximum(x, 0)
    out: np.ndarray = np.maximum(-(-x // epoch), 1) if attained else x // epoch + 1
    return out


def _one_vm(
    all_times: np.ndarray,
    ff: np.ndarray,
    price: np.ndarray,
    avail: np.ndarray,
    steps: int,
    model: BillingModel,
    end: int,
) -> int:
    times = all_times[:steps]
    lo, hi = _interval_bounds(times, steps, end)
    row = np.concatenate(([0], np.arange(steps)))  # snapshot whose prices a state sees
    n_states = steps + 1
    e, lead = model.epoch_s, model.lead_time_s
    D = float(model.disruption_cost_micros)
    g = np.full(n_states, _INF)
    g[0] = 0.0
    best_total = _INF
    # successor states s' > s (state 1 is interval 0 again, reachable from state 0 only)
    for s in range(n_states):
        if not np.isfinite(g[s]):
            continue
        offers = np.flatnonzero(avail[row[s]])
        if not len(offers):
            continue
        fixed = s == 0  # the first deploy's time is known exactly
        # charges possible at all: m·epoch < end − lo
        m_max = int(_min_charges(np.array([end - lo[s]]), e, True)[0])
        per_charge = _charge_floor(
            all_times, ff, price, row[s], lo[s], hi[s], m_max, offers, e, model
        )
        best = np.min(np.cumsum(per_charge, axis=0), axis=1)  # best[n-1]: n charges
        # to the end: length end − τ, τ < hi (or = lo when fixed)
        n_end = int(_min_charges(np.array([end - (lo[s] if fixed else hi[s])]), e, fixed)[0])
        best_total = min(best_total, g[s] + best[min(n_end, m_max) - 1])
        nxt = np.arange(s + 1, n_states)
        if not len(nxt):
            continue
        # successor starts at τ' >= lo[s'] (τ' > τ); stop = min(τ' + lead, end)
        stop = np.minimum(lo[nxt] + lead, end)
        # τ = lo[s] exactly when fixed (τ' = lo[s'] can be attained), else τ < hi[s]
        n = _min_charges(stop - (lo[s] if fixed else hi[s]), e, fixed)
        n = np.minimum(n, m_max)
        cand = g[s] + best[n - 1] + D
        g[nxt] = np.minimum(g[nxt], cand)
    if not np.isfinite(best_total):
        return 0
    return int(np.floor(best_total))


def _charge_floor(
    all_times: np.ndarray,
    ff: np.ndarray,
    price: np.ndarray,
    row: int,
    lo: int,
    hi: int,
    m_max: int,
    offers: np.ndarray,
    epoch: int,
    model: BillingModel,
) -> np.ndarray:
    """(m_max, offers): the lowest price each offer can charge at its m-th charge for a
    start in [lo, hi) (deal: the deploy price every time)."""
    p0 = price[row, offers].astype(np.float64)
    if model.price_model == "deal":
        return np.broadcast_to(p0, (m_max, len(offers)))
    m = np.arange(m_max, dtype=np.int64)
    # charge m happens in [lo + m·e, hi + m·e): rows from the snapshot at its start up
    # to the last snapshot strictly before its end
    first = np.searchsorted(all_times, lo + m * epoch, side="right") - 1
    last = (
        np.searchsorted(all_times, np.maximum(hi + m * epoch - 1, lo + m * epoch), side="right") - 1
    )
    first = np.maximum(first, row)
    out = ff[first][:, offers].astype(np.float64)
    span = int((last - first).max()) if m_max else 0
    for d in range(1, span + 1):
        r = np.minimum(first + d, last)
        out = np.minimum(out, ff[r][:, offers])
    out[0] = p0  # the first charge is the deploy price
    return out
