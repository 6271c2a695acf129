"""Epoch bucketing: UTC days by default, boundaries start the new epoch, custom origins."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pandas as pd
import pytest

from optimizer.analysis.epochs import epoch_grid, epoch_number, epoch_of, epoch_start


def _idx(*stamps: str) -> pd.DatetimeIndex:
    return pd.DatetimeIndex([pd.Timestamp(s) for s in stamps])


def test_timestamp_on_boundary_starts_the_new_epoch() -> None:
    """00:00:00 UTC belongs to the day that starts there; one nanosecond before does not."""
    ts = _idx("2026-03-01T23:59:59.999999999Z", "2026-03-02T00:00:00Z", "2026-03-02T12:00Z")
    starts = epoch_start(ts)
    assert list(starts) == [
        pd.Timestamp("2026-03-01T00:00Z"),
        pd.Timestamp("2026-03-02T00:00Z"),
        pd.Timestamp("2026-03-02T00:00Z"),
    ]
    k = epoch_number(ts)
    assert k[1] - k[0] == 1 and k[2] == k[1]
    assert k[1] == (datetime(2026, 3, 2, tzinfo=UTC) - datetime(1970, 1, 1, tzinfo=UTC)).days


def test_other_timezones_are_bucketed_by_their_utc_instant() -> None:
    """01:30 in UTC+2 is 23:30 UTC of the previous day."""
    ts = pd.DatetimeIndex([pd.Timestamp("2026-03-02T01:30:00+02:00")])
    assert epoch_start(ts)[0] == pd.Timestamp("2026-03-01T00:00Z")


def test_custom_origin_moves_the_boundaries() -> None:
    """With billing days starting 17:55 UTC, 17:54:59 and 17:55:00 fall in different epochs."""
    origin = datetime(2025, 1, 1, 17, 55, tzinfo=UTC)
    ts = _idx("2026-03-02T17:54:59Z", "2026-03-02T17:55:00Z", "2026-03-03T17:54:59Z")
    starts = epoch_start(ts, origin=origin)
    assert list(starts) == [
        pd.Timestamp("2026-03-01T17:55Z"),
        pd.Timestamp("2026-03-02T17:55Z"),
        pd.Timestamp("2026-03-02T17:55Z"),
    ]


def test_times_before_the_origin_floor_to_negative_epochs() -> None:
    ts = _idx("1969-12-31T23:00:00Z", "1970-01-01T00:00:00Z")
    assert list(epoch_number(ts)) == [-1, 0]


def test_custom_length() -> None:
    ts = _idx("2026-03-02T05:59:59Z", "2026-03-02T06:00:00Z")
    starts = epoch_start(ts, length=timedelta(hours=6))
    assert list(starts) == [pd.Timestamp("2026-03-02T00:00Z"), pd.Timestamp("2026-03-02T06:00Z")]


def test_naive_timestamps_are_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        epoch_number(pd.DatetimeIndex([pd.Timestamp("2026-03-02T05:00:00")]))


def test_grid_covers_the_half_open_window() -> None:
    """[Mar 1 12:00, Mar 4 00:00) overlaps Mar 1, 2 and 3 — not Mar 4."""
    grid = epoch_grid(datetime(2026, 3, 1, 12, tzinfo=UTC), datetime(2026, 3, 4, tzinfo=UTC))
    assert list(grid.strftime("%d")) == ["01", "02", "03"]
    assert grid.freq is not None
    single = epoch_grid(datetime(2026, 3, 1, 1, tzinfo=UTC), datetime(2026, 3, 1, 2, tzinfo=UTC))
    assert list(single) == [pd.Timestamp("2026-03-01T00:00Z")]
    assert epoch_of(datetime(2026, 3, 1, 23, tzinfo=UTC)) == pd.Timestamp("2026-03-01T00:00Z")
