"""Retention: raw change-only history is kept `retention.raw_days`, then rolled up into
per-offer per-epoch aggregates kept `retention.epoch_days`.

`roll_up(engine, now, raw_days, epoch_days)` works on whole epochs (UTC days): every ok
snapshot taken before the start of the day `now - raw_days` falls in is aggregated (see
`queries.aggregate_epochs`: min/median/max price, min/max capacity, first/last seen,
samples), written to `offer_epoch`, and its raw data removed: snapshots deleted,
intervals that end before the first kept snapshot deleted, intervals straddling it
clipped to start there. Epoch rows older than `epoch_days` and offers referenced by
nothing that were last seen before then are deleted. One transaction; idempotent.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from optimizer.clock import EPOCH_SECONDS, utc
from optimizer.frames import records
from optimizer.store import fencing
from optimizer.store.engine import store_errors, writing
from optimizer.store.queries import (
    _observations,
    aggregate_epochs,
    epoch_t,
    offer_t,
    price_t,
    snapshot_t,
)
from optimizer.store.tables.market import OUTCOME_OK


@dataclass(frozen=True)
class RetentionSummary:
    epochs_rolled: int
    epoch_rows_written: int
    intervals_deleted: int
    snapshots_deleted: int
    epoch_rows_deleted: int
    offers_deleted: int


def epoch_of(ts: datetime) -> int:
    """Day number since 1970-01-01 UTC of `ts`."""
    return int(utc(ts).timestamp()) // EPOCH_SECONDS


def roll_up(
    engine: Engine, now: datetime, raw_days: int = 35, epoch_days: int = 730
) -> RetentionSummary:
    """Apply retention as of `now` (see module doc). Raise StoreError on database failure."""
    cutoff_epoch = epoch_of(utc(now) - timedelta(days=raw_days))
    cutoff = datetime.fromtimestamp(cutoff_epoch * EPOCH_SECONDS, tz=utc(now).tzinfo)
    oldest_kept_epoch = epoch_of(utc(now)) - epoch_days
    with store_errors(engine), writing(engine).begin() as conn:
        fencing.check(engine, conn)
        obs = _observations(
            conn, None, None, None, None, snap_filter=[snapshot_t.c.taken_at < cutoff]
        )
        agg = aggregate_epochs(obs) if not obs.empty else pd.DataFrame()
        if not agg.empty:
            conn.execute(sa.insert(epoch_t), records(agg))
        first_kept = conn.execute(
            sa.select(sa.func.min(snapshot_t.c.id))
            .where(snapshot_t.c.outcome == OUTCOME_OK)
            .where(snapshot_t.c.taken_at >= cutoff)
        ).scalar()
        if first_kept is None:
            deleted = conn.execute(sa.delete(price_t)).rowcount
        else:
            deleted = conn.execute(
                sa.delete(price_t).where(price_t.c.to_snapshot_id < first_kept)
            ).rowcount
            conn.execute(
                price_t.update()
                .where(price_t.c.from_snapshot_id < first_kept)
                .values(from_snapshot_id=first_kept)
            )
        snaps = conn.execute(sa.delete(snapshot_t).where(snapshot_t.c.taken_at < cutoff)).rowcount
        epochs_deleted = conn.execute(
            sa.delete(epoch_t).where(epoch_t.c.epoch < oldest_kept_epoch)
        ).rowcount
        stale = datetime.fromtimestamp(oldest_kept_epoch * EPOCH_SECONDS, tz=cutoff.tzinfo)
        offers_deleted = conn.execute(
            sa.delete(offer_t)
            .where(offer_t.c.last_seen < stale)
            .where(offer_t.c.id.not_in(sa.select(price_t.c.offer_id)))
            .where(offer_t.c.id.not_in(sa.select(epoch_t.c.offer_id)))
        ).rowcount
    if engine.dialect.name == "sqlite":
        # give freed pages back to the file system; executescript steps the pragma to
        # completion (a plain execute frees one page only)
        with store_errors(engine):
            raw = engine.raw_connection()
            try:
                raw.driver_connection.executescript("PRAGMA incremental_vacuum;")  # type: ignore[union-attr]
            finally:
                raw.close()
    return RetentionSummary(
        epochs_rolled=0 if agg.empty else int(agg["epoch"].nunique()),
        epoch_rows_written=len(agg),
        intervals_deleted=deleted,
        snapshots_deleted=snaps,
        epoch_rows_deleted=epochs_deleted,
        offers_deleted=offers_deleted,
    )
