"""The store → analysis seam: load a MarketHistory (one row per offer per epoch) for a
window, so reports and trends never build per-snapshot frames with text columns.

Same semantics as `queries.epoch_stats` (an epoch is either rolled up in `offer_epoch` or
still raw, never both; min / median / max price, samples, first / last seen per offer and
epoch), with the work pushed down:
- rolled-up epochs: one SELECT joining `offer_epoch` to `offer` in SQL;
- raw epochs: the price intervals are expanded on integer arrays only (offer id, snapshot
  position, price, capacity) and grouped by an integer (epoch, offer) key; offer
  attributes are joined once per offer at the end, not once per observation.
Rows are read as plain tuples (building DataFrames from SQLAlchemy Row objects is an
order of magnitude slower). Epochs are the store's: UTC days.

Capacity: rolled-up epochs keep only min and max capacity per offer-epoch, so an offer's
capacity over such an epoch is taken as (min + max) / 2 for each snapshot listing it
(exact when it did not change within the epoch, as is usual); raw epochs are exact.
"""

from __future__ import annotations

from datetime import datetime

import numpy as np
import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from optimizer.analysis.epochs import epoch_grid
from optimizer.analysis.stats import OFFER_EPOCH_COLUMNS, MarketHistory, history_from_offer_epochs
from optimizer.clock import EPOCH_SECONDS, utc
from optimizer.store.engine import store_errors
from optimizer.store.queries import epoch_t, expand_intervals, offer_t, price_t, snapshot_t
from optimizer.store.tables.market import OUTCOME_OK

_ATTRS = ("configuration", "country", "city", "datacenter", "vcpu", "ram_gb")
_NS = 1_000_000_000


def _filtered(stmt: sa.Select, configuration: str | None, country: str | None) -> sa.Select:
    if configuration is not None:
        stmt = stmt.where(offer_t.c.configuration == configuration)
    if country is not None:
        stmt = stmt.where(offer_t.c.country == country)
    return stmt


def _frame(conn: Connection, stmt: sa.Select) -> pd.DataFrame:
    result = conn.execute(stmt)
    cols = list(result.keys())
    return pd.DataFrame.from_records([tuple(r) for r in result], columns=cols)


def _ns(values: pd.Series) -> np.ndarray:
    """Aware datetimes (as the store returns them) → int64 ns since 1970 UTC."""
    if values.empty:
        return np.empty(0, dtype="int64")
    ts = pd.to_datetime(values, utc=True)
    return ts.dt.as_unit("ns").astype("int64").to_numpy()


def _rolled(conn: Connection, first: int, last: int, cfg: str | None, cc: str | None):
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
        )
        .join(offer_t, offer_t.c.id == epoch_t.c.offer_id)
        .where(epoch_t.c.epoch >= first, epoch_t.c.epoch <= last),
        cfg,
        cc,
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
    snap_ns = _ns(snaps["taken_at"])
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
            .join(offer_t, offer_t.c.id == price_t.c.offer_id)
            .where(price_t.c.from_snapshot_id <= hi)
            .where(sa.or_(price_t.c.to_snapshot_id.is_(None), price_t.c.to_snapshot_id >= lo)),
            cfg,
            cc,
        ),
    )
    if iv.empty:
        return pd.DataFrame()
    latest = conn.execute(
        sa.select(sa.func.max(snapshot_t.c.id)).where(snapshot_t.c.outcome == OUTCOME_OK)
    ).scalar()
    row, pos = expand_intervals(snap_ids, iv, int(latest or hi))
    k = snap_k[pos]
    if skip_epochs:
        keep = ~np.isin(k, np.fromiter(skip_epochs, dtype="int64"))
        row, pos, k = row[keep], pos[keep], k[keep]
    if row.size == 0:
        return pd.DataFrame()
    offer_id = iv["offer_id"].to_numpy(dtype="int64")[row]
    price = iv["price_micros"].to_numpy(dtype="int64")[row]
    cap = iv["capacity"].to_numpy(dtype="float64")[row]
    ts = snap_ns[pos]
    width = int(offer_id.max()) + 1
    k0 = int(k.min())
    codes, pair = pd.factorize((k - k0) * width + offer_id, sort=True)
    g_price = pd.Series(price).groupby(codes, sort=True)
    g_ts = pd.Series(ts).groupby(codes, sort=True)
    pair = np.asarray(pair, dtype="int64")
    return pd.DataFrame(
        {
            "k": pair // width + k0,
            "offer_id": pair % width,
            "price_min": g_price.min().to_numpy() / 1e6,
            "price_median": g_price.median().to_numpy() / 1e6,
            "price_max": g_price.max().to_numpy() / 1e6,
            "capacity_sum": np.bincount(codes, weights=cap),
            "n_obs": np.bincount(codes).astype("int64"),
            "first_ns": g_ts.min().to_numpy(),
            "last_ns": g_ts.max().to_numpy(),
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
