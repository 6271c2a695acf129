"""Price analysis: pure pandas over the snapshot history. No I/O, no clock reads — the
window (`since`, `until`/now) and the epoch origin are arguments.

    history_from_observations(obs, since=…, until=…)  → MarketHistory (offer × epoch)
    segment_stats(history, level)                      → per-epoch stats per segment
    trend_frame / segment_trends(history, stats, level) → Theil–Sen slope + forecast
    offer_longevity(obs) / datacenter_longevity(...)   → listing spells, vanish rates
    analyze(obs, since=…, until=…)                      → all of the above, for reports

Levels: "configuration", "country" (configuration × country), "datacenter"
(configuration × datacenter) and "offer".
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal

import pandas as pd

from optimizer.analysis.epochs import epoch_grid, epoch_number, epoch_of, epoch_start
from optimizer.analysis.longevity import (
    datacenter_longevity,
    listing_stability,
    offer_longevity,
    offer_longevity_epochs,
)
from optimizer.analysis.stats import (
    LEVELS,
    OBSERVATION_COLUMNS,
    STAT_COLUMNS,
    MarketHistory,
    biggest_movers,
    cheapest,
    history_from_observations,
    history_from_offer_epochs,
    latest_epoch,
    segment_stats,
    wide,
)
from optimizer.analysis.trends import ForecastPoint, SegmentTrend, segment_trends, trend_frame
from optimizer.clock import EPOCH

__all__ = [
    "EPOCH",
    "LEVELS",
    "OBSERVATION_COLUMNS",
    "STAT_COLUMNS",
    "ForecastPoint",
    "MarketAnalysis",
    "MarketHistory",
    "SegmentTrend",
    "analyze",
    "analyze_history",
    "biggest_movers",
    "cheapest",
    "datacenter_longevity",
    "epoch_grid",
    "epoch_number",
    "epoch_of",
    "epoch_start",
    "history_from_observations",
    "history_from_offer_epochs",
    "latest_epoch",
    "listing_stability",
    "market_trends",
    "offer_longevity",
    "offer_longevity_epochs",
    "price_signals",
    "segment_stats",
    "segment_trends",
    "trend_frame",
    "wide",
]


@dataclass(frozen=True)
class MarketAnalysis:
    """Everything a report needs. stats[level] for each level in `levels`; trends per
    configuration and per configuration × country; longevity empty when not computed."""

    history: MarketHistory
    now: datetime
    stats: dict[str, pd.DataFrame]
    trends: dict[str, pd.DataFrame]
    longevity: pd.DataFrame = field(default_factory=pd.DataFrame)
    datacenters: pd.DataFrame = field(default_factory=pd.DataFrame)


def analyze_history(
    history: MarketHistory,
    *,
    now: datetime,
    levels: tuple[str, ...] = ("configuration", "country", "datacenter"),
    longevity: pd.DataFrame | None = None,
    trend_window: int = 30,
    horizon: int = 7,
) -> MarketAnalysis:
    """Stats for each of `levels`, trends for configuration and country levels, and
    longevity (given, or derived per epoch from the history when None)."""
    stats: dict[str, pd.DataFrame] = {lvl: segment_stats(history, lvl) for lvl in levels}
    trends: dict[str, pd.DataFrame] = {
        lvl: trend_frame(history, stats[lvl], lvl, window=trend_window, horizon=horizon)
        for lvl in ("configuration", "country")
        if lvl in stats
    }
    lon = longevity if longevity is not None else offer_longevity_epochs(history)
    dcs = datacenter_longevity(lon) if not lon.empty else pd.DataFrame()
    return MarketAnalysis(history, now, stats, trends, lon, dcs)


def analyze(
    obs: pd.DataFrame,
    *,
    since: datetime,
    until: datetime,
    origin: datetime | None = None,
    length: timedelta = EPOCH,
    levels: tuple[str, ...] = ("configuration", "country", "datacenter"),
    with_longevity: bool = True,
) -> MarketAnalysis:
    """Given price observations, analyze the window [since, until) with `until` as now."""
    history = history_from_observations(obs, since=since, until=until, origin=origin, length=length)
    window = obs.loc[(obs["ts"] >= pd.Timestamp(since)) & (obs["ts"] < pd.Timestamp(until))]
    lon = offer_longevity(window) if with_longevity else None
    return analyze_history(history, now=until, levels=levels, longevity=lon)


def market_trends(
    obs: pd.DataFrame,
    *,
    now: datetime,
    since: datetime,
    level: str = "country",
    origin: datetime | None = None,
    window: int = 30,
    horizon: int = 7,
) -> list[SegmentTrend]:
    """One call for the planner and budget forecasts: observations → SegmentTrend list."""
    history = history_from_observations(obs, since=since, until=now, origin=origin)
    stats = segment_stats(history, level)
    return segment_trends(history, stats, level, window=window, horizon=horizon)


def price_signals(
    obs: pd.DataFrame, *, now: datetime, since: datetime
) -> tuple[dict[tuple[str, str], Decimal], dict[tuple[str, str], float]]:
    """The trend signals the planner reads, per (configuration, country): the median
    forecast for the next epoch (USD, Decimal: it is compared with prices) and the
    Theil–Sen slope per epoch. Segments without a finite value are left out. The daemon's
    cycle and the backtest both call this, so they give the planner the same view."""
    forecast: dict[tuple[str, str], Decimal] = {}
    slope: dict[tuple[str, str], float] = {}
    for t in market_trends(obs, now=now, since=since, level="country"):
        if t.country is None:
            continue
        key = (t.configuration, t.country)
        nxt = t.forecast_for(1)
        if nxt is not None and math.isfinite(nxt.median):
            forecast[key] = Decimal(str(round(nxt.median, 6)))
        if math.isfinite(t.slope_per_epoch):
            slope[key] = float(t.slope_per_epoch)
    return forecast, slope
