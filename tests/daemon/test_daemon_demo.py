"""`fluence-optimizer demo` end to end with a short horizon: the real CLI, the real daemon
loop on the simulator, the HTML report and the printed summary; same seed, same numbers."""

from __future__ import annotations

import io
import re
import sqlite3
from decimal import Decimal
from pathlib import Path

from rich.console import Console

from optimizer.daemon.demo import run_demo
from tests.daemon.helpers import ROOT, demo_cli


def test_demo_runs_end_to_end_and_is_deterministic_for_a_seed(tmp_path: Path) -> None:
    out = tmp_path / "r" / "demo-report.html"
    text = demo_cli("--days", "2", "--seed", "5", "--dir", str(tmp_path / "a"), "--out", str(out))
    for needed in ("cost", "w/o migr.", "saved", "ledger", "actions taken:", "report:"):
        assert needed in text, text
    assert f"report: {out}" in text
    html = out.read_text()
    assert html.startswith("<!DOCTYPE html>") and "Fleet spend" in html
    assert (tmp_path / "a" / "demo.db").exists() and (tmp_path / "a" / "daemon.log").exists()
    assert "deploy done: 5" in text  # both fleets were deployed (3 + 2 VMs)

    # the same seed in-process gives the same totals as the CLI run
    buf = io.StringIO()
    summary = run_demo(
        seed=5, days=2, workdir=tmp_path / "b", progress=False,
        console=Console(file=buf, width=120),
    )  # fmt: skip
    total = re.search(
        r"total\s*│\s*│\s*(\$[\d,.]+)\s*│\s*(\$[\d,.]+)\s*│[^│]*│\s*\d+\s*│\s*(\$[\d,.]+)", text
    )
    assert total, text
    assert (
        total[1] == f"${summary.actual:,.2f}" and total[2] == f"${summary.without_migrations:,.2f}"
    )
    # one definition of the ledger saving: the summary's "ledger" is the report's "Saved"
    ledger = sum((f.realized for f in summary.fleets), Decimal(0))
    assert total[3] == f"${ledger:,.2f}"
    assert summary.report is not None and summary.report.exists()
    assert all(f.vms_now == {"web": 3, "batch": 2}[f.fleet] for f in summary.fleets)

    # "w/o migrations" is the spend of a second run of the same seed that never migrated
    with sqlite3.connect(tmp_path / "b" / "baseline.db") as con:
        kinds = dict(con.execute("SELECT kind, count(*) FROM journal_action GROUP BY kind"))
    assert kinds.get("deploy", 0) >= 5 and "migrate" not in kinds
    assert all(f.without_migrations > 0 for f in summary.fleets)


def test_config_demo_toml_is_the_packaged_copy() -> None:
    """`pip install .` ships optimizer/data/demo.toml; config/demo.toml is the readable one."""
    assert (ROOT / "config" / "demo.toml").read_text() == (
        ROOT / "optimizer" / "data" / "demo.toml"
    ).read_text()


def test_demo_runs_the_default_policy() -> None:
    """Issue 20: config/demo.toml kept old conservative thresholds no user gets; the demo's
    headline must be what the product does by default."""
    from optimizer.config import FleetPolicy
    from optimizer.daemon.demo import demo_config

    cfg = demo_config("sqlite://")
    assert cfg.fleets and all(f.policy == FleetPolicy() for f in cfg.fleets)
