"""Retention roll-up: raw history older than raw_days becomes per-epoch aggregates."""

from __future__ import annotations

import statistics
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from optimizer.fluence.models import Offer
from optimizer.store.ingest import ingest_snapshot, record_failed_snapshot
from optimizer.store.queries import epoch_stats, price_observations
from optimizer.store.retention import roll_up
from tests.store.conftest import wire_offer

DAY0 = datetime(2026, 1, 10, tzinfo=UTC)
STEP = timedelta(hours=3)


def _history() -> list[tuple[datetime, dict[str, tuple[str, int]]]]:
    """Three days, 8 snapshots a day; offer A moves price every few snapshots, B vanishes
    on day 1 afternoon and comes back on day 2."""
    out = []
    a_prices = ["0.30", "0.30", "0.31", "0.28", "0.28", "0.35", "0.30", "0.30"]
    for day in range(3):
        for n in range(8):
            at = DAY0 + timedelta(days=day) + n * STEP
            listed = {"A": (a_prices[(n + day) % 8], 5 - n % 3)}
            if not (day == 1 and n >= 4):
                listed["B"] = (f"0.{40 + day}", 2 + day)
            out.append((at, listed))
    return out


def _offer(name: str, price: str, cap: int) -> dict:
    return wire_offer(index={"A": 1, "B": 2}[name], price=price, capacity=cap)


def test_roll_up_equals_hand_computed_aggregates(store: Engine) -> None:
    history = _history()
    for i, (at, listed) in enumerate(history):
        if i == 5:
            record_failed_snapshot(store, at - timedelta(minutes=1), 100, "API down")
        ingest_snapshot(store, [_offer(k, *v) for k, v in listed.items()], at)
    raw_before = price_observations(store, since=DAY0)
    # keep 1 raw day: days 0 and 1 are rolled up, day 2 stays raw
    now = DAY0 + timedelta(days=3, hours=1)
    summary = roll_up(store, now, raw_days=1, epoch_days=730)
    assert summary.epochs_rolled == 2 and summary.snapshots_deleted == 17

    stats = epoch_stats(store, since=DAY0)
    keys = {k: Offer.model_validate(_offer(k, "1", 1)).offer_key for k in "AB"}
    for day in range(3):
        for name in "AB":
            obs = [
                (at, *listed[name])
                for at, listed in history
                if name in listed and (at - DAY0).days == day
            ]
            micros = [round(float(p) * 1e6) for _, p, _ in obs]
            caps = [c for _, _, c in obs]
            row = stats[
                (stats.offer_key == keys[name]) & (stats.epoch_start == DAY0 + timedelta(days=day))
            ]
            assert len(row) == 1, (day, name)
            r = row.iloc[0]
            assert round(r.price_min_usd * 1e6) == min(micros)
            assert round(r.price_max_usd * 1e6) == max(micros)
            assert round(r.price_median_usd * 1e6) == round(statistics.median(micros))
            assert (r.capacity_min, r.capacity_max) == (min(caps), max(caps))
            assert (r.first_seen, r.last_seen) == (obs[0][0], obs[-1][0])
            assert r.samples == len(obs)

    # raw data of rolled days is gone; the kept day is intact
    after = price_observations(store, since=DAY0)
    assert after.ts.min() == DAY0 + timedelta(days=2)
    kept = raw_before[raw_before.ts >= DAY0 + timedelta(days=2)].reset_index(drop=True)
    assert after.equals(kept)
    # idempotent, and ingest continues the open intervals
    assert roll_up(store, now, raw_days=1).epoch_rows_written == 0
    s = ingest_snapshot(
        store, [_offer(k, *v) for k, v in history[-1][1].items()], now + timedelta(hours=1)
    )
    assert (s.new, s.changed, s.vanished, s.reappeared) == (0, 0, 0, 0)


def test_epoch_rows_expire_after_epoch_days(store: Engine) -> None:
    ingest_snapshot(store, [_offer("A", "0.3", 1)], DAY0)
    ingest_snapshot(store, [_offer("B", "0.3", 1)], DAY0 + timedelta(days=1))
    roll_up(store, DAY0 + timedelta(days=5), raw_days=1, epoch_days=30)
    assert len(epoch_stats(store, since=DAY0)) == 2
    summary = roll_up(store, DAY0 + timedelta(days=31), raw_days=1, epoch_days=30)
    assert summary.epoch_rows_deleted == 1
    assert summary.offers_deleted == 1  # A: no history left, last seen long ago
    with store.connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM offer")).scalar_one() == 1
