"""Store maintenance: size and row statistics, compaction."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from optimizer.store.engine import store_errors
from optimizer.store.tables.market import OUTCOME_FAILED, snapshot_table
from optimizer.store.types import UtcDateTime

COUNTED = ("snapshot", "offer", "offer_price", "offer_epoch", "vm", "vm_observation")


def sqlite_path(engine: Engine) -> Path | None:
    """The database file of a SQLite engine (None for PostgreSQL or in-memory)."""
    if engine.dialect.name != "sqlite":
        return None
    db = engine.url.database
    if not db or db == ":memory:":
        return None
    if db.startswith("file:"):
        db = db[5:].split("?")[0]
    return Path(db)


def file_size(engine: Engine) -> int | None:
    """Bytes on disk: SQLite file + WAL; PostgreSQL: the size of our tables with indexes."""
    path = sqlite_path(engine)
    if path is not None:
        return sum(p.stat().st_size for p in (path, Path(f"{path}-wal")) if p.exists())
    if engine.dialect.name == "postgresql":
        with store_errors(engine), engine.connect() as conn:
            total = 0
            for table in COUNTED:
                total += conn.execute(
                    sa.text("SELECT coalesce(pg_total_relation_size(to_regclass(:t)), 0)"),
                    {"t": table},
                ).scalar_one()
            return int(total)
    return None


def db_stats(engine: Engine) -> dict[str, Any]:
    """Backend, bytes, row counts per table, ok/failed snapshots, first/last snapshot."""
    insp = sa.inspect(engine)
    present = set(insp.get_table_names())
    out: dict[str, Any] = {"backend": engine.dialect.name, "bytes": file_size(engine)}
    tables: dict[str, int] = {}
    with store_errors(engine), engine.connect() as conn:
        for t in COUNTED:
            if t in present:
                tables[t] = conn.execute(sa.text(f"SELECT count(*) FROM {t}")).scalar_one()
        if "snapshot" in present:
            snap = snapshot_table
            first, last, failed = conn.execute(
                sa.select(
                    sa.func.min(snap.c.taken_at).label("first"),
                    sa.func.max(snap.c.taken_at).label("last"),
                    sa.func.count().filter(snap.c.outcome == OUTCOME_FAILED),
                )
            ).one()
            first = UtcDateTime().process_result_value(first, engine.dialect)
            last = UtcDateTime().process_result_value(last, engine.dialect)
            out["first_snapshot"] = first.isoformat() if first else None
            out["last_snapshot"] = last.isoformat() if last else None
            out["failed_snapshots"] = int(failed or 0)
    out["tables"] = tables
    return out


def vacuum(engine: Engine) -> tuple[int | None, int | None]:
    """Compact the database; return (bytes before, bytes after) (None when unknown)."""
    before = file_size(engine)
    autocommit = engine.execution_options(isolation_level="AUTOCOMMIT")
    with store_errors(engine), autocommit.connect() as conn:
        if engine.dialect.name == "sqlite":
            conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
            conn.exec_driver_sql("VACUUM")
            conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
        elif engine.dialect.name == "postgresql":
            conn.exec_driver_sql("VACUUM ANALYZE")
    return before, file_size(engine)
