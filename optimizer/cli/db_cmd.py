"""CLI commands: `db upgrade|stats|vacuum|prune` — the store's maintenance.

`db upgrade` is the only command that migrates a schema; every other command refuses
an older schema with a pointer here.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import TYPE_CHECKING

import typer

from optimizer.cli.render import print_json, print_line, print_table
from optimizer.clock import SystemClock

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

    from optimizer.cli.context import AppContext

db = typer.Typer(
    name="db",
    help="Maintain the snapshot database: upgrade, stats, vacuum, copy.",
    no_args_is_help=True,
)


@contextlib.contextmanager
def store(app: AppContext) -> Iterator[Engine]:
    """The context's engine, disposed (connections closed) when the command ends."""
    engine = app.engine()
    try:
        yield engine
    finally:
        engine.dispose()


def _url(ctx: typer.Context) -> str:
    from optimizer.cli.context import refuse_foreign_sqlite
    from optimizer.store.engine import default_url

    app: AppContext = ctx.obj
    url = app.config().database.url or default_url()
    refuse_foreign_sqlite(url)
    return url


@db.command("upgrade")
def upgrade_cmd(ctx: typer.Context) -> None:
    """Migrate the database schema to the one this version needs (creates it if empty)."""
    from optimizer.store.engine import safe_url, upgrade

    url = _url(ctx)
    before, after = upgrade(url)
    if before == after:
        print_line(f"{safe_url(url)}: schema already at {after}")
    else:
        print_line(f"{safe_url(url)}: schema upgraded from {before or 'empty'} to {after}")


@db.command("stats")
def stats_cmd(
    ctx: typer.Context, as_json: bool = typer.Option(False, "--json", help="Print JSON.")
) -> None:
    """Show schema revision, size, row counts and the span of recorded snapshots."""
    from optimizer.store.engine import create_engine, current_revision, head_revision, safe_url
    from optimizer.store.maintenance import db_stats

    url = _url(ctx)
    engine = create_engine(url)
    try:
        stats = db_stats(engine)
        stats["revision"] = current_revision(engine)
        stats["code_revision"] = head_revision()
    finally:
        engine.dispose()
    if as_json:
        print_json(stats)
        return
    rows = [[k, v] for k, v in stats.items() if k != "tables"]
    rows += [[f"rows in {t}", n] for t, n in stats["tables"].items()]
    print_table(["", ("", "right")], rows, title=safe_url(url))


@db.command("vacuum")
def vacuum_cmd(ctx: typer.Context) -> None:
    """Compact the database file (SQLite: checkpoint WAL + VACUUM; PostgreSQL: VACUUM
    ANALYZE). Safe while the daemon runs, but it waits for the database lock."""
    from optimizer.store.maintenance import vacuum

    app: AppContext = ctx.obj
    with store(app) as engine:
        before, after = vacuum(engine)
    if before is None:
        print_line("vacuumed")
    else:
        print_line(f"vacuumed: {before:,} → {after:,} bytes")


@db.command("prune")
def prune_cmd(ctx: typer.Context) -> None:
    """Apply retention now: roll raw history older than retention.raw_days into per-epoch
    aggregates, drop aggregates older than retention.epoch_days."""
    from optimizer.store.retention import roll_up

    app: AppContext = ctx.obj
    cfg = app.config().retention
    with store(app) as engine:
        s = roll_up(engine, SystemClock().now(), cfg.raw_days, cfg.epoch_days)
    print_line(
        f"rolled up {s.epochs_rolled} epoch(s) ({s.epoch_rows_written} rows), deleted "
        f"{s.snapshots_deleted} snapshots, {s.intervals_deleted} price intervals, "
        f"{s.epoch_rows_deleted} expired epoch rows, {s.offers_deleted} offers"
    )


@db.command("copy")
def copy_cmd(
    ctx: typer.Context,
    to: str = typer.Option(..., "--to", help="Target database URL (must be empty)."),
) -> None:
    """Copy every table into a fresh database at URL, such as SQLite → PostgreSQL.

    The target is migrated to the current schema first and must hold no rows; stop the
    daemon while copying, then point `database.url` at the target.
    """
    from optimizer.store.copy import copy_store

    app: AppContext = ctx.obj
    with store(app) as engine:
        result = copy_store(engine, to)
    print_line(f"copied {result.total:,} rows in {len(result.rows)} tables to {result.target}")


def register(app: typer.Typer) -> None:
    """Add this group's commands to the main app."""
    app.add_typer(db)
