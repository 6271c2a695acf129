"""`fluence-optimizer leader`: nobody yet, then the holder/term/since/renewal of the
live leader; on PostgreSQL whether its lock is held right now."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from optimizer.cli.main import app
from optimizer.daemon.leader import LeaderElector
from optimizer.store.engine import open_store

runner = CliRunner()


def _leader(url: str, *extra: str) -> tuple[int, str]:
    r = runner.invoke(app, ["--database", url, "leader", *extra], env={"COLUMNS": "200"})
    return r.exit_code, r.output


def test_leader_command_shows_the_live_leader(db_url: str) -> None:
    code, out = _leader(db_url)
    assert code == 0 and "none yet" in out
    engine = open_store(db_url)
    e = LeaderElector(engine, holder="host-a:123")
    try:
        assert e.tick()
        code, out = _leader(db_url, "--json")
        assert code == 0, out
        data = json.loads(out)
        assert data["holder"] == "host-a:123" and data["term"] == e.term == 1
        assert data["since"] and data["renewed_seconds_ago"] is not None
        pg = engine.dialect.name == "postgresql"
        assert data["lock_held"] is (True if pg else None)
        code, out = _leader(db_url)
        assert "host-a:123" in out and "term" in out
        e.close()
        data = json.loads(_leader(db_url, "--json")[1])
        assert data["lock_held"] is (False if pg else None)
        if pg:
            assert "leader gone" in _leader(db_url)[1]
    finally:
        e.close()
        engine.dispose()


def test_metrics_expose_leadership(db_url: str) -> None:
    from optimizer.daemon.metrics import Metrics

    engine = open_store(db_url)
    m = Metrics()
    e = LeaderElector(engine, holder="host-m:1")
    e.on_change = m.set_leader
    try:
        assert "fluence_optimizer_leader 0.0" in m.render()
        assert e.tick()
        text = m.render()
        assert "fluence_optimizer_leader 1.0" in text
        assert f"fluence_optimizer_leader_term {float(e.term or 0)}" in text
        e.step_down("test")
        assert "fluence_optimizer_leader 0.0" in m.render()
    finally:
        e.close()
        engine.dispose()
