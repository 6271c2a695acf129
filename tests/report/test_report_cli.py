"""`fluence-optimizer report`: formats, default output file, filters, and friendly
failures (one line, exit code, no traceback) on an empty or too-short history."""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
from datetime import UTC, datetime, timedelta

import pytest
from freezegun import freeze_time

from optimizer.cli.main import main
from optimizer.sim.simulator import Simulator
from optimizer.store.engine import open_store
from optimizer.store.ingest import ingest_snapshot


def run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    """Run the real entry point in-process; return (exit code, stdout, stderr)."""
    capsys.readouterr()  # drop anything printed while the test set up its store
    try:
        main(argv)
        code = 0
    except SystemExit as e:
        code = int(e.code or 0)
    out, err = capsys.readouterr()
    return code, out, err


def test_empty_store_is_one_friendly_line_exit_1(tmp_path) -> None:
    """A fresh database: exit 1 and a single `error:` line, no traceback (real process)."""
    url = f"sqlite:///{tmp_path / 'empty.db'}"
    res = subprocess.run(
        [sys.executable, "-m", "optimizer", "--database", url, "report", "-f", "csv"],
        capture_output=True, text=True,
    )  # fmt: skip
    assert res.returncode == 1
    assert res.stdout == ""
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: no price history in the last 30d")
    assert "Traceback" not in res.stderr


def test_less_than_two_epochs_gives_an_hourly_report_with_a_note(tmp_path, capsys) -> None:
    """Issue 20: a new user could not look at their own data for two days (`report`
    refused with "only 1 epoch"). Now the same report is made per hour and says so."""
    url = f"sqlite:///{tmp_path / 'short.db'}"
    sim = Simulator(seed=3, offers=20)
    engine = open_store(url)
    start = sim.now()
    for _ in range(3):
        ingest_snapshot(engine, sim.offers(None), sim.now())
        sim.advance(timedelta(hours=2))
    engine.dispose()
    with freeze_time(sim.now() + timedelta(hours=1)):
        code, out, err = run(
            ["--database", url, "report", "-f", "md", "-o", str(tmp_path / "r.md")], capsys
        )
        assert code == 0, err
        text = (tmp_path / "r.md").read_text()
        assert "**Short history: the store holds less than 2 epochs" in text
        assert "every statistic here is per hour, not per epoch" in text
        assert " hours (3 with data)" in text
        code, out, err = run(["--database", url, "report", "-f", "json"], capsys)
    assert code == 0, err
    doc = json.loads(out)
    assert doc["epoch_seconds"] == 3600
    assert doc["window"]["first_epoch"] == start.replace(
        minute=0, second=0, microsecond=0
    ).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert "note: Short history" in err


def test_an_empty_window_says_what_the_store_holds_and_how_to_reach_it(tmp_path, capsys) -> None:
    """Issue 20: `no price history in the last 30d: record snapshots first` on a store
    that held older snapshots."""
    url = f"sqlite:///{tmp_path / 'old.db'}"
    sim = Simulator(seed=3, offers=20)
    engine = open_store(url)
    first = sim.now()
    for _ in range(2):
        ingest_snapshot(engine, sim.offers(None), sim.now())
        sim.advance(timedelta(hours=1))
    engine.dispose()
    with freeze_time(first + timedelta(days=40, hours=5)):
        code, out, err = run(["--database", url, "report", "-f", "csv"], capsys)
        assert code == 1 and out == ""
        line = err.strip()
        assert len(line.splitlines()) == 1
        assert f"the store holds 2 snapshot(s) from {first:%Y-%m-%d %H:%M}" in line
        assert line.endswith("use --since 41d")
        code, out, err = run(["--database", url, "report", "-f", "csv", "--since", "41d"], capsys)
    assert code == 0 and out.startswith("level,"), err


def test_bad_since_is_a_usage_error(sim_history, capsys) -> None:
    code, _, err = run(["--database", sim_history.url, "report", "--since", "lots"], capsys)
    assert code == 2
    assert err.startswith("error: --since:") and "lots" in err


def test_html_goes_to_a_dated_file_and_the_path_is_printed(
    sim_history, tmp_path, monkeypatch, capsys
) -> None:
    monkeypatch.chdir(tmp_path)
    with freeze_time(sim_history.end + timedelta(hours=1)):
        code, out, err = run(["--database", sim_history.url, "report"], capsys)
    assert code == 0, err
    expected = f"fluence-report-{sim_history.end + timedelta(hours=1):%Y%m%d}.html"
    assert out.strip() == expected
    html = (tmp_path / expected).read_text(encoding="utf-8")
    assert html.startswith("<!DOCTYPE html>") and 'id="price-bands"' in html
    assert err == ""  # not a TTY: no progress bar


def test_csv_to_stdout_honours_configuration_and_country_filters(sim_history, capsys) -> None:
    slug = "cpu-2-ram-4gb-storage-25gb"
    with freeze_time(sim_history.end):
        code, out, err = run(
            ["--database", sim_history.url, "report", "--since", "40d", "-f", "csv",
             "--configuration", slug],
            capsys,
        )  # fmt: skip
    assert code == 0, err
    rows = list(csv.DictReader(io.StringIO(out)))
    assert rows and {r["configuration"] for r in rows} == {slug}
    country = next(r["country"] for r in rows if r["level"] == "country")
    with freeze_time(sim_history.end):
        code, out, err = run(
            ["--database", sim_history.url, "report", "-f", "json", "--country", country.lower()],
            capsys,
        )  # fmt: skip
    assert code == 0, err
    doc = json.loads(out)
    countries = {r["country"] for r in doc["rows"] if r["level"] != "configuration"}
    assert countries == {country}


def test_md_and_json_to_an_explicit_file(sim_history, tmp_path, capsys) -> None:
    target = tmp_path / "out" / "r.md"
    target.parent.mkdir()
    with freeze_time(sim_history.end):
        code, out, _ = run(
            ["--database", sim_history.url, "report", "-f", "md", "-o", str(target)], capsys
        )
    assert code == 0 and out.strip() == str(target)
    assert target.read_text(encoding="utf-8").startswith("# Fluence CPU Cloud — price history")
    with freeze_time(sim_history.end):
        code, _, err = run(
            [
                "--database",
                sim_history.url,
                "report",
                "-f",
                "md",
                "-o",
                str(tmp_path / "nodir" / "x.md"),
            ],
            capsys,
        )
    assert code == 1 and "cannot write report" in err


def test_window_in_the_future_of_the_data_is_empty(sim_history, capsys) -> None:
    """The history ends on 31 Jan; a 30-day report in June finds nothing."""
    with freeze_time(datetime(2026, 6, 1, tzinfo=UTC)):
        code, _, err = run(["--database", sim_history.url, "report", "-f", "csv"], capsys)
    assert code == 1 and "no price history in the last 30d" in err
    assert "the store holds" in err and "use --since" in err
