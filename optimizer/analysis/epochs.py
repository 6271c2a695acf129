"""Epoch bucketing: which 24 h epoch a UTC timestamp belongs to.

An epoch is `[origin + k·length, origin + (k+1)·length)` for an integer k. The default
origin is the Unix epoch (00:00 UTC), so epochs are UTC calendar days; a deployment
whose billing days start at 17:55 UTC passes `origin=…17:55`. A timestamp exactly on a
boundary belongs to the epoch that STARTS there. Pure and vectorized: no clock reads.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import numpy as np
import pandas as pd

from optimizer.clock import EPOCH

DEFAULT_ORIGIN = pd.Timestamp("1970-01-01T00:00:00", tz="UTC")


def _origin(origin: datetime | pd.Timestamp | None) -> pd.Timestamp:
    ts = pd.Timestamp(DEFAULT_ORIGIN if origin is None else origin)
    if ts.tzinfo is None:
        raise ValueError("epoch origin must be timezone-aware (UTC)")
    return ts.tz_convert("UTC").as_unit("ns")


def _length_ns(length: timedelta) -> int:
    ns = int(pd.Timedelta(length).value)
    if ns <= 0:
        raise ValueError("epoch length must be positive")
    return ns


def epoch_number(
    ts: pd.Series | pd.DatetimeIndex,
    *,
    origin: datetime | pd.Timestamp | None = None,
    length: timedelta = EPOCH,
) -> np.ndarray:
    """Given aware UTC timestamps, return the integer epoch number k of each (int64 array).

    Floor division, so timestamps before the origin get negative numbers and a timestamp
    on a boundary starts the new epoch.
    """
    values = pd.DatetimeIndex(ts)
    if values.tz is None:
        raise ValueError("timestamps must be timezone-aware (UTC)")
    ns = values.tz_convert("UTC").as_unit("ns").asi8
    return np.floor_divide(ns - _origin(origin).value, _length_ns(length))


def epoch_start(
    ts: pd.Series | pd.DatetimeIndex,
    *,
    origin: datetime | pd.Timestamp | None = None,
    length: timedelta = EPOCH,
) -> pd.DatetimeIndex:
    """Given aware UTC timestamps, return the start of each one's epoch (aware UTC, ns)."""
    return epoch_start_of(
        epoch_number(ts, origin=origin, length=length), origin=origin, length=length
    )


def epoch_start_of(
    k: np.ndarray,
    *,
    origin: datetime | pd.Timestamp | None = None,
    length: timedelta = EPOCH,
) -> pd.DatetimeIndex:
    """The start (aware UTC) of each epoch number in `k` — the inverse of epoch_number."""
    ns = np.asarray(k, dtype="int64") * _length_ns(length) + _origin(origin).value
    return pd.DatetimeIndex(pd.to_datetime(ns, unit="ns", utc=True))


def epoch_of(
    when: datetime,
    *,
    origin: datetime | pd.Timestamp | None = None,
    length: timedelta = EPOCH,
) -> pd.Timestamp:
    """The start of the epoch containing one aware datetime."""
    return epoch_start(pd.DatetimeIndex([pd.Timestamp(when)]), origin=origin, length=length)[0]


def epoch_grid(
    since: datetime,
    until: datetime,
    *,
    origin: datetime | pd.Timestamp | None = None,
    length: timedelta = EPOCH,
) -> pd.DatetimeIndex:
    """Every epoch start that overlaps the half-open window [since, until): from the epoch
    containing `since` to the one containing the last instant before `until`. Reindexing
    on this grid is how gaps show up as NaN."""
    first = epoch_of(since, origin=origin, length=length)
    last = epoch_of(pd.Timestamp(until) - pd.Timedelta(1, "ns"), origin=origin, length=length)
    if last < first:
        return pd.DatetimeIndex([], tz="UTC", name="epoch").as_unit("ns")
    return pd.date_range(first, last, freq=pd.Timedelta(length), name="epoch").as_unit("ns")
