"""Robust price trends and short forecasts per segment. Pure numpy/pandas.

The trend of a segment is the Theil–Sen slope of its per-epoch median over the last
`window` epochs of the grid: the median of the slopes between every pair of observed
epochs, so one spike or one bad snapshot barely moves it. Gaps are simply absent points
(pairs involving a missing epoch are skipped), never filled in.

The forecast continues the line `intercept + slope·x` for `horizon` epochs after the last
epoch of the grid. Its interval is the usual regression prediction interval with a robust
scale: σ = 1.4826·MAD of the residuals, half-width = z·σ·sqrt(1 + 1/n + (x − x̄)²/Sxx),
clipped at 0 below (prices are not negative). z = 1.645 gives a nominal 90 % interval.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import numpy as np
import pandas as pd

from optimizer.analysis.stats import LEVELS, MarketHistory

Z_90 = 1.645


@dataclass(frozen=True)
class ForecastPoint:
    """Forecast median price (USD per epoch) of one future epoch, with its interval."""

    epoch: datetime
    median: float
    low: float
    high: float


@dataclass(frozen=True)
class SegmentTrend:
    """The compact trend of one segment, for the planner and budget forecasts.

    configuration is always set; country / datacenter are None above their level.
    as_of: start of the latest epoch with data (compare it with now to judge staleness).
    median_now: the median price (USD per epoch) in that epoch.
    slope_per_epoch: Theil–Sen slope, USD per epoch per epoch (NaN with < min_points).
    slope_pct: slope_per_epoch / median_now (relative drift per epoch).
    volatility: rolling volatility of the median at as_of (NaN when too short).
    points: how many epochs of the window had data.
    forecast: the next `horizon` epochs after the grid's last epoch.
    """

    configuration: str
    country: str | None
    datacenter: str | None
    as_of: datetime
    median_now: float
    slope_per_epoch: float
    slope_pct: float
    volatility: float
    points: int
    forecast: tuple[ForecastPoint, ...]

    def forecast_for(self, epochs_ahead: int) -> ForecastPoint | None:
        """The forecast `epochs_ahead` (1-based) epochs after the grid; None beyond horizon."""
        if 1 <= epochs_ahead <= len(self.forecast):
            return self.forecast[epochs_ahead - 1]
        return None


def theil_sen(y: np.ndarray, min_points: int = 3) -> tuple[np.ndarray, np.ndarray]:
    """Row-wise Theil–Sen fit of `y` (segments × epochs, NaN = no data) against x = 0..n−1.

    Return (slope, intercept) arrays; NaN for rows with fewer than `min_points` values.
    Vectorized over rows: memory is rows × n(n−1)/2 floats.
    """
    y = np.asarray(y, dtype="float64")
    rows, n = y.shape
    slope = np.full(rows, np.nan)
    intercept = np.full(rows, np.nan)
    if n < 2 or rows == 0:
        return slope, intercept
    i, j = np.triu_indices(n, k=1)
    pair_slopes = (y[:, j] - y[:, i]) / (j - i).astype("float64")
    enough = np.count_nonzero(~np.isnan(y), axis=1) >= max(min_points, 2)
    if not enough.any():
        return slope, intercept
    slope[enough] = np.nanmedian(pair_slopes[enough], axis=1)
    x = np.arange(n, dtype="float64")
    intercept[enough] = np.nanmedian(y[enough] - slope[enough, None] * x, axis=1)
    return slope, intercept


def trend_frame(
    history: MarketHistory,
    stats: pd.DataFrame,
    level: str = "country",
    *,
    window: int = 30,
    horizon: int = 7,
    min_points: int = 3,
    z: float = Z_90,
) -> pd.DataFrame:
    """One row per segment of `level`: key columns, as_of, median_now, slope_per_epoch,
    slope_pct, volatility, points, and forecast columns f{h}_median / f{h}_low / f{h}_high
    for h = 1..horizon. `stats` is segment_stats(history, level)."""
    keys = list(LEVELS[level])
    fcols = [f"f{h}_{p}" for h in range(1, horizon + 1) for p in ("median", "low", "high")]
    cols = [
        *keys,
        "as_of",
        "median_now",
        "slope_per_epoch",
        "slope_pct",
        "volatility",
        "points",
        *fcols,
    ]
    if stats.empty or len(history.grid) == 0:
        return pd.DataFrame(columns=cols)
    grid = history.grid[-window:]
    recent = stats.loc[stats["epoch"].isin(grid)]
    if recent.empty:
        return pd.DataFrame(columns=cols)
    table = recent.pivot_table(index=keys, columns="epoch", values="median", observed=True)
    table = table.reindex(columns=grid)
    y = table.to_numpy(dtype="float64")
    slope, intercept = theil_sen(y, min_points=min_points)
    n_grid = len(grid)
    x = np.arange(n_grid, dtype="float64")
    observed = ~np.isnan(y)
    points = observed.sum(axis=1)

    # robust residual scale and the regression prediction interval
    fitted = intercept[:, None] + slope[:, None] * x
    resid = np.where(observed, y - fitted, np.nan)
    fit = np.isfinite(slope)
    sigma = np.full(len(y), np.nan)
    xbar = np.full(len(y), np.nan)
    sxx = np.full(len(y), np.nan)
    if fit.any():
        r = resid[fit]
        med = np.nanmedian(r, axis=1)
        sigma[fit] = 1.4826 * np.nanmedian(np.abs(r - med[:, None]), axis=1)
        xs = np.where(observed[fit], x, np.nan)
        xbar[fit] = np.nanmean(xs, axis=1)
        sxx[fit] = np.nansum((xs - xbar[fit, None]) ** 2, axis=1)

    latest = recent.sort_values("epoch").groupby(keys, observed=True).tail(1).set_index(keys)
    latest = latest.reindex(table.index)
    out = table.index.to_frame(index=False)
    out["as_of"] = latest["epoch"].to_numpy()
    out["median_now"] = latest["median"].to_numpy(dtype="float64")
    out["slope_per_epoch"] = slope
    out["slope_pct"] = slope / out["median_now"].to_numpy()
    out["volatility"] = latest["volatility"].to_numpy(dtype="float64")
    out["points"] = points.astype("int64")
    with np.errstate(all="ignore"):
        for h in range(1, horizon + 1):
            xf = n_grid - 1 + h
            centre = intercept + slope * xf
            half = z * sigma * np.sqrt(1.0 + 1.0 / points + (xf - xbar) ** 2 / sxx)
            half = np.where(np.isfinite(half), half, np.nan)
            out[f"f{h}_median"] = centre
            out[f"f{h}_low"] = np.maximum(centre - half, 0.0)
            out[f"f{h}_high"] = centre + half
    return out.loc[:, cols]


def segment_trends(
    history: MarketHistory,
    stats: pd.DataFrame,
    level: str = "country",
    *,
    window: int = 30,
    horizon: int = 7,
    min_points: int = 3,
    z: float = Z_90,
) -> list[SegmentTrend]:
    """trend_frame as a list of SegmentTrend (one per segment of `level`)."""
    frame = trend_frame(
        history, stats, level, window=window, horizon=horizon, min_points=min_points, z=z
    )
    if frame.empty:
        return []
    last = history.grid[-1]
    step = pd.Timedelta(history.length)
    future = [(last + h * step).to_pydatetime() for h in range(1, horizon + 1)]
    med = frame[[f"f{h}_median" for h in range(1, horizon + 1)]].to_numpy()
    low = frame[[f"f{h}_low" for h in range(1, horizon + 1)]].to_numpy()
    high = frame[[f"f{h}_high" for h in range(1, horizon + 1)]].to_numpy()
    records = frame.to_dict("records")
    trends: list[SegmentTrend] = []
    for r, rec in enumerate(records):  # one object per segment (tens), not per observation
        trends.append(
            SegmentTrend(
                configuration=str(rec["configuration"]),
                country=str(rec["country"]) if "country" in rec else None,
                datacenter=str(rec["datacenter"]) if "datacenter" in rec else None,
                as_of=pd.Timestamp(rec["as_of"]).to_pydatetime(),
                median_now=float(rec["median_now"]),
                slope_per_epoch=float(rec["slope_per_epoch"]),
                slope_pct=float(rec["slope_pct"]),
                volatility=float(rec["volatility"]),
                points=int(rec["points"]),
                forecast=tuple(
                    ForecastPoint(future[h], float(med[r, h]), float(low[r, h]), float(high[r, h]))
                    for h in range(horizon)
                ),
            )
        )
    return trends
