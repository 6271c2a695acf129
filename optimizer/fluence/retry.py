"""Retry policy for idempotent API calls: exponential backoff with full jitter, honouring
`Retry-After` on 429/503.

Only reads, `POST /marketplace/offers` and `POST /vms/v3/estimate` are retried; the client
decides which calls are retryable, this module only decides how long to wait.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

#: Statuses worth another try (besides transport errors and timeouts).
RETRYABLE_STATUSES = frozenset({429, 500, 502, 503, 504})


def parse_retry_after(value: str | None, *, now: datetime | None = None) -> float | None:
    """`Retry-After` header → seconds to wait (>= 0), or None when absent or unparsable.

    Accepts delta-seconds (`"3"`, `"1.5"`) and an HTTP date
    (`"Wed, 21 Oct 2026 07:28:00 GMT"`, relative to `now`, default the current UTC time).
    """
    if value is None:
        return None
    value = value.strip()
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        pass
    else:
        if seconds != seconds or seconds in (float("inf"), float("-inf")):
            return None
        return max(seconds, 0.0)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    ref = now or datetime.now(UTC)
    return max((when - ref).total_seconds(), 0.0)


@dataclass(frozen=True)
class RetryPolicy:
    """How many times to retry and how long to wait.

    Attempt n (0-based, after the n-th failure) waits uniform(0, min(cap, base * 2**n))
    ("full jitter"). A server's Retry-After wins when present, but is capped at
    `max_retry_after` so a hostile or confused server cannot park us for hours.
    """

    max_retries: int = 4
    base_delay: float = 0.5
    cap: float = 30.0
    max_retry_after: float = 120.0
    rand: Callable[[], float] = field(default=random.random, compare=False, repr=False)

    def backoff(self, attempt: int) -> float:
        """Delay before retry number `attempt + 1` without a server hint."""
        ceiling = min(self.cap, self.base_delay * (2.0**attempt))
        return ceiling * self.rand()

    def delay(self, attempt: int, retry_after: float | None = None) -> float:
        """Delay before the next try; Retry-After (seconds) overrides the backoff."""
        if retry_after is not None:
            return min(max(retry_after, 0.0), self.max_retry_after)
        return self.backoff(attempt)


NO_RETRIES = RetryPolicy(max_retries=0)
