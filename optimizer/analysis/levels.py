"""Each offer's recent price level with its uncertainty: what a VM billed at its offer's
market price can expect to pay next, as opposed to the price of the moment.

The level is the median of the offer's observations over the last epoch, so a dip or a
spike shorter than half an epoch does not move it. Its 90 % prediction interval for one
future charge uses the robust scale of those observations (σ = 1.4826·MAD, half-width
z·σ·sqrt(1 + 1/n), as trends.py does for segment forecasts with a zero slope): a flat
offer has a zero-width interval, a noisy one a wide one. Keyed by offer key.

An offer's week level (the median over the last 7 days) is what a move that cannot be
undone is judged against as well: leaving an offer that is no longer listed gives up a
price no deploy can get again, and a low day that the week does not bear out is more
often a swing that reverts than a new price.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal

import numpy as np
import pandas as pd

from optimizer.analysis.trends import Z_90

LEVEL_WINDOW = timedelta(hours=24)
WEEK_WINDOW = timedelta(days=7)
MIN_POINTS = 3


def offer_levels(
    obs: pd.DataFrame,
    *,
    now: datetime,
    window: timedelta = LEVEL_WINDOW,
    z: float = Z_90,
    min_points: int = MIN_POINTS,
) -> dict[str, tuple[Decimal, Decimal]]:
    """offer key → (median price, half-width of its 90 % prediction
    interval), USD per epoch, over the observations in (now − window, now]. Offers with
    fewer than `min_points` observations are left out."""
    frame = _recent(obs, now, window)
    if frame.empty:
        return {}
    med = frame.groupby("key", sort=False, observed=True)["p"].transform("median")
    frame["dev"] = np.abs(frame["p"] - med)
    agg = (
        frame.assign(med=med)
        .groupby("key", sort=False, observed=True)
        .agg(med=("med", "first"), mad=("dev", "median"), n=("p", "size"))
        .reset_index()
    )
    out: dict[str, tuple[Decimal, Decimal]] = {}
    for key, m, mad, k in zip(agg["key"], agg["med"], agg["mad"], agg["n"], strict=True):
        if int(k) < min_points or not np.isfinite(m):
            continue
        half = z * 1.4826 * float(mad) * np.sqrt(1.0 + 1.0 / int(k))
        out[str(key)] = (
            Decimal(str(round(float(m), 6))),
            Decimal(str(round(float(half), 6))),
        )
    return out


def week_levels(
    obs: pd.DataFrame, *, now: datetime, min_points: int = MIN_POINTS
) -> dict[str, Decimal]:
    """offer key → median price over the observations in (now − 7 days, now], USD per
    epoch. Offers with fewer than `min_points` observations are left out."""
    frame = _recent(obs, now, WEEK_WINDOW)
    if frame.empty:
        return {}
    agg = frame.groupby("key", sort=False, observed=True)["p"].agg(["median", "size"])
    agg = agg[(agg["size"] >= min_points) & np.isfinite(agg["median"])]
    return {str(k): Decimal(str(round(float(m), 6))) for k, m in agg["median"].items()}


def _recent(obs: pd.DataFrame, now: datetime, window: timedelta) -> pd.DataFrame:
    """(key, p): the offer key and price of each observation in (now − window, now]."""
    if obs.empty:
        return pd.DataFrame({"key": [], "p": []})
    ts = pd.to_datetime(obs["ts"], utc=True)
    recent = obs.loc[(ts > pd.Timestamp(now - window)) & (ts <= pd.Timestamp(now))]
    return pd.DataFrame(  # keys as they come (a categorical stays one: no string copies)
        {
            "key": recent["offer_key"].array,
            "p": recent["price_usd"].to_numpy(dtype="float64"),
        }
    )
