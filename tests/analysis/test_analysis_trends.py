"""Theil–Sen trends and forecasts: robust to outliers, gaps skipped, intervals sane."""

from __future__ import annotations

import math
from datetime import UTC, datetime

import numpy as np
import pandas as pd
import pytest

from optimizer.analysis import history_from_observations, market_trends, segment_stats
from optimizer.analysis.trends import segment_trends, theil_sen, trend_frame

START = pd.Timestamp("2026-01-01T12:00Z")


def _obs(prices: dict[str, list[float | None]]) -> pd.DataFrame:
    """One observation per day per offer (None = not listed that day)."""
    recs = []
    for key, series in prices.items():
        for d, price in enumerate(series):
            if price is None:
                continue
            recs.append(
                {"ts": START + pd.Timedelta(days=d), "offer_key": key,
                 "configuration": "cpu-2-ram-4gb-storage-25gb", "country": key[:2],
                 "city": "X", "datacenter": f"{key[:2]}-X-1", "vcpu": 2, "ram_gb": 4,
                 "price_usd": price, "capacity": 1}
            )  # fmt: skip
    df = pd.DataFrame(recs)
    df["ts"] = df["ts"].astype("datetime64[ns, UTC]")
    return df


def test_theil_sen_ignores_an_outlier_and_gaps() -> None:
    """y = 2 + 0.5x with one wild spike and two missing points: slope stays exactly 0.5."""
    x = np.arange(12, dtype=float)
    y = 2 + 0.5 * x
    y[5] = 100.0
    y[[2, 8]] = np.nan
    slope, intercept = theil_sen(y[None, :])
    assert slope[0] == pytest.approx(0.5)
    assert intercept[0] == pytest.approx(2.0)
    flat, _ = theil_sen(np.array([[np.nan, 1.0, np.nan, np.nan]]))
    assert math.isnan(flat[0])  # one point: no slope


def test_rows_are_fitted_independently() -> None:
    y = np.vstack([np.arange(5.0), -2 * np.arange(5.0), np.full(5, 3.0)])
    slope, intercept = theil_sen(y)
    assert list(slope) == pytest.approx([1.0, -2.0, 0.0])
    assert list(intercept) == pytest.approx([0.0, 0.0, 3.0])


def test_forecast_continues_the_line_with_an_interval_around_it() -> None:
    """A steady +0.01/epoch rise with noise: the forecast for +h is near the line, the
    interval contains it, widens with h, and the low bound is never negative."""
    rng = np.random.default_rng(3)
    n = 30
    series = [1.0 + 0.01 * d + rng.normal(0, 0.005) for d in range(n)]
    h = history_from_observations(
        _obs({"FR1": series}), since=datetime(2026, 1, 1, tzinfo=UTC),
        until=datetime(2026, 1, 31, tzinfo=UTC),
    )  # fmt: skip
    stats = segment_stats(h, "country")
    (t,) = segment_trends(h, stats, "country", window=30, horizon=7)
    assert t.country == "FR" and t.datacenter is None
    assert t.slope_per_epoch == pytest.approx(0.01, abs=0.002)
    assert t.points == n
    assert t.as_of == datetime(2026, 1, 30, tzinfo=UTC)
    assert t.median_now == pytest.approx(series[-1])
    for k, f in enumerate(t.forecast, start=1):
        truth = 1.0 + 0.01 * (n - 1 + k)
        assert f.low <= truth <= f.high
        assert f.low >= 0
        assert f.epoch == datetime(2026, 1, 30, tzinfo=UTC) + pd.Timedelta(days=k)
    widths = [f.high - f.low for f in t.forecast]
    assert widths == sorted(widths)
    assert t.forecast_for(1) == t.forecast[0] and t.forecast_for(8) is None


def test_short_or_gappy_segments_get_nan_slope_not_a_guess() -> None:
    """A segment with only 2 observed epochs in the window has no slope (min_points 3)."""
    prices = {"FR1": [1.0 + 0.1 * d for d in range(10)],
              "DE1": [None] * 8 + [2.0, 2.2]}  # fmt: skip
    h = history_from_observations(
        _obs(prices), since=datetime(2026, 1, 1, tzinfo=UTC),
        until=datetime(2026, 1, 11, tzinfo=UTC),
    )  # fmt: skip
    frame = trend_frame(h, segment_stats(h, "country"), "country", window=10, horizon=2)
    de = frame.loc[frame["country"] == "DE"].iloc[0]
    fr = frame.loc[frame["country"] == "FR"].iloc[0]
    assert de["points"] == 2 and math.isnan(de["slope_per_epoch"])
    assert math.isnan(de["f1_median"])
    assert fr["slope_per_epoch"] == pytest.approx(0.1)
    assert fr["f1_median"] == pytest.approx(1.0 + 0.1 * 10)


def test_market_trends_one_call() -> None:
    obs = _obs({"FR1": [1.0] * 5, "DE1": [2.0, 2.0, 2.0, 2.1, 2.2]})
    trends = market_trends(obs, now=datetime(2026, 1, 6, tzinfo=UTC),
                           since=datetime(2026, 1, 1, tzinfo=UTC))  # fmt: skip
    by_country = {t.country: t for t in trends}
    assert by_country["FR"].slope_per_epoch == 0.0
    assert by_country["DE"].slope_per_epoch > 0
    assert by_country["DE"].median_now == pytest.approx(2.2)
