"""Per-epoch price statistics per market segment. Pure pandas: DataFrames and times in,
DataFrames out; no clock, database or network.

Input is the observation frame of `optimizer.store.queries.price_observations` (one row per
offer per snapshot: ts, offer_key, configuration, country, city, datacenter, vcpu, ram_gb,
price_usd, capacity). It is first reduced to one row per offer per epoch
(`MarketHistory.offer_epochs`), which is also what a SQL push-down may hand over directly.

Definitions, per segment and epoch:
- min / max: the lowest / highest price observed in the epoch (any offer, any snapshot);
- p10 / median / p90: quantiles across offers of each offer's median price in the epoch
  (each offer counts once per epoch, however many snapshots listed it);
- offers: distinct offers listed at least once in the epoch;
- capacity: available instances summed over the segment's offers, averaged over the
  epoch's snapshots (an offer absent from a snapshot contributes 0 to it);
- median_per_vcpu / median_per_gb: median across offers of price / vCPU and price / GB RAM;
- change_1 / change_7 / change_30: relative change of the median against 1, 7 and 30
  epochs before — NaN when that epoch has no data (gaps stay gaps, nothing is filled in);
- volatility: standard deviation of the epoch-over-epoch log change of the median over the
  last `vol_window` epochs (time-based window, at least 3 changes).
Rows exist only for epochs in which the segment had offers.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import numpy as np
import pandas as pd

from optimizer.analysis.epochs import epoch_grid, epoch_number, epoch_start, epoch_start_of
from optimizer.clock import EPOCH

OBSERVATION_COLUMNS = (
    "ts",
    "offer_key",
    "configuration",
    "country",
    "city",
    "datacenter",
    "vcpu",
    "ram_gb",
    "price_usd",
    "capacity",
)
OFFER_ATTRS = ("offer_key", "configuration", "country", "city", "datacenter", "vcpu", "ram_gb")
OFFER_EPOCH_COLUMNS = (
    "epoch",
    *OFFER_ATTRS,
    "price_min",
    "price_median",
    "price_max",
    "capacity_sum",
    "n_obs",
    "first_seen",
    "last_seen",
)

LEVELS: dict[str, tuple[str, ...]] = {
    "configuration": ("configuration",),
    "country": ("configuration", "country"),
    "datacenter": ("configuration", "country", "datacenter"),
    "offer": ("configuration", "country", "datacenter", "offer_key"),
}
STAT_COLUMNS = (
    "min",
    "p10",
    "median",
    "p90",
    "max",
    "offers",
    "capacity",
    "median_per_vcpu",
    "median_per_gb",
    "change_1",
    "change_7",
    "change_30",
    "volatility",
)
CHANGE_LAGS = (1, 7, 30)


@dataclass(frozen=True)
class MarketHistory:
    """The market over a window, reduced to one row per offer per epoch.

    offer_epochs: columns OFFER_EPOCH_COLUMNS (epoch = aware UTC epoch start).
    snapshots: number of snapshots taken in each epoch (index: epoch start).
    grid: every epoch of the window, observed or not — the reference for gaps.
    """

    offer_epochs: pd.DataFrame
    snapshots: pd.Series
    grid: pd.DatetimeIndex
    length: timedelta = EPOCH

    @property
    def empty(self) -> bool:
        return self.offer_epochs.empty

    @property
    def span(self) -> pd.DatetimeIndex:
        """The grid trimmed to its first..last epoch with snapshots (inner gaps kept), for
        charts that should not draw months of empty window; the full grid when none."""
        has = np.flatnonzero(self.snapshots.to_numpy() > 0)
        return self.grid[has[0] : has[-1] + 1] if has.size else self.grid

    @property
    def observed_epochs(self) -> int:
        """How many epochs of the window have at least one snapshot."""
        return int((self.snapshots > 0).sum())


def _check_columns(df: pd.DataFrame, needed: tuple[str, ...], what: str) -> None:
    missing = [c for c in needed if c not in df.columns]
    if missing:
        raise ValueError(f"{what} is missing columns: {', '.join(missing)}")


def history_from_observations(
    obs: pd.DataFrame,
    *,
    since: datetime,
    until: datetime,
    origin: datetime | None = None,
    length: timedelta = EPOCH,
) -> MarketHistory:
    """Given price observations, keep those with since <= ts < until and reduce them to one
    row per offer per epoch. Raise ValueError when a contract column is missing."""
    _check_columns(obs, OBSERVATION_COLUMNS, "price observations")
    grid = epoch_grid(since, until, origin=origin, length=length)
    ts = obs["ts"]
    obs = obs.loc[(ts >= pd.Timestamp(since)) & (ts < pd.Timestamp(until))]
    # integer keys throughout: grouping 4 M rows by strings would dominate the run time
    k = epoch_number(obs["ts"], origin=origin, length=length)
    offer_codes, offer_keys = pd.factorize(obs["offer_key"], sort=False)
    n_offers = max(len(offer_keys), 1)
    k0 = int(k.min()) if k.size else 0
    pair = (k - k0) * n_offers + offer_codes
    pair_codes, pair_keys = pd.factorize(pair, sort=True)
    price = pd.Series(obs["price_usd"].to_numpy(dtype="float64"))
    grouped = price.groupby(pair_codes, sort=True)
    oe = pd.DataFrame(
        {
            "price_min": grouped.min().to_numpy(),
            "price_median": grouped.median().to_numpy(),
            "price_max": grouped.max().to_numpy(),
            "capacity_sum": np.bincount(
                pair_codes, weights=obs["capacity"].to_numpy(dtype="float64")
            ),
            "n_obs": np.bincount(pair_codes).astype("int64"),
        }
    )
    ts_ns = pd.Series(obs["ts"].to_numpy(dtype="datetime64[ns]").astype("int64"))
    ts_g = ts_ns.groupby(pair_codes, sort=True)
    oe["first_seen"] = pd.to_datetime(ts_g.min().to_numpy(), unit="ns", utc=True)
    oe["last_seen"] = pd.to_datetime(ts_g.max().to_numpy(), unit="ns", utc=True)
    pair_keys = np.asarray(pair_keys, dtype="int64")
    oe_offer = pair_keys % n_offers
    oe_epoch = pair_keys // n_offers + k0
    first_row = np.unique(offer_codes, return_index=True)[1]
    attrs = obs.iloc[first_row].loc[:, list(OFFER_ATTRS)].reset_index(drop=True)
    oe = pd.concat([attrs.iloc[oe_offer].reset_index(drop=True), oe], axis=1)
    oe.insert(0, "epoch", epoch_start_of(oe_epoch, origin=origin, length=length))
    uniq_ts = pd.DatetimeIndex(obs["ts"].unique())
    snap_epochs = epoch_start(uniq_ts, origin=origin, length=length)
    snaps = pd.Series(1, index=snap_epochs).groupby(level=0).sum()
    return history_from_offer_epochs(oe, snaps, grid=grid, length=length)


def history_from_offer_epochs(
    offer_epochs: pd.DataFrame,
    snapshots: pd.Series | None = None,
    *,
    grid: pd.DatetimeIndex,
    length: timedelta = EPOCH,
) -> MarketHistory:
    """Wrap an already-reduced offer × epoch frame (OFFER_EPOCH_COLUMNS, e.g. aggregated in
    SQL) as a history. Epochs outside `grid` are dropped. `snapshots` (epoch → number of
    snapshots) defaults to the largest n_obs of any offer in the epoch — exact whenever
    one offer was listed in every snapshot of it. Reindexed on the grid (0 = gap)."""
    _check_columns(offer_epochs, OFFER_EPOCH_COLUMNS, "offer epochs")
    oe = offer_epochs.loc[offer_epochs["epoch"].isin(grid), list(OFFER_EPOCH_COLUMNS)]
    oe = oe.astype(
        {
            "price_min": "float64",
            "price_median": "float64",
            "price_max": "float64",
            "capacity_sum": "float64",
            "n_obs": "int64",
            "vcpu": "int64",
            "ram_gb": "int64",
        }
    ).reset_index(drop=True)
    if snapshots is None:
        snapshots = oe.groupby("epoch")["n_obs"].max()
    snaps = snapshots.reindex(grid, fill_value=0).astype("int64")
    snaps.index.name = "epoch"
    snaps.name = "snapshots"
    return MarketHistory(offer_epochs=oe, snapshots=snaps, grid=grid, length=length)


def segment_stats(
    history: MarketHistory, level: str = "configuration", *, vol_window: int = 7
) -> pd.DataFrame:
    """Per-epoch statistics of each segment at `level` (a key of LEVELS).

    Return one row per (segment, observed epoch), sorted by segment then epoch, with the
    segment's key columns, `epoch` and STAT_COLUMNS. Raise ValueError on an unknown level.
    """
    if level not in LEVELS:
        raise ValueError(f"unknown segment level {level!r}; use one of {', '.join(LEVELS)}")
    keys = list(LEVELS[level])
    by = [*keys, "epoch"]
    oe = history.offer_epochs
    if oe.empty:
        return pd.DataFrame(columns=[*by, *STAT_COLUMNS])
    oe = oe.assign(
        per_vcpu=oe["price_median"] / oe["vcpu"].where(oe["vcpu"] > 0),
        per_gb=oe["price_median"] / oe["ram_gb"].where(oe["ram_gb"] > 0),
    )
    g = oe.groupby(by, sort=True, observed=True, dropna=False)  # a missing key is a segment
    out = g.agg(
        min=("price_min", "min"),
        max=("price_max", "max"),
        offers=("offer_key", "size"),
        capacity_sum=("capacity_sum", "sum"),
        median_per_vcpu=("per_vcpu", "median"),
        median_per_gb=("per_gb", "median"),
    )
    q = g["price_median"].quantile(np.array([0.1, 0.5, 0.9])).unstack()
    # same grouper, same group order: by position (a NaN key does not align by label)
    out["p10"], out["median"], out["p90"] = (q[p].to_numpy() for p in (0.1, 0.5, 0.9))
    out = out.reset_index()
    n_snap = history.snapshots.reindex(out["epoch"]).to_numpy(dtype="float64")
    out["capacity"] = out.pop("capacity_sum").to_numpy() / np.where(n_snap > 0, n_snap, np.nan)
    out = _add_changes(out, keys, history.length)
    out = _add_volatility(out, keys, history.length, vol_window)
    return out.loc[:, [*by, *STAT_COLUMNS]]


def _add_changes(out: pd.DataFrame, keys: list[str], length: timedelta) -> pd.DataFrame:
    """change_k = median / median k epochs earlier − 1, by exact epoch match (no fill)."""
    ref = out.loc[:, [*keys, "epoch", "median"]]
    step = pd.Timedelta(length)
    for lag in CHANGE_LAGS:
        shifted = ref.assign(epoch=ref["epoch"] + lag * step).rename(columns={"median": "_ref"})
        out = out.merge(shifted, on=[*keys, "epoch"], how="left")
        out[f"change_{lag}"] = out["median"] / out.pop("_ref") - 1.0
    return out


def _add_volatility(
    out: pd.DataFrame, keys: list[str], length: timedelta, window: int
) -> pd.DataFrame:
    """Rolling std of log(1 + change_1) over the last `window` epochs of the grid.

    Built as an epoch × segment matrix on the integer epoch grid, so a gap is a NaN slot
    in the window (counted in its length, skipped by the std), never a compressed step."""
    out = out.sort_values([*keys, "epoch"], kind="stable").reset_index(drop=True)
    seg_codes = out.groupby(keys, sort=False, observed=True, dropna=False).ngroup().to_numpy()
    step = pd.Timedelta(length).value
    pos = (out["epoch"].to_numpy(dtype="datetime64[ns]").astype("int64") // 1).astype("int64")
    pos = (pos - pos.min()) // step if pos.size else pos
    n_epochs = int(pos.max()) + 1 if pos.size else 0
    matrix = np.full((n_epochs, int(seg_codes.max()) + 1 if seg_codes.size else 0), np.nan)
    matrix[pos, seg_codes] = np.log1p(out["change_1"].to_numpy(dtype="float64"))
    rolled = pd.DataFrame(matrix).rolling(window, min_periods=3).std().to_numpy()
    out["volatility"] = rolled[pos, seg_codes] if pos.size else np.nan
    return out


def latest_epoch(stats: pd.DataFrame, now: datetime) -> pd.Timestamp | None:
    """The most recent epoch start in `stats` that is not after `now`; None when none is."""
    if stats.empty:
        return None
    epochs = stats["epoch"]
    eligible = epochs[epochs <= pd.Timestamp(now)]
    return None if eligible.empty else eligible.max()


def cheapest(stats: pd.DataFrame, level: str, *, now: datetime, n: int = 10) -> pd.DataFrame:
    """The `n` cheapest segments of `level` by median price: now (latest epoch not after
    `now`) and over the window (mean of the per-epoch medians). Columns: key columns,
    median_now, min_now, offers_now, median_window, epochs; sorted by median_now."""
    keys = list(LEVELS[level])
    cols = [*keys, "median_now", "min_now", "offers_now", "median_window", "epochs"]
    at = latest_epoch(stats, now)
    if at is None:
        return pd.DataFrame(columns=cols)
    window = stats.groupby(keys, observed=True).agg(
        median_window=("median", "mean"), epochs=("epoch", "size")
    )
    current = stats.loc[stats["epoch"] == at].set_index(keys)[["median", "min", "offers"]]
    current.columns = ["median_now", "min_now", "offers_now"]
    table = current.join(window, how="left").reset_index()
    return table.sort_values(["median_now", *keys], kind="stable").head(n).loc[:, cols]


def biggest_movers(
    stats: pd.DataFrame, level: str, *, now: datetime, lag: int = 7, n: int = 10
) -> pd.DataFrame:
    """Segments whose median moved most (in absolute relative terms) against `lag` epochs
    before the latest epoch. Columns: key columns, median_now, change; largest |change|
    first. Segments without the reference epoch (a gap) are left out, not guessed."""
    keys = list(LEVELS[level])
    col = f"change_{lag}"
    at = latest_epoch(stats, now)
    if at is None or col not in stats.columns:
        return pd.DataFrame(columns=[*keys, "median_now", "change"])
    cur = stats.loc[(stats["epoch"] == at) & stats[col].notna(), [*keys, "median", col]]
    cur = cur.rename(columns={"median": "median_now", col: "change"})
    order = cur["change"].abs().sort_values(ascending=False, kind="stable").index
    return cur.loc[order].head(n).reset_index(drop=True)


def wide(stats: pd.DataFrame, column: str, level: str, grid: pd.DatetimeIndex) -> pd.DataFrame:
    """`column` as an epoch × segment table on the full grid: gaps are NaN rows, so a line
    chart breaks there instead of drawing across missing epochs."""
    keys = list(LEVELS[level])
    if stats.empty:
        return pd.DataFrame(index=grid)
    table = stats.pivot_table(index="epoch", columns=keys, values=column, observed=True)
    return table.reindex(grid)
