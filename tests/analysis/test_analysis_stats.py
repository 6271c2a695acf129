"""Per-epoch segment statistics against hand-computed fixtures; gaps stay gaps."""

from __future__ import annotations

import math
import statistics
from datetime import UTC, datetime

import numpy as np
import pandas as pd
import pytest

from optimizer.analysis import (
    biggest_movers,
    cheapest,
    history_from_observations,
    price_signals,
    segment_stats,
    wide,
)

CFG2 = "cpu-2-ram-4gb-storage-25gb"
CFG4 = "cpu-4-ram-8gb-storage-25gb"
OFFERS = {
    "A": (CFG2, "FR", "PAR", "FR-PAR-1", 2, 4),
    "B": (CFG2, "DE", "FRA", "DE-FRA-1", 2, 4),
    "C": (CFG2, "DE", "BER", "DE-BER-1", 2, 4),
    "D": (CFG4, "FR", "PAR", "FR-PAR-1", 4, 8),
}
SINCE = datetime(2026, 3, 1, tzinfo=UTC)
UNTIL = datetime(2026, 3, 5, tzinfo=UTC)


def obs_frame(rows: list[tuple[str, str, float, int]]) -> pd.DataFrame:
    """(ts, offer, price, capacity) → the price_observations contract."""
    recs = []
    for ts, key, price, cap in rows:
        cfg, country, city, dc, vcpu, ram = OFFERS[key]
        recs.append(
            {"ts": pd.Timestamp(ts), "offer_key": key, "configuration": cfg, "country": country,
             "city": city, "datacenter": dc, "vcpu": vcpu, "ram_gb": ram, "price_usd": price,
             "capacity": cap}
        )  # fmt: skip
    df = pd.DataFrame(recs)
    df["ts"] = df["ts"].astype("datetime64[ns, UTC]")
    return df


# Mar 1 and Mar 2 have two snapshots each, Mar 3 none (a gap), Mar 4 two.
FIXTURE = [
    ("2026-03-01T06:00Z", "A", 1.0, 10), ("2026-03-01T18:00Z", "A", 1.2, 10),
    ("2026-03-01T06:00Z", "B", 2.0, 5), ("2026-03-01T18:00Z", "B", 2.0, 5),
    ("2026-03-01T06:00Z", "C", 3.0, 0), ("2026-03-01T18:00Z", "C", 3.0, 0),
    ("2026-03-01T06:00Z", "D", 4.0, 3), ("2026-03-01T18:00Z", "D", 4.0, 3),
    ("2026-03-02T06:00Z", "A", 1.0, 4), ("2026-03-02T18:00Z", "A", 1.0, 6),
    ("2026-03-02T06:00Z", "B", 3.0, 2),  # B missing from the 18:00 snapshot
    ("2026-03-02T06:00Z", "C", 3.0, 0), ("2026-03-02T18:00Z", "C", 3.0, 0),
    ("2026-03-02T06:00Z", "D", 4.4, 3), ("2026-03-02T18:00Z", "D", 4.4, 3),
    ("2026-03-04T06:00Z", "A", 2.0, 1), ("2026-03-04T18:00Z", "A", 2.0, 1),
    ("2026-03-04T06:00Z", "B", 2.0, 1), ("2026-03-04T18:00Z", "B", 2.0, 1),
    ("2026-03-04T06:00Z", "D", 4.4, 3), ("2026-03-04T18:00Z", "D", 4.4, 3),
]  # fmt: skip


@pytest.fixture
def history():
    return history_from_observations(obs_frame(FIXTURE), since=SINCE, until=UNTIL)


def _row(stats: pd.DataFrame, day: str, **keys: str) -> pd.Series:
    sel = stats["epoch"] == pd.Timestamp(day)
    for k, v in keys.items():
        sel &= stats[k] == v
    assert sel.sum() == 1, (day, keys)
    return stats.loc[sel].iloc[0]


def test_configuration_stats_match_hand_computation(history) -> None:
    """Mar 1, cpu-2: offer medians A 1.1, B 2.0, C 3.0 → median 2.0, p10 1.28, p90 2.8;
    min 1.0, max 3.0; capacity (20 + 10 + 0) / 2 snapshots = 15; per vCPU 1.0, per GB 0.5."""
    stats = segment_stats(history, "configuration")
    r = _row(stats, "2026-03-01T00:00Z", configuration=CFG2)
    assert r["min"] == 1.0 and r["max"] == 3.0
    assert r["median"] == pytest.approx(2.0)
    assert r["p10"] == pytest.approx(1.1 + 0.2 * (2.0 - 1.1))
    assert r["p90"] == pytest.approx(2.0 + 0.8 * (3.0 - 2.0))
    assert r["offers"] == 3
    assert r["capacity"] == pytest.approx(15.0)
    assert r["median_per_vcpu"] == pytest.approx(1.0)
    assert r["median_per_gb"] == pytest.approx(0.5)
    assert math.isnan(r["change_1"])  # first epoch: nothing to compare with

    r2 = _row(stats, "2026-03-02T00:00Z", configuration=CFG2)
    assert r2["median"] == pytest.approx(3.0)  # A 1.0, B 3.0 (one snapshot), C 3.0
    assert r2["capacity"] == pytest.approx((10 + 2 + 0) / 2)
    assert r2["change_1"] == pytest.approx(3.0 / 2.0 - 1)

    d = _row(stats, "2026-03-01T00:00Z", configuration=CFG4)
    assert d["median_per_vcpu"] == pytest.approx(1.0) and d["median_per_gb"] == pytest.approx(0.5)


def test_gap_epoch_has_no_row_and_breaks_changes(history) -> None:
    """Mar 3 had no snapshot: no row, and Mar 4's change_1 is NaN (not against Mar 2)."""
    stats = segment_stats(history, "configuration")
    days = sorted(stats.loc[stats["configuration"] == CFG2, "epoch"].dt.day)
    assert days == [1, 2, 4]
    r4 = _row(stats, "2026-03-04T00:00Z", configuration=CFG2)
    assert r4["median"] == pytest.approx(2.0) and r4["offers"] == 2
    assert math.isnan(r4["change_1"])
    assert history.snapshots.tolist() == [2, 2, 0, 2]
    assert history.observed_epochs == 3
    table = wide(stats, "median", "configuration", history.grid)
    assert len(table) == 4 and table.loc[pd.Timestamp("2026-03-03T00:00Z")].isna().all()


def test_country_and_datacenter_levels(history) -> None:
    """cpu-2 × DE on Mar 1: B 2.0 and C 3.0 → median 2.5; datacenters keep country too."""
    country = segment_stats(history, "country")
    r = _row(country, "2026-03-01T00:00Z", configuration=CFG2, country="DE")
    assert r["median"] == pytest.approx(2.5) and r["offers"] == 2
    dc = segment_stats(history, "datacenter")
    r = _row(dc, "2026-03-02T00:00Z", configuration=CFG2, datacenter="DE-FRA-1")
    assert r["country"] == "DE" and r["median"] == 3.0 and r["capacity"] == pytest.approx(1.0)
    offer = segment_stats(history, "offer")
    a1 = _row(offer, "2026-03-01T00:00Z", offer_key="A")
    assert a1["median"] == pytest.approx(1.1) and a1["min"] == 1.0 and a1["max"] == 1.2


def test_changes_against_7_and_30_epochs_and_volatility() -> None:
    """One offer for 40 days at p(d) = (1 or 2 alternating) × (1 + d/100): change_k is
    p(d)/p(d−k) − 1 and volatility the sample std of the last 7 log changes."""
    start = pd.Timestamp("2026-01-01T12:00Z")

    def p(d: int) -> float:
        return (1.0 if d % 2 == 0 else 2.0) * (1 + d / 100)

    rows = [((start + pd.Timedelta(days=d)).isoformat(), "A", p(d), 1) for d in range(40)]
    h = history_from_observations(
        obs_frame(rows), since=datetime(2026, 1, 1, tzinfo=UTC),
        until=datetime(2026, 2, 10, tzinfo=UTC),
    )  # fmt: skip
    stats = segment_stats(h, "configuration").set_index("epoch")
    day31 = pd.Timestamp("2026-02-01T00:00Z")
    assert stats.loc[day31, "change_1"] == pytest.approx(p(31) / p(30) - 1)
    assert stats.loc[day31, "change_7"] == pytest.approx(p(31) / p(24) - 1)
    assert stats.loc[day31, "change_30"] == pytest.approx(p(31) / p(1) - 1)
    window = [math.log(p(d) / p(d - 1)) for d in range(25, 32)]
    assert stats.loc[day31, "volatility"] == pytest.approx(statistics.stdev(window))
    assert stats["change_30"].iloc[:30].isna().all()
    assert stats["volatility"].iloc[:3].isna().all()  # fewer than 3 changes yet


def test_cheapest_and_movers(history) -> None:
    """Latest epoch Mar 4: cpu-2 × FR 2.0 and × DE 2.0; D (cpu-4 FR) moved 4.0 → 4.4."""
    country = segment_stats(history, "country")
    now = datetime(2026, 3, 4, 20, tzinfo=UTC)
    top = cheapest(country, "country", now=now, n=3)
    assert list(top["median_now"]) == [2.0, 2.0, 4.4]
    fr = top.loc[(top["configuration"] == CFG2) & (top["country"] == "FR")].iloc[0]
    assert fr["median_window"] == pytest.approx((1.1 + 1.0 + 2.0) / 3)
    assert biggest_movers(country, "country", now=now, lag=7).empty  # no data 7 epochs back
    movers = biggest_movers(country, "country", now=datetime(2026, 3, 2, 20, tzinfo=UTC), lag=1)
    assert movers.iloc[0]["change"] == pytest.approx(3.0 / 2.5 - 1)  # cpu-2 DE 2.5 → 3.0


def test_missing_columns_and_unknown_level_are_clear_errors(history) -> None:
    with pytest.raises(ValueError, match="missing columns: capacity"):
        history_from_observations(obs_frame(FIXTURE).drop(columns="capacity"), since=SINCE,
                                  until=UNTIL)  # fmt: skip
    with pytest.raises(ValueError, match="unknown segment level"):
        segment_stats(history, "planet")


def test_empty_history_gives_empty_stats() -> None:
    empty = obs_frame(FIXTURE).iloc[:0]
    h = history_from_observations(empty, since=SINCE, until=UNTIL)
    assert h.empty and h.observed_epochs == 0 and len(h.grid) == 4
    assert segment_stats(h, "country").empty
    assert np.all(h.snapshots.to_numpy() == 0)


def test_a_missing_country_is_a_segment_of_its_own() -> None:
    """Offers whose country is unknown (None) make their own segment instead of a
    KeyError (the store cannot produce one today; the function stays total)."""
    OFFERS["N"] = (CFG2, None, None, None, 2, 4)  # type: ignore[assignment]
    try:
        rows = [("2026-03-01T06:00Z", "N", 1.0, 2), ("2026-03-02T06:00Z", "N", 1.5, 2)]
        h = history_from_observations(obs_frame(rows), since=SINCE, until=UNTIL)
        stats = segment_stats(h, "country")
        signals = price_signals(obs_frame(rows), now=UNTIL, since=SINCE)
    finally:
        del OFFERS["N"]
    assert stats["country"].isna().all()
    assert list(stats["median"]) == [1.0, 1.5]
    assert stats["change_1"].iloc[1] == pytest.approx(0.5)
    assert signals == ({}, {})  # the planner's signals skip a segment without a country
