"""Offer longevity: spells, vanishes and the per-datacenter roll-up."""

from __future__ import annotations

import math
from datetime import UTC, datetime

import pandas as pd
import pytest

from optimizer.analysis import (
    datacenter_longevity,
    history_from_observations,
    offer_longevity,
    offer_longevity_epochs,
)

T0 = pd.Timestamp("2026-03-01T00:00Z")


def _presence(listing: dict[str, list[int]], hours: int = 1) -> pd.DataFrame:
    recs = []
    for key, snaps in listing.items():
        for s in snaps:
            recs.append(
                {"ts": T0 + pd.Timedelta(hours=hours * s), "offer_key": key,
                 "configuration": "cpu-2-ram-4gb-storage-25gb", "country": "FR", "city": "PAR",
                 "datacenter": "FR-PAR-1" if key != "C" else "DE-FRA-1", "vcpu": 2,
                 "ram_gb": 4, "price_usd": 1.0, "capacity": 1}
            )  # fmt: skip
    df = pd.DataFrame(recs)
    df["ts"] = df["ts"].astype("datetime64[ns, UTC]")
    return df


def test_spells_and_vanishes_from_snapshots() -> None:
    """Hourly snapshots 0..9. A: 0-4 and 7-9 (vanished once, back, listed now);
    B: 0-2 (vanished, gone); C: every snapshot (never vanished)."""
    df = _presence({"A": [0, 1, 2, 3, 4, 7, 8, 9], "B": [0, 1, 2], "C": list(range(10))})
    lon = offer_longevity(df).set_index("offer_key")
    assert lon.loc["A", "spells"] == 2 and lon.loc["A", "vanishes"] == 1
    assert lon.loc["A", "listed_now"]
    assert lon.loc["A", "listed_hours"] == pytest.approx(5 + 3)  # each snapshot = 1 h
    assert lon.loc["A", "mean_spell_hours"] == pytest.approx(4.0)
    assert lon.loc["B", "vanishes"] == 1 and not lon.loc["B", "listed_now"]
    assert lon.loc["B", "last_seen"] == T0 + pd.Timedelta(hours=2)
    assert lon.loc["C", "vanishes"] == 0 and lon.loc["C", "spells"] == 1
    assert lon.loc["C", "first_seen"] == T0

    dcs = datacenter_longevity(lon.reset_index()).set_index("datacenter")
    assert dcs.loc["DE-FRA-1", "listing_stability"] == 1.0
    # FR-PAR-1: 2 vanishes over 8 + 3 listed hours
    assert dcs.loc["FR-PAR-1", "vanishes_per_epoch"] == pytest.approx(2 / (11 / 24))
    assert dcs.loc["FR-PAR-1", "listing_stability"] == pytest.approx(math.exp(-2 / (11 / 24)))
    assert list(dcs.index) == ["DE-FRA-1", "FR-PAR-1"]  # most stable first


def test_epoch_longevity_from_daily_aggregates() -> None:
    """Snapshots every 6 h for 4 days. A: all but one snapshot of day 2 (a short vanish
    inside a spell); B: days 0-1 only (vanished); C: always."""
    all_snaps = list(range(16))
    df = _presence(
        {"A": [s for s in all_snaps if s != 9], "B": list(range(8)), "C": all_snaps}, hours=6
    )
    h = history_from_observations(
        df, since=datetime(2026, 3, 1, tzinfo=UTC), until=datetime(2026, 3, 5, tzinfo=UTC)
    )
    lon = offer_longevity_epochs(h).set_index("offer_key")
    assert lon.loc["A", "spells"] == 1 and lon.loc["A", "vanishes"] == 1
    assert lon.loc["A", "listed_hours"] == pytest.approx(96 - 6)
    assert lon.loc["B", "vanishes"] == 1 and not lon.loc["B", "listed_now"]
    assert lon.loc["C", "vanishes"] == 0 and lon.loc["C", "listed_now"]


def test_empty_input_gives_empty_frames() -> None:
    empty = _presence({"A": [0]}).iloc[:0]
    assert offer_longevity(empty).empty
    assert datacenter_longevity(offer_longevity(empty)).empty
