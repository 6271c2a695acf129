"""Offer levels: the median of the last epoch and a prediction interval from its robust
scale, per offer."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pandas as pd

from optimizer.analysis.levels import offer_levels

NOW = datetime(2026, 1, 2, tzinfo=UTC)


def _obs(key: str, prices: list[float]) -> list[dict[str, object]]:
    """One observation an hour, the last one at NOW."""
    n = len(prices)
    return [
        {"ts": NOW - timedelta(hours=n - 1 - i), "offer_key": key, "price_usd": p}
        for i, p in enumerate(prices)
    ]  # fmt: skip


def test_a_short_dip_moves_neither_the_level_nor_its_interval() -> None:
    prices = [0.30] * 20 + [0.27, 0.27, 0.27, 0.30]
    lv = offer_levels(pd.DataFrame(_obs("DE-1", prices)), now=NOW)
    assert lv == {"DE-1": (Decimal("0.3"), Decimal("0.0"))}


def test_noise_widens_the_interval_and_old_rows_are_ignored() -> None:
    noisy = [0.30, 0.31, 0.32] * 8
    rows = _obs("FR-1", noisy) + _obs("NL-1", [5.0] * 10 + [0.4] * 24)  # 10 h older than 24 h
    lv = offer_levels(pd.DataFrame(rows), now=NOW)
    median, half = lv["FR-1"]
    assert median == Decimal("0.31")
    # MAD 0.01 → σ 0.014826; 90 %: 1.645 · σ · sqrt(1 + 1/24)
    assert abs(float(half) - 1.645 * 0.014826 * (1 + 1 / 24) ** 0.5) < 1e-6
    assert lv["NL-1"] == (Decimal("0.4"), Decimal("0.0"))


def test_offers_with_too_few_points_are_left_out() -> None:
    rows = _obs("DE-1", [0.3, 0.3]) + _obs("DE-2", [0.6] * 5)
    lv = offer_levels(pd.DataFrame(rows), now=NOW)
    assert list(lv) == ["DE-2"]


def test_the_week_level_is_the_median_of_the_last_seven_days() -> None:
    """A week at 0.40 then a day at 0.30: the day's level is 0.30, the week's 0.40; rows
    older than 7 days (here at 9.00) and offers seen fewer than 3 times are left out."""
    from optimizer.analysis.levels import week_levels

    rows = _obs("NL-1", [9.0] * 24 + [0.40] * 6 * 24 + [0.30] * 24) + _obs("PL-1", [0.2, 0.2])
    obs = pd.DataFrame(rows)
    assert offer_levels(obs, now=NOW)["NL-1"] == (Decimal("0.3"), Decimal("0.0"))
    assert week_levels(obs, now=NOW) == {"NL-1": Decimal("0.4")}
