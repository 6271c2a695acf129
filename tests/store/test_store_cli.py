"""CLI: db upgrade|stats|vacuum|prune and history offers, through the real entry point."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from typer.testing import CliRunner

from optimizer.cli.main import app
from optimizer.store.engine import head_revision, open_store
from optimizer.store.ingest import ingest_snapshot
from tests.store.conftest import wire_offer

runner = CliRunner()


def _run(*args: str) -> tuple[int, str]:
    result = runner.invoke(app, list(args), env={"COLUMNS": "200"})
    return result.exit_code, result.output


@pytest.fixture
def recorded(db_url: str) -> str:
    engine = open_store(db_url)
    now = datetime.now(UTC)
    try:
        ingest_snapshot(engine, [wire_offer(index=3)], now - timedelta(days=3))
        for i in range(4):
            offers = [
                wire_offer(index=1, price="0.30" if i < 2 else "0.27"),
                wire_offer(index=2, country="DE", city="FRA", slug="cpu-4-ram-8gb-storage-25gb"),
            ]
            ingest_snapshot(engine, offers, now - timedelta(hours=4 - i))
    finally:
        engine.dispose()
    return db_url


def test_db_upgrade_creates_then_reports_current(tmp_path) -> None:
    url = f"sqlite:///{tmp_path / 'x' / 'opt.db'}"
    code, out = _run("--database", url, "db", "upgrade")
    assert code == 0 and f"from empty to {head_revision()}" in out
    code, out = _run("--database", url, "db", "upgrade")
    assert code == 0 and "already at" in out


def test_db_stats_json_counts_rows(recorded: str) -> None:
    code, out = _run("--database", recorded, "db", "stats", "--json")
    assert code == 0, out
    stats = json.loads(out)
    assert stats["tables"]["snapshot"] == 5
    assert stats["tables"]["offer"] == 3
    assert stats["tables"]["offer_price"] == 4  # 3 offers + one price change
    assert stats["revision"] == stats["code_revision"] == head_revision()


def test_db_vacuum_and_prune_run(recorded: str) -> None:
    code, out = _run("--database", recorded, "db", "vacuum")
    assert code == 0 and "vacuumed" in out
    code, out = _run("--database", recorded, "db", "prune")
    assert code == 0 and "rolled up 0 epoch(s)" in out


def test_history_offers_filters_and_json(recorded: str) -> None:
    code, out = _run(
        "--database", recorded, "history", "offers", "--since", "1d", "--country", "fr", "--json"
    )
    assert code == 0, out
    rows = json.loads(out)
    assert [r["datacenter"] for r in rows] == ["FR-PAR-1"]  # index 3 is older than 1d
    r = rows[0]
    assert (r["samples"], r["priceMinUsd"], r["priceMaxUsd"]) == (4, "0.270000", "0.300000")
    assert [c["priceUsd"] for c in r["changes"]] == ["0.300000", "0.270000"]
    code, out = _run("--database", recorded, "history", "offers", "--since", "7d")
    assert code == 0 and "FR-PAR-3" in out and "DE-FRA-2" in out


def test_history_offers_bad_since_is_a_usage_error(recorded: str) -> None:
    result = runner.invoke(app, ["--database", recorded, "history", "offers", "--since", "soon"])
    assert result.exit_code == 2 or "not a duration" in str(result.exception)
