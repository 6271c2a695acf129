"""The store → analysis seam: load a MarketHistory (one row per offer per epoch) for a
window, so reports and trends never load per-snapshot rows they would only aggregate.

It reads `queries.epoch_stats`, which combines rolled-up epochs (`offer_epoch`, already
aggregated in the database) with raw intervals not rolled up yet, and maps its columns to
the analysis contract (`optimizer.analysis.stats.OFFER_EPOCH_COLUMNS`). Epochs here are
the store's: UTC days.

Capacity: the store keeps min and max capacity per offer-epoch, so an offer's capacity
over the epoch is taken as (min + max) / 2 for each snapshot that listed it (exact when
it did not change within the epoch, as is usual).
"""

from __future__ import annotations

from datetime import datetime

import pandas as pd
from sqlalchemy.engine import Engine

from optimizer.analysis.epochs import epoch_grid
from optimizer.analysis.stats import OFFER_EPOCH_COLUMNS, MarketHistory, history_from_offer_epochs
from optimizer.clock import utc
from optimizer.store.queries import epoch_stats


def market_history(
    engine: Engine,
    since: datetime,
    until: datetime,
    configuration: str | None = None,
    country: str | None = None,
) -> MarketHistory:
    """The market in [since, until) as a MarketHistory on the UTC-day epoch grid.

    Raise StoreError when the database fails. An empty store gives an empty history
    (`history.empty`), not an error.
    """
    since, until = utc(since), utc(until)
    raw = epoch_stats(engine, since, until, configuration=configuration, country=country)
    grid = epoch_grid(since, until)
    samples = raw["samples"].to_numpy(dtype="float64")
    cap_mid = (raw["capacity_min"].to_numpy(dtype="float64")
               + raw["capacity_max"].to_numpy(dtype="float64")) / 2.0  # fmt: skip
    oe = pd.DataFrame(
        {
            "epoch": raw["epoch_start"],
            "offer_key": raw["offer_key"],
            "configuration": raw["configuration"],
            "country": raw["country"],
            "city": raw["city"],
            "datacenter": raw["datacenter"],
            "vcpu": raw["vcpu"],
            "ram_gb": raw["ram_gb"],
            "price_min": raw["price_min_usd"],
            "price_median": raw["price_median_usd"],
            "price_max": raw["price_max_usd"],
            "capacity_sum": cap_mid * samples,
            "n_obs": raw["samples"],
            "first_seen": raw["first_seen"],
            "last_seen": raw["last_seen"],
        },
        columns=list(OFFER_EPOCH_COLUMNS),
    )
    return history_from_offer_epochs(oe, grid=grid)
