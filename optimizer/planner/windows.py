"""Maintenance windows: when disruptive changes (scale-down, cutovers) may happen. Pure."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import get_args

from optimizer.config import MaintenanceWindow, Weekday

_DAYS: tuple[Weekday, ...] = get_args(Weekday)  # Monday first, as datetime.weekday()


def in_window(t: datetime, windows: Sequence[MaintenanceWindow]) -> bool:
    """True when `t` (UTC) falls in one of the daily windows, or when there are none."""
    if not windows:
        return True
    tod = t.timetz().replace(tzinfo=None)
    for w in windows:
        if w.start <= w.end:
            if _DAYS[t.weekday()] in w.days and w.start <= tod < w.end:
                return True
        else:  # crosses midnight: belongs to the day it started
            if tod >= w.start and _DAYS[t.weekday()] in w.days:
                return True
            if tod < w.end and _DAYS[(t.weekday() - 1) % 7] in w.days:
                return True
    return False
