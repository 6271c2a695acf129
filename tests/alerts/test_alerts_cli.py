"""`alerts list`, `alerts test` and `budget` through the CLI runner."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy.engine import Engine
from typer.testing import CliRunner

from optimizer.alerts.model import Alert
from optimizer.alerts.state import reconcile
from optimizer.cli.main import app
from optimizer.errors import ConfigError
from tests.alerts.helpers import Recorder

T0 = datetime(2026, 3, 1, tzinfo=UTC)


def write_config(tmp_path: Path, db_url: str, sinks: str = "") -> Path:
    p = tmp_path / "opt.toml"
    p.write_text(f'[database]\nurl = "{db_url}"\n[budget]\nmonthly_usd = "50"\n{sinks}')
    return p


def test_alerts_test_reports_each_sink(tmp_path: Path, db_url: str) -> None:
    with Recorder() as ok:
        sinks = (
            f'[[alerts.sinks]]\nkind = "webhook"\nurl = "{ok.url}"\n'
            '[[alerts.sinks]]\nkind = "command"\ncommand = ["false"]\ntimeout = "2s"\n'
        )
        cfg = write_config(tmp_path, db_url, sinks)
        out = CliRunner().invoke(app, ["-c", str(cfg), "alerts", "test"])
    assert out.exit_code == 1
    assert "log: ok" in out.output and "0:webhook: ok" in out.output
    assert "1:command: FAILED: command false: exit 1" in out.output
    assert ok.received[0]["status"] == "test"


def test_alerts_list_active_and_json(tmp_path: Path, db_url: str, engine: Engine) -> None:
    a = Alert(key="budget.forecast:web", severity="warning", title="Forecast", text="x")
    b = Alert(key="vm.balance:0x1", severity="critical", title="Low", text="y")
    reconcile(engine, [a, b], {"budget.forecast", "vm.balance"}, T0)
    reconcile(engine, [a], {"budget.forecast", "vm.balance"}, T0.replace(hour=1))
    cfg = write_config(tmp_path, db_url)
    out = CliRunner().invoke(app, ["-c", str(cfg), "alerts", "list", "--active", "--json"])
    assert out.exit_code == 0, out.output
    assert [r["key"] for r in json.loads(out.output)] == ["budget.forecast:web"]
    out = CliRunner(env={"COLUMNS": "200"}).invoke(app, ["-c", str(cfg), "alerts", "list"])
    assert "resolved" in out.output and "vm.balance:0x1" in out.output


def test_budget_table_on_an_empty_store(tmp_path: Path, db_url: str) -> None:
    cfg = write_config(tmp_path, db_url)
    out = CliRunner().invoke(app, ["-c", str(cfg), "budget"])
    assert out.exit_code == 0, out.output
    assert "Monthly budget" in out.output and "$50.00" in out.output
    assert "VM data: none stored yet" in out.output
    bad = CliRunner().invoke(app, ["-c", str(cfg), "budget", "--at", "soon"])
    assert isinstance(bad.exception, ConfigError)  # main() prints it as one line, exit 2
    assert str(bad.exception) == "budget --at: 'soon' is not an ISO 8601 time"
