"""Timestamps leave the store as int64 nanoseconds through one conversion (`utc_ns`) that
does not depend on how pandas happens to hold them.

Issue 16: a chaos run's daemon died twice with numpy's "Cannot change data-type for
array of references", which is what `ndarray.view("int64")` raises on an object array
(and `to_numpy()` of any tz-aware column is one). The store's frames read int64 out of
the values' own buffer in several places (`.view`, then `.astype("int64")`), which is
also wrong, silently, for datetime64 data that is not in nanoseconds (pandas 3 infers
microseconds from Python datetimes).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd
import pytest
from sqlalchemy.engine import Engine

from optimizer.store.ingest import ingest_snapshot
from optimizer.store.queries import aggregate_epochs, epoch_stats, price_observations, utc_ns
from tests.store.conftest import wire_offer

T0 = datetime(2026, 1, 1, 23, 30, tzinfo=UTC)
TIMES = [T0, T0 + timedelta(minutes=45), T0 + timedelta(hours=1, seconds=1)]
EXPECTED = np.array([int(t.timestamp()) * 10**9 for t in TIMES], dtype="int64")

FORMS: dict[str, Callable[[], Any]] = {
    "aware ns": lambda: pd.Series(pd.DatetimeIndex(TIMES).as_unit("ns")),
    "aware us": lambda: pd.Series(pd.DatetimeIndex(TIMES).as_unit("us")),
    "aware s": lambda: pd.Series(pd.DatetimeIndex(TIMES).as_unit("s")),
    "naive (UTC wall time)": lambda: pd.Series(pd.DatetimeIndex(TIMES).tz_localize(None)),
    "object: datetimes": lambda: pd.Series(TIMES, dtype=object),
    "object: Timestamps": lambda: pd.Series([pd.Timestamp(t) for t in TIMES], dtype=object),
    "object: mixed tzinfo": lambda: pd.Series(
        [
            TIMES[0],
            TIMES[1].astimezone(ZoneInfo("UTC")),
            TIMES[2].astimezone(timezone(timedelta(hours=1))),
        ],
        dtype=object,
    ),
    "ISO text": lambda: pd.Series([t.isoformat() for t in TIMES]),
    "list of datetimes": lambda: list(TIMES),
}


@pytest.mark.parametrize("form", list(FORMS))
def test_utc_ns_reads_every_form_a_timestamp_column_arrives_in(form: str) -> None:
    values = FORMS[form]()
    ns = utc_ns(values)
    assert ns.dtype == np.dtype("int64")
    assert ns.tolist() == EXPECTED.tolist()


def test_utc_ns_of_nothing_is_an_empty_int64_array() -> None:
    empties: list[Any] = [
        [],
        pd.Series([], dtype=object),
        pd.Series([], dtype="datetime64[us, UTC]"),
    ]
    for empty in empties:
        ns = utc_ns(empty)
        assert ns.dtype == np.dtype("int64") and ns.size == 0


@pytest.mark.parametrize("form", ["aware us", "aware s", "object: Timestamps", "ISO text"])
def test_epoch_aggregates_do_not_depend_on_how_the_timestamps_are_held(form: str) -> None:
    """aggregate_epochs took `ts.astype("int64")` as nanoseconds: a microsecond column put
    every observation in epoch 0 (1970), an object column raised. The same observations
    must give the same aggregates whatever the column's dtype."""
    obs = pd.DataFrame(
        {
            "ts": FORMS["aware ns"](),
            "offer_id": [7, 7, 7],
            "price_micros": [300_000, 310_000, 290_000],
            "capacity": [3, 2, 4],
        }
    )
    expected = aggregate_epochs(obs)
    # 23:30 and 00:15 / 00:30:01: two epochs, the UTC days of the timestamps
    day = int(T0.timestamp()) // 86400
    assert expected["epoch"].tolist() == [day, day + 1]
    assert expected["samples"].tolist() == [1, 2]
    assert expected["first_seen_s"].tolist() == [23 * 3600 + 1800, 15 * 60]

    other = obs.assign(ts=FORMS[form]())
    pd.testing.assert_frame_equal(aggregate_epochs(other), expected)


def test_the_stores_readers_across_an_epoch_boundary(store: Engine) -> None:
    """Snapshots on both sides of midnight, one of them empty (an ok snapshot that listed
    nothing): the per-snapshot rows and the per-epoch aggregates come back with aware
    nanosecond timestamps on the right days."""
    for i, at in enumerate(TIMES):
        ingest_snapshot(store, [] if i == 1 else [wire_offer(price=f"0.3{i}")], at)
    obs = price_observations(store, since=T0 - timedelta(hours=1))
    assert str(obs["ts"].dtype) == "datetime64[ns, UTC]"
    assert utc_ns(obs["ts"]).tolist() == [EXPECTED[0], EXPECTED[2]]
    stats = epoch_stats(store, since=T0 - timedelta(hours=1))
    assert [t.day for t in stats["epoch_start"]] == [1, 2]
    assert stats["price_median_usd"].tolist() == [0.30, 0.32]
