"""The one injectable clock. Production code asks a Clock for the time; tests pass
freezegun-controlled or the simulator's stepped clock. Pure modules (analysis, planner)
never read any clock: `now` is an argument."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Protocol

#: The marketplace-v3 billing epoch: prices are per epoch, deals run epoch by epoch.
EPOCH = timedelta(hours=24)
EPOCH_SECONDS = int(EPOCH.total_seconds())
#: hours in an epoch (24): an hourly price × this = the planner's per-epoch unit
EPOCH_HOURS = EPOCH_SECONDS // 3600


class Clock(Protocol):
    def now(self) -> datetime: ...

    def sleep(self, seconds: float) -> None: ...


class SystemClock:
    """Wall-clock time, timezone-aware UTC."""

    def now(self) -> datetime:
        return datetime.now(UTC)

    def sleep(self, seconds: float) -> None:
        if seconds > 0:
            time.sleep(seconds)


def utc(dt: datetime) -> datetime:
    """Return `dt` as aware UTC; a naive datetime is taken to be UTC already."""
    return dt.replace(tzinfo=UTC) if dt.tzinfo is None else dt.astimezone(UTC)
