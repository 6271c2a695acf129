"""Fleet spend and realized savings per epoch, read from the store for the report."""

from __future__ import annotations

from datetime import UTC, datetime

import pandas as pd
import pytest
import sqlalchemy as sa

from optimizer.analysis import epoch_grid
from optimizer.store.analysis_queries import fleet_frames
from optimizer.store.engine import open_store
from optimizer.store.tables.journal import FleetVm, SavingsEntry
from optimizer.store.tables.market import vm_observation_table, vm_table


def t(day: int, hour: int = 0) -> datetime:
    return datetime(2026, 3, day, hour, tzinfo=UTC)


@pytest.fixture
def store(db_url):
    engine = open_store(db_url)
    try:
        yield engine
    finally:
        engine.dispose()


def test_spend_is_what_was_charged_and_savings_come_from_the_ledger(store) -> None:
    """VM a (fleet web): totalSpent 2.4 when first seen Mar 1 12:00, 4.8 on Mar 2 12:00,
    still 4.8 when Stopped Mar 3: spend 2.4 on Mar 1 and on Mar 2, nothing on Mar 3.
    A foreign VM (not in fleet_vm) is ignored. A migration saving 0.5/epoch completed
    Mar 2 06:00 and still running at now = Mar 3 12:00: 0.375 on Mar 2, 0.25 on Mar 3."""
    with store.begin() as c:
        ids = {}
        for vm_id in ("0xa", "0xforeign"):
            ids[vm_id] = c.execute(
                sa.insert(vm_table).returning(vm_table.c.id),
                {"vm_id": vm_id, "name": vm_id, "first_seen": t(1), "last_seen": t(3)},
            ).scalar_one()
        c.execute(sa.insert(FleetVm.__table__), {"vm_id": "0xa", "fleet": "web",
                  "source": "created", "vm_name": "web-1", "owned_at": t(1)})  # fmt: skip
        obs = vm_observation_table
        c.execute(sa.insert(obs), [
            {"vm_ref": ids["0xa"], "status": "Active", "price_micros": 2_400_000,
             "spent_micros": 2_400_000, "from_at": t(1, 12), "to_at": t(2, 11)},
            {"vm_ref": ids["0xa"], "status": "Active", "price_micros": 2_400_000,
             "spent_micros": 4_800_000, "from_at": t(2, 12), "to_at": t(2, 23)},
            {"vm_ref": ids["0xa"], "status": "Stopped", "price_micros": 2_400_000,
             "spent_micros": 4_800_000, "from_at": t(3, 0), "to_at": t(3, 12)},
            {"vm_ref": ids["0xforeign"], "status": "Active", "price_micros": 9_000_000,
             "spent_micros": 9_000_000, "from_at": t(1, 0), "to_at": t(3, 12)},
        ])  # fmt: skip
        c.execute(sa.insert(SavingsEntry.__table__), {
            "fleet": "web", "action_id": 1, "old_vm_id": "0xold", "new_vm_id": "0xa",
            "old_price_micros": 2_900_000, "new_price_micros": 2_400_000,
            "completed_at": t(2, 6), "ended_at": None})  # fmt: skip
    grid = epoch_grid(t(1), t(3, 12))
    spend, saved = fleet_frames(store, grid, now=t(3, 12))
    by_day = dict(zip(spend["epoch"].dt.day, spend["spend_usd"], strict=True))
    assert set(spend["fleet"]) == {"web"}
    assert by_day[1] == pytest.approx(2.4) and by_day[2] == pytest.approx(2.4)
    assert 3 not in by_day
    s = dict(zip(saved["epoch"].dt.day, saved["savings_usd"], strict=True))
    assert s == {2: pytest.approx(0.5 * 18 / 24), 3: pytest.approx(0.5 * 12 / 24)}


def test_no_fleets_gives_empty_frames(store) -> None:
    spend, saved = fleet_frames(store, epoch_grid(t(1), t(2)), now=t(2))
    assert spend.empty and saved.empty
    assert list(spend.columns) == ["epoch", "fleet", "spend_usd"]
    assert isinstance(saved, pd.DataFrame)
