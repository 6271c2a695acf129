"""Snapshots of the raw answer: an unchanged market is one snapshot row, a changed one
writes only what changed, and the store reads the same as when fed `Offer` models."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from optimizer.fluence.models import Offer
from optimizer.store.engine import open_store
from optimizer.store.ingest import ingest_snapshot
from optimizer.store.queries import offer_lifetimes, price_observations
from tests.store.conftest import wire_offer

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
STEP = timedelta(minutes=15)


def _statements(engine: Engine) -> list[str]:
    """Every SQL statement the engine runs from now on (the store's own behaviour,
    observed at the driver boundary)."""
    seen: list[str] = []
    sa.event.listen(engine, "before_cursor_execute", lambda *a: seen.append(a[2]))
    return seen


def _answer(prices: list[str]) -> bytes:
    return json.dumps([wire_offer(index=i, price=p) for i, p in enumerate(prices)]).encode()


def _count(engine: Engine, table: str) -> int:
    with engine.connect() as conn:
        return conn.execute(sa.text(f"SELECT count(*) FROM {table}")).scalar_one()


def test_identical_answer_is_one_snapshot_row(store: Engine) -> None:
    """The second identical answer is recognized by its digest: the summary is the same,
    and the store runs a handful of statements (read the latest snapshot, insert one),
    however many offers the answer lists."""
    body = _answer([f"0.{300 + i}" for i in range(200)])
    first = ingest_snapshot(store, body, T0)
    assert (first.seen, first.new) == (200, 200)
    prices = _count(store, "offer_price")
    statements = _statements(store)
    again = ingest_snapshot(store, body, T0 + STEP)
    assert (again.ok, again.seen, again.new, again.changed, again.vanished) == (
        True, 200, 0, 0, 0,
    )  # fmt: skip
    assert again.snapshot_id == first.snapshot_id + 1
    writes = [s for s in statements if s.lstrip().upper().startswith(("INSERT", "UPDATE"))]
    assert len(writes) == 1 and "snapshot" in writes[0]
    assert len(statements) <= 4  # BEGIN, latest snapshot, insert (COMMIT is not a statement)
    assert _count(store, "offer_price") == prices
    obs = price_observations(store, T0 - STEP)
    assert len(obs) == 400  # every offer observed in both snapshots


def test_store_reads_the_same_from_raw_answers_and_from_models(tmp_path: Any) -> None:
    """A series of answers (repeats, 10 % of prices changed, an offer gone and back)
    stored as raw bytes and as `Offer` models gives the same observations and
    lifetimes."""
    prices = [f"0.{300 + i}" for i in range(50)]
    series: list[list[str]] = [prices, prices, prices]
    changed = [p if i % 10 else f"0.{900 + i}" for i, p in enumerate(prices)]
    series += [changed, changed, changed[:-1], changed[:-1], changed]
    raw = open_store(f"sqlite:///{tmp_path / 'raw.db'}")
    models = open_store(f"sqlite:///{tmp_path / 'models.db'}")
    try:
        summaries = []
        for n, p in enumerate(series):
            body = _answer(p)
            at = T0 + n * STEP
            a = ingest_snapshot(raw, body, at)
            b = ingest_snapshot(models, [Offer.model_validate(o) for o in json.loads(body)], at)
            assert (a.seen, a.new, a.changed, a.vanished, a.reappeared) == (
                b.seen, b.new, b.changed, b.vanished, b.reappeared,
            )  # fmt: skip
            summaries.append((a.changed, a.vanished, a.reappeared))
        assert summaries == [(0, 0, 0)] * 3 + [
            (5, 0, 0),
            (0, 0, 0),
            (0, 1, 0),
            (0, 0, 0),
            (0, 0, 1),
        ]

        def frame(engine: Engine, query: Any) -> pd.DataFrame:
            df = query(engine)
            return df.drop(columns=[c for c in ("offer_id",) if c in df]).reset_index(drop=True)

        pd.testing.assert_frame_equal(
            frame(raw, lambda e: price_observations(e, T0 - STEP)),
            frame(models, lambda e: price_observations(e, T0 - STEP)),
        )
        pd.testing.assert_frame_equal(frame(raw, offer_lifetimes), frame(models, offer_lifetimes))
    finally:
        raw.dispose()
        models.dispose()


def test_last_seen_of_listed_and_vanished_offers(store: Engine) -> None:
    """An offer still listed was last seen in the latest ok snapshot (its row is not
    rewritten for that); one that vanished, in the last snapshot that listed it."""
    ingest_snapshot(store, _answer(["0.3", "0.4"]), T0)
    ingest_snapshot(store, _answer(["0.3", "0.4"]), T0 + STEP)
    ingest_snapshot(store, _answer(["0.3"]), T0 + 2 * STEP)
    ingest_snapshot(store, _answer(["0.3"]), T0 + 3 * STEP)
    life = offer_lifetimes(store).set_index("listed")
    assert life.loc[True, "last_seen"] == pd.Timestamp(T0 + 3 * STEP)
    assert life.loc[False, "last_seen"] == pd.Timestamp(T0 + STEP)


def test_answer_with_a_skipped_offer_is_read_every_time(store: Engine) -> None:
    """An answer that needed an offer skipped is not stored as a repeat candidate: each
    poll reads it again, so each summary (and warning) counts the skipped offer."""
    items = [wire_offer(index=1), wire_offer(index=2, price="lots")]
    body = json.dumps(items).encode()
    first = ingest_snapshot(store, body, T0)
    again = ingest_snapshot(store, body, T0 + STEP)
    assert (first.seen, first.skipped) == (again.seen, again.skipped) == (1, 1)
    assert (again.new, again.changed) == (0, 0)
