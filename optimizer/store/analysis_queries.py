"""The store → analysis seam: load a MarketHistory (one row per offer per epoch) for a
window, so reports and trends never build per-snapshot frames with text columns.

Same semantics as `queries.epoch_stats` (an epoch is either rolled up in `offer_epoch` or
still raw, never both; min / median / max price, samples, first / last seen per offer and
epoch), with the work pushed down:
- rolled-up epochs: one SELECT on `offer_epoch` (joined to `offer` in SQL when filtered);
- raw epochs: the change-only price intervals are never expanded per snapshot: each is
  cut at epoch boundaries into weighted pieces, grouped by an integer (epoch, offer)
  key (weighted median = median of the expanded observations); offer attributes are
  joined once per offer at the end, not once per observation.
Rows are read as plain tuples (building DataFrames from SQLAlchemy Row objects is an
order of magnitude slower). Epochs are the store's: UTC days.

Capacity: rolled-up epochs keep only min and max capacity per offer-epoch, so an offer's
capacity over such an epoch is taken as (min + max) / 2 for each snapshot listing it
(exact when it did not change within the epoch, as is usual); raw epochs are exact.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import numpy as np
import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from optimizer.analysis.epochs import epoch_grid
from optimizer.analysis.stats import OFFER_EPOCH_COLUMNS, MarketHistory, history_from_offer_epochs
from optimizer.clock import EPOCH_SECONDS, utc
from optimizer.store.engine import store_errors
from optimizer.store.queries import (
    epoch_t,
    offer_t,
    price_t,
    snapshot_t,
    utc_ns,
    vm_t,
    vmobs_t,
)
from optimizer.store.tables import table_of
from optimizer.store.tables.journal import FleetVm, SavingsEntry
from optimizer.store.tables.market import OUTCOME_OK

_ATTRS = ("configuration", "country", "city", "datacenter", "vcpu", "ram_gb")
_NS = 1_000_000_000


def _filtered(
    stmt: sa.Select[Any],
    configuration: str | None,
    country: str | None,
    join_on: sa.ColumnElement[int] | None = None,
) -> sa.Select[Any]:
    """Add the offer filters; `join_on` (an offer id column) joins `offer` only when a
    filter needs it."""
    if join_on is not None and (configuration is not None or country is not None):
        stmt = stmt.join(offer_t, offer_t.c.id == join_on)
    if configuration is not None:
        stmt = stmt.where(offer_t.c.configuration == configuration)
    if country is not None:
        stmt = stmt.where(offer_t.c.country == country)
    return stmt


def _frame(conn: Connection, stmt: sa.Select[Any]) -> pd.DataFrame:
    result = conn.execute(stmt)
    cols = list(result.keys())
    rows = result.fetchall()  # one C-level fetch; iterating would fetch row by row
    return pd.DataFrame.from_records([tuple(r) for r in rows], columns=cols)


def _rolled(
    conn: Connection, first: int, last: int, cfg: str | None, cc: str | None
) -> pd.DataFrame:
    stmt = _filtered(
        sa.select(
            epoch_t.c.epoch,
            epoch_t.c.offer_id,
            epoch_t.c.price_min,
            epoch_t.c.price_median,
            epoch_t.c.price_max,
            epoch_t.c.capacity_min,
            epoch_t.c.capacity_max,
            epoch_t.c.first_seen_s,
            epoch_t.c.last_seen_s,
            epoch_t.c.samples,
        ).where(epoch_t.c.epoch >= first, epoch_t.c.epoch <= last),
        cfg,
        cc,
        join_on=epoch_t.c.offer_id,
    )
    df = _frame(conn, stmt)
    if df.empty:
        return df
    day_ns = df["epoch"].to_numpy(dtype="int64") * EPOCH_SECONDS * _NS
    samples = df["samples"].to_numpy(dtype="float64")
    mid = (df["capacity_min"].to_numpy(dtype="float64")
           + df["capacity_max"].to_numpy(dtype="float64")) / 2.0  # fmt: skip
    return pd.DataFrame(
        {
            "k": df["epoch"].to_numpy(dtype="int64"),
            "offer_id": df["offer_id"].to_numpy(dtype="int64"),
            "price_min": df["price_min"].to_numpy(dtype="float64") / 1e6,
            "price_median": df["price_median"].to_numpy(dtype="float64") / 1e6,
            "price_max": df["price_max"].to_numpy(dtype="float64") / 1e6,
            "capacity_sum": mid * samples,
            "n_obs": df["samples"].to_numpy(dtype="int64"),
            "first_ns": day_ns + df["first_seen_s"].to_numpy(dtype="int64") * _NS,
            "last_ns": day_ns + df["last_seen_s"].to_numpy(dtype="int64") * _NS,
        }
    )


def _raw(
    conn: Connection,
    since: datetime,
    until: datetime,
    skip_epochs: set[int],
    cfg: str | None,
    cc: str | None,
) -> pd.DataFrame:
    snaps = _frame(
        conn,
        sa.select(snapshot_t.c.id, snapshot_t.c.taken_at)
        .where(snapshot_t.c.outcome == OUTCOME_OK)
        .where(snapshot_t.c.taken_at >= since, snapshot_t.c.taken_at < until)
        .order_by(snapshot_t.c.id),
    )
    if snaps.empty:
        return pd.DataFrame()
    snap_ids = snaps["id"].to_numpy(dtype="int64")
    snap_ns = utc_ns(snaps["taken_at"])
    snap_k = snap_ns // (EPOCH_SECONDS * _NS)
    lo, hi = int(snap_ids[0]), int(snap_ids[-1])
    iv = _frame(
        conn,
        _filtered(
            sa.select(
                price_t.c.offer_id,
                price_t.c.price_micros,
                price_t.c.capacity,
                price_t.c.from_snapshot_id,
                price_t.c.to_snapshot_id,
            )
            .where(price_t.c.from_snapshot_id <= hi)
            .where(sa.or_(price_t.c.to_snapshot_id.is_(None), price_t.c.to_snapshot_id >= lo)),
            cfg,
            cc,
            join_on=price_t.c.offer_id,
        ),
    )
    if iv.empty:
        return pd.DataFrame()
    latest = conn.execute(
        sa.select(sa.func.max(snapshot_t.c.id)).where(snapshot_t.c.outcome == OUTCOME_OK)
    ).scalar()
    return _interval_epochs(iv, snap_ids, snap_ns, snap_k, int(latest or hi), skip_epochs)


def _interval_epochs(
    iv: pd.DataFrame,
    snap_ids: np.ndarray,
    snap_ns: np.ndarray,
    snap_k: np.ndarray,
    open_to: int,
    skip_epochs: set[int],
) -> pd.DataFrame:
    """Aggregate price intervals per (epoch, offer) without expanding them per snapshot.

    Each interval covers a run of snapshot positions; it is cut at epoch boundaries into
    pieces (one per epoch it touches) weighted by how many snapshots they cover. Min and
    max come from the pieces; the median is the weighted median, equal to the median of
    the expanded observations (mean of the two middle values for an even count)."""
    frm = iv["from_snapshot_id"].to_numpy(dtype="int64")
    to = iv["to_snapshot_id"].fillna(open_to).to_numpy(dtype="int64")
    start = np.searchsorted(snap_ids, frm, side="left")
    end = np.searchsorted(snap_ids, to, side="right")
    live = end > start
    if not live.any():
        return pd.DataFrame()
    idx = np.flatnonzero(live)
    start, end = start[live], end[live]
    uk, ufirst = np.unique(snap_k, return_index=True)  # snapshots are in time order
    uend = np.append(ufirst[1:], snap_k.size)
    e_start = np.searchsorted(ufirst, start, side="right") - 1
    e_end = np.searchsorted(ufirst, end - 1, side="right") - 1
    n = e_end - e_start + 1
    rep = np.repeat(np.arange(idx.size), n)
    piece_e = e_start[rep] + (np.arange(rep.size) - np.repeat(np.cumsum(n) - n, n))
    lo = np.maximum(start[rep], ufirst[piece_e])
    hi = np.minimum(end[rep], uend[piece_e])
    k = uk[piece_e]
    if skip_epochs:
        keep = ~np.isin(k, np.fromiter(skip_epochs, dtype="int64"))
        rep, lo, hi, k = rep[keep], lo[keep], hi[keep], k[keep]
    if rep.size == 0:
        return pd.DataFrame()
    src = idx[rep]
    offer_id = iv["offer_id"].to_numpy(dtype="int64")[src]
    price = iv["price_micros"].to_numpy(dtype="int64")[src]
    cap = iv["capacity"].to_numpy(dtype="float64")[src]
    w = (hi - lo).astype("int64")
    width = int(offer_id.max()) + 1
    k0 = int(k.min())
    codes, pair = pd.factorize((k - k0) * width + offer_id, sort=True)
    g_price = pd.Series(price).groupby(codes, sort=True)
    total = np.bincount(codes, weights=w).astype("int64")

    # weighted median: order pieces by (group, price), find the pieces holding the two
    # middle observations of each group through the running count
    order = np.lexsort((price, codes))
    cum = np.cumsum(w[order])
    base = np.cumsum(total) - total
    pick_lo = np.searchsorted(cum, base + (total - 1) // 2, side="right")
    pick_hi = np.searchsorted(cum, base + total // 2, side="right")
    sorted_price = price[order].astype("float64")
    median = (sorted_price[pick_lo] + sorted_price[pick_hi]) / 2.0

    first = pd.Series(snap_ns[lo]).groupby(codes, sort=True).min().to_numpy()
    last = pd.Series(snap_ns[hi - 1]).groupby(codes, sort=True).max().to_numpy()
    pair = np.asarray(pair, dtype="int64")
    return pd.DataFrame(
        {
            "k": pair // width + k0,
            "offer_id": pair % width,
            "price_min": g_price.min().to_numpy() / 1e6,
            "price_median": median / 1e6,
            "price_max": g_price.max().to_numpy() / 1e6,
            "capacity_sum": np.bincount(codes, weights=cap * w),
            "n_obs": total,
            "first_ns": first,
            "last_ns": last,
        }
    )


def market_history(
    engine: Engine,
    since: datetime,
    until: datetime,
    configuration: str | None = None,
    country: str | None = None,
) -> MarketHistory:
    """The market in [since, until) as a MarketHistory on the UTC-day epoch grid: every
    epoch overlapping the window, whole (rolled-up epochs cannot be cut at `since`).

    Raise StoreError when the database fails. An empty store gives an empty history
    (`history.empty`), not an error.
    """
    since, until = utc(since), utc(until)
    grid = epoch_grid(since, until)
    first_k = int(since.timestamp()) // EPOCH_SECONDS
    last_k = (int(until.timestamp()) - 1) // EPOCH_SECONDS
    day_start = grid[0].to_pydatetime() if len(grid) else since
    with store_errors(engine), engine.connect() as conn:
        rolled = _rolled(conn, first_k, last_k, configuration, country)
        skip = set(rolled["k"].unique().tolist()) if not rolled.empty else set()
        raw = _raw(conn, day_start, until, skip, configuration, country)
        parts = [p for p in (rolled, raw) if not p.empty]
        if not parts:
            empty = pd.DataFrame({c: pd.Series(dtype="object") for c in OFFER_EPOCH_COLUMNS})
            empty["epoch"] = pd.Series(dtype="datetime64[ns, UTC]")
            return history_from_offer_epochs(empty, grid=grid)
        agg = pd.concat(parts, ignore_index=True)
        attrs = _frame(
            conn,
            _filtered(
                sa.select(
                    offer_t.c.id, offer_t.c.key.label("offer_key"), *(offer_t.c[c] for c in _ATTRS)
                ),
                configuration,
                country,
            ),
        )
    attrs = attrs.set_index("id")
    for c in ("vcpu", "ram_gb"):
        attrs[c] = attrs[c].fillna(0).astype("int64")
    joined = attrs.reindex(agg["offer_id"].to_numpy()).reset_index(drop=True)
    oe = pd.DataFrame(
        {
            "epoch": pd.to_datetime(agg["k"].to_numpy() * EPOCH_SECONDS, unit="s", utc=True),
            "offer_key": joined["offer_key"],
            **{c: joined[c] for c in _ATTRS},
            "price_min": agg["price_min"],
            "price_median": agg["price_median"],
            "price_max": agg["price_max"],
            "capacity_sum": agg["capacity_sum"],
            "n_obs": agg["n_obs"],
            "first_seen": pd.to_datetime(agg["first_ns"].to_numpy(), unit="ns", utc=True),
            "last_seen": pd.to_datetime(agg["last_ns"].to_numpy(), unit="ns", utc=True),
        },
        columns=list(OFFER_EPOCH_COLUMNS),
    )
    oe["epoch"] = oe["epoch"].astype("datetime64[ns, UTC]")
    return history_from_offer_epochs(oe, grid=grid)


def _overlap(start_ns: np.ndarray, end_ns: np.ndarray, grid: pd.DatetimeIndex) -> np.ndarray:
    """Fraction of each grid epoch covered by each [start, end) span: spans × epochs."""
    step = EPOCH_SECONDS * _NS
    e0 = grid.as_unit("ns").asi8[None, :]
    lo = np.maximum(start_ns[:, None], e0)
    hi = np.minimum(end_ns[:, None], e0 + step)
    covered: np.ndarray = np.clip(hi - lo, 0, None) / step
    return covered


def fleet_frames(
    engine: Engine, grid: pd.DatetimeIndex, now: datetime
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Fleet spend and realized savings per fleet per epoch of `grid`, for the report.

    spend (epoch, fleet, spend_usd): what each owned VM (`fleet_vm`) was charged — the
    increments of its observed totalSpent, in the epoch where each was first seen.
    savings (epoch, fleet, savings_usd): each completed migration in `savings_ledger`
    saves (old − new price) per epoch from completed_at until ended_at (or `now`),
    prorated to the part of each epoch covered. Empty frames when there are no fleets.
    Raise StoreError when the database fails.
    """
    spend_cols = ["epoch", "fleet", "spend_usd"]
    save_cols = ["epoch", "fleet", "savings_usd"]
    empty = pd.DataFrame(columns=spend_cols), pd.DataFrame(columns=save_cols)
    if len(grid) == 0:
        return empty
    fleet_vm = table_of(FleetVm)
    ledger = table_of(SavingsEntry)
    with store_errors(engine), engine.connect() as conn:
        since = grid[0].to_pydatetime()
        obs = _frame(
            conn,
            sa.select(
                fleet_vm.c.fleet,
                vmobs_t.c.vm_ref,
                vmobs_t.c.from_at,
                vmobs_t.c.spent_micros,
            )
            .join(vm_t, vm_t.c.vm_id == fleet_vm.c.vm_id)
            .join(vmobs_t, vmobs_t.c.vm_ref == vm_t.c.id)
            .order_by(vmobs_t.c.vm_ref, vmobs_t.c.from_at),
        )
        led = _frame(
            conn,
            sa.select(
                ledger.c.fleet,
                ledger.c.old_price_micros,
                ledger.c.new_price_micros,
                ledger.c.completed_at,
                ledger.c.ended_at,
            ).where(sa.or_(ledger.c.ended_at.is_(None), ledger.c.ended_at >= since)),
        )

    def per_epoch(fleet: pd.Series, usd: np.ndarray, frac: np.ndarray, col: str) -> pd.DataFrame:
        table = pd.DataFrame(usd[:, None] * frac, columns=grid)
        table["fleet"] = fleet.to_numpy()
        out = table.groupby("fleet").sum().stack().reset_index()
        out.columns = ["fleet", "epoch", col]
        return out.loc[out[col] != 0, ["epoch", "fleet", col]].reset_index(drop=True)

    spend = empty[0]
    if not obs.empty:
        # what the API charged: increments of the VM's totalSpent between observations,
        # in the epoch where the increment was first seen (the first sighting counts whole)
        spent = obs["spent_micros"].astype("float64").ffill().fillna(0.0).to_numpy()
        vm = obs["vm_ref"].to_numpy()
        prev = np.append(0.0, spent[:-1])
        first = np.append(True, vm[1:] != vm[:-1])
        delta = np.clip(np.where(first, spent, spent - prev), 0, None) / 1e6
        at = pd.DatetimeIndex(pd.to_datetime(obs["from_at"], utc=True)).as_unit("ns")
        epoch = at.floor(pd.Timedelta(seconds=EPOCH_SECONDS))
        frame = pd.DataFrame({"epoch": epoch, "fleet": obs["fleet"].to_numpy(), "d": delta})
        frame = frame.loc[frame["epoch"].isin(grid) & (frame["d"] > 0)]
        spend = frame.groupby(["epoch", "fleet"], as_index=False).agg(spend_usd=("d", "sum"))
    savings = empty[1]
    if not led.empty:
        ended = pd.to_datetime(led["ended_at"], utc=True).fillna(pd.Timestamp(utc(now)))
        frac = _overlap(utc_ns(led["completed_at"]), utc_ns(ended), grid)
        usd = (led["old_price_micros"].to_numpy(dtype="float64")
               - led["new_price_micros"].to_numpy(dtype="float64")) / 1e6  # fmt: skip
        savings = per_epoch(led["fleet"], usd, frac, "savings_usd")
    return spend, savings
