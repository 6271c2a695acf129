"""`db copy --to URL`: a SQLite store with history, journal and leader row moves to a
fresh PostgreSQL schema intact; a non-empty target is refused; new rows after the copy
get fresh ids (sequences advanced)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pandas as pd
import pytest
import sqlalchemy as sa
from typer.testing import CliRunner

from optimizer.cli.main import app, main
from optimizer.daemon.leader import LeaderElector, read_leader
from optimizer.executor import journal as jr
from optimizer.store.engine import open_store
from optimizer.store.ingest import ingest_snapshot
from optimizer.store.queries import price_observations
from optimizer.store.tables.journal import JournalAction
from tests.store.conftest import wire_offer

runner = CliRunner()
NOW = datetime(2026, 11, 20, 12, tzinfo=UTC)


def _counts(url: str) -> dict[str, int]:
    out = runner.invoke(app, ["--database", url, "db", "stats", "--json"], env={"COLUMNS": "200"})
    assert out.exit_code == 0, out.output
    return json.loads(out.output)["tables"]


def _journal_row(token: str, at: datetime) -> JournalAction:
    return JournalAction(
        fleet="web", kind="migrate", state="done", token=token, created_at=at, updated_at=at
    )


def test_copy_sqlite_to_postgresql(
    tmp_path, pg_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    src_url = f"sqlite:///{tmp_path / 'src.db'}"
    src = open_store(src_url)
    try:
        for i in range(6):
            price = "0.30" if i < 3 else "0.27"
            ingest_snapshot(
                src,
                [wire_offer(index=1, price=price), wire_offer(index=2, country="DE", city="FRA")],
                NOW - timedelta(hours=6 - i),
            )
        with jr.session(src) as s:
            s.add_all([_journal_row(f"tok{i}", NOW - timedelta(hours=i)) for i in range(3)])
            s.commit()
        e = LeaderElector(src, holder="old-host:42")
        assert e.tick() and e.tick()
        e.close()
        before = price_observations(src, NOW - timedelta(days=1), NOW + timedelta(hours=1))
    finally:
        src.dispose()

    res = runner.invoke(app, ["--database", src_url, "db", "copy", "--to", pg_url])
    assert res.exit_code == 0, res.output
    assert "copied" in res.output and "postgresql" in res.output

    assert _counts(pg_url) == _counts(src_url)
    dst = open_store(pg_url)
    try:
        after = price_observations(dst, NOW - timedelta(days=1), NOW + timedelta(hours=1))
        pd.testing.assert_frame_equal(
            before.sort_values(["ts", "offer_key"]).reset_index(drop=True),
            after.sort_values(["ts", "offer_key"]).reset_index(drop=True),
        )
        info = read_leader(dst)
        assert (info.term, info.holder) == (1, "old-host:42")  # the term survives the move
        with dst.connect() as c:
            times = c.execute(
                sa.text("SELECT created_at FROM journal_action ORDER BY token")
            ).scalars()
            assert [t.astimezone(UTC) for t in times] == [
                NOW - timedelta(hours=i) for i in range(3)
            ]
        # a row written after the copy gets an id past the copied ones
        row = _journal_row("fresh", NOW)
        with jr.session(dst) as s:
            s.add(row)
            s.commit()
        assert row.id == 4
        # the next term continues from the copied one
        e2 = LeaderElector(dst, holder="new-host:1")
        assert e2.tick() and e2.term == 2
        e2.close()
    finally:
        dst.dispose()

    # a non-empty target is refused with one line and exit code 5 (the real entry point)
    with pytest.raises(SystemExit) as exc:
        main(["--database", src_url, "db", "copy", "--to", pg_url])
    assert exc.value.code == 5
    err = capsys.readouterr().err
    assert err.startswith("error: db copy: target") and "not empty" in err
    assert len(err.strip().splitlines()) == 1
