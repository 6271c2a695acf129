"""Copy a whole store to a fresh database: `fluence-optimizer db copy --to URL`.

Used to move from SQLite to PostgreSQL (or back, or between servers):

1. the target is created/migrated to the newest schema (`open_store`); the source must be
   at that schema too (`open_store` refuses an older one: run `db upgrade` first);
2. the target must be empty — every table without rows, except the `leader` row that
   migration 0004 seeds with term 0 — otherwise StoreError and nothing is written;
3. tables are copied in foreign-key-safe order (parents first), in batches of
   `batch` rows, one transaction per table; `alembic_version` is never copied;
4. on PostgreSQL the id sequences are advanced past the copied ids, so new rows don't
   collide with copied ones.

Stop the daemon while copying: rows written during the copy may or may not make it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from optimizer.errors import StoreError
from optimizer.store.engine import open_store, safe_url, store_errors

SKIP = {"alembic_version"}
BATCH = 5_000


@dataclass
class CopyResult:
    target: str
    rows: dict[str, int] = field(default_factory=dict)  # table → rows copied

    @property
    def total(self) -> int:
        return sum(self.rows.values())


def _columns(engine: Engine) -> dict[str, set[str]]:
    """Table → column names, as they are in the database."""
    insp = sa.inspect(engine)
    return {t: {c["name"] for c in insp.get_columns(t)} for t in insp.get_table_names()}


def _tables() -> list[sa.Table]:
    """The code's table definitions, parents before children. Their column types (aware
    UTC timestamps, booleans) convert values correctly between SQLite and PostgreSQL,
    which reflected generic types would not (a naive SQLite time read back as local)."""
    from optimizer.store.tables import metadata

    return [t for t in metadata().sorted_tables if t.name not in SKIP]


def _is_empty(conn: sa.Connection, table: sa.Table) -> bool:
    if table.name == "leader":  # migration 0004 seeds one row with term 0
        return not conn.execute(
            sa.select(sa.func.count()).select_from(table).where(table.c.term != 0)
        ).scalar_one()
    return conn.execute(sa.select(table).limit(1)).first() is None


def copy_store(
    source: Engine,
    target_url: str,
    *,
    batch: int = BATCH,
    progress: Callable[[str, int], None] | None = None,
) -> CopyResult:
    """Copy every table of `source` into the empty database at `target_url` (migrated to
    head first). Returns rows copied per table. Raises StoreError when the target is not
    empty, has another schema, or can't be written."""
    if source.url.render_as_string(hide_password=False) == target_url:
        raise StoreError("db copy: the target is the current database")
    target = open_store(target_url)
    result = CopyResult(target=safe_url(target.url))
    try:
        with store_errors(source):
            src_cols = _columns(source)
        with store_errors(target):
            dst_cols = _columns(target)
            tables = [t for t in _tables() if t.name in dst_cols]
            with target.connect() as conn:
                busy = [t.name for t in tables if not _is_empty(conn, t)]
            if busy:
                raise StoreError(
                    f"db copy: target {result.target} is not empty (rows in "
                    f"{', '.join(busy)}); copy only into a fresh database"
                )
        for t in tables:
            if t.name not in src_cols:
                continue
            cols = [c.name for c in t.columns if c.name in src_cols[t.name] & dst_cols[t.name]]
            result.rows[t.name] = _copy_table(source, target, t, cols, batch, progress)
        if target.dialect.name == "postgresql":
            _advance_sequences(target, tables)
    finally:
        target.dispose()
    return result


def _copy_table(
    source: Engine,
    target: Engine,
    table: sa.Table,
    cols: list[str],
    batch: int,
    progress: Callable[[str, int], None] | None,
) -> int:
    src = dst = table
    order = [c for c in table.primary_key.columns if c.name in cols] or [table.c[cols[0]]]
    n = 0
    with store_errors(target), source.connect() as rconn, target.begin() as wconn:
        if dst.name == "leader":
            wconn.execute(dst.delete())  # the seeded term-0 row
        rows = rconn.execution_options(yield_per=batch).execute(
            sa.select(*(src.c[c] for c in cols)).order_by(*order)
        )
        for part in rows.partitions(batch):
            wconn.execute(dst.insert(), [dict(zip(cols, r, strict=True)) for r in part])
            n += len(part)
            if progress is not None:
                progress(dst.name, n)
    return n


def _advance_sequences(target: Engine, tables: list[sa.Table]) -> None:
    with target.begin() as conn:
        for t in tables:
            for c in t.primary_key.columns:
                seq = conn.execute(
                    sa.text("SELECT pg_get_serial_sequence(:t, :c)"), {"t": t.name, "c": c.name}
                ).scalar()
                if seq is None:
                    continue
                conn.execute(
                    sa.text(
                        f'SELECT setval(:s, COALESCE((SELECT max("{c.name}") FROM "{t.name}"), 0) '
                        f"+ 1, false)"
                    ),
                    {"s": seq},
                )


__all__ = ["CopyResult", "copy_store"]
