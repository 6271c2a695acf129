"""Helpers for backtest tests: tiny hand-made markets (imported by the test modules)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pandas as pd

from optimizer.backtest.prices import Market, from_frame
from optimizer.config import FleetConfig

T0 = datetime(2026, 3, 1, tzinfo=UTC)


def make_market(
    prices: dict[str, list[float | None]],
    *,
    step: timedelta = timedelta(hours=8),
    capacity: dict[str, list[int]] | None = None,
    configuration: str = "cpu-2-ram-4gb-storage-25gb",
    country: str = "DE",
) -> Market:
    """offer key → price per snapshot (None = not listed); snapshots `step` apart."""
    rows = []
    for key, series in prices.items():
        for i, p in enumerate(series):
            if p is None:
                continue
            rows.append(
                {
                    "ts": T0 + i * step,
                    "offer_key": key,
                    "configuration": configuration,
                    "country": country,
                    "datacenter": f"{country}-X-{key}",
                    "price_usd": p,
                    "capacity": capacity[key][i] if capacity else -1,
                }
            )
    return Market.build(from_frame(pd.DataFrame(rows), "test"))


def make_fleet(instances: int = 1, **policy: object) -> FleetConfig:
    return FleetConfig(
        name="web",
        instances=instances,
        ssh_keys=["k"],
        os_image="https://example.com/a.img",
        policy=policy,
    )
