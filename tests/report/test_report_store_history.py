"""market_history (the report's push-down loader) agrees with the store's own
epoch_stats, on rolled-up and raw epochs, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta

import numpy as np
import pandas as pd
import pytest

from optimizer.sim.simulator import Simulator
from optimizer.store.analysis_queries import market_history
from optimizer.store.engine import open_store
from optimizer.store.queries import epoch_stats
from optimizer.store.retention import roll_up
from tests.report.conftest import record_history


@pytest.fixture
def store(db_url):
    engine = open_store(db_url)
    try:
        yield engine
    finally:
        engine.dispose()


def test_market_history_matches_epoch_stats_across_roll_up(store) -> None:
    """6 days of 6-hourly snapshots, the first 3 rolled up: same offer-epoch rows, prices,
    samples and first/last seen as queries.epoch_stats; a filter narrows both alike."""
    sim = Simulator(seed=5, offers=15)
    start = sim.now()
    record_history(store, sim, days=6, every=timedelta(hours=6))
    end = sim.now()
    roll_up(store, end, raw_days=3)
    mine = market_history(store, start, end).offer_epochs
    theirs = epoch_stats(store, start, end - timedelta(microseconds=1))
    assert len(mine) == len(theirs) > 0
    mine = mine.sort_values(["epoch", "offer_key"]).reset_index(drop=True)
    for a, b in (("epoch", "epoch_start"), ("offer_key", "offer_key"), ("n_obs", "samples"),
                 ("datacenter", "datacenter"), ("first_seen", "first_seen"),
                 ("last_seen", "last_seen")):  # fmt: skip
        assert list(mine[a]) == list(theirs[b]), a
    for a, b in (("price_min", "price_min_usd"), ("price_median", "price_median_usd"),
                 ("price_max", "price_max_usd")):  # fmt: skip
        assert np.allclose(mine[a].to_numpy(), theirs[b].to_numpy(), rtol=0, atol=1e-6), a
    cfg = theirs["configuration"].iloc[0]
    only = market_history(store, start, end, configuration=cfg).offer_epochs
    assert set(only["configuration"]) == {cfg}
    assert len(only) == int((theirs["configuration"] == cfg).sum())


def test_empty_store_gives_an_empty_history(store) -> None:
    now = pd.Timestamp("2026-01-10T00:00Z").to_pydatetime()
    h = market_history(store, now - timedelta(days=3), now)
    assert h.empty and h.observed_epochs == 0 and len(h.grid) == 3
