"""Every command answers --help; usage errors exit 2 without a traceback."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
import typer.main
from typer.testing import CliRunner

from optimizer.cli.main import app


def _all_command_paths() -> list[list[str]]:
    root = typer.main.get_command(app)
    paths: list[list[str]] = [[]]

    def walk(cmd, prefix):  # type: ignore[no-untyped-def]
        for name, sub in getattr(cmd, "commands", {}).items():
            paths.append([*prefix, name])
            walk(sub, [*prefix, name])

    walk(root, [])
    return paths


@pytest.mark.parametrize("path", _all_command_paths(), ids=lambda p: " ".join(p) or "(root)")
def test_every_command_has_help(path: list[str]) -> None:
    """`fluence-optimizer ... --help` exits 0 and prints a usage line for every command."""
    out = CliRunner().invoke(app, [*path, "--help"], prog_name="fluence-optimizer")
    assert out.exit_code == 0, out.output
    assert "Usage:" in out.output


def test_help_works_as_an_installed_program_would_run_it() -> None:
    """The same through a real process (`python -m optimizer`), as a user runs it."""
    out = subprocess.run(
        [sys.executable, "-m", "optimizer", "--help"], capture_output=True, text=True
    )
    assert out.returncode == 0, out.stderr
    assert "Usage: fluence-optimizer" in out.stdout


def test_unknown_option_is_a_usage_error_without_traceback() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "optimizer", "--no-such-option"], capture_output=True, text=True
    )
    assert out.returncode == 2
    assert "Traceback" not in out.stderr
    assert "No such option" in out.stderr


# --- discoverability (issue 20, item 10) ------------------------------------------------


@pytest.mark.parametrize("path", [p for p in _all_command_paths() if len(p) < 2])
def test_command_lists_keep_whole_sentences_within_80_columns(path: list[str]) -> None:
    """Command summaries used to be cut mid-sentence with "..."; they wrap instead."""
    out = CliRunner().invoke(
        app, [*path, "--help"], prog_name="fluence-optimizer", terminal_width=80
    )
    assert out.exit_code == 0, out.output
    lines = out.output.splitlines()
    assert all(len(line) <= 80 for line in lines), [ln for ln in lines if len(ln) > 80]
    cut = [ln for ln in lines if ln.rstrip().endswith("...") and not ln.startswith("Usage:")]
    assert not cut, out.output


def test_dash_capital_v_prints_the_version() -> None:
    from optimizer import __version__

    out = CliRunner().invoke(app, ["-V"], prog_name="fluence-optimizer")
    assert out.exit_code == 0 and out.output.strip() == f"fluence-optimizer {__version__}"


def test_shell_completion_script_is_offered(monkeypatch: pytest.MonkeyPatch) -> None:
    # typer detects the shell from the parent process unless told not to; under a CI runner
    # or a detached process there may be none, so name the shell explicitly
    monkeypatch.setenv("_TYPER_COMPLETE_TEST_DISABLE_SHELL_DETECTION", "1")
    out = CliRunner().invoke(app, ["--show-completion", "bash"], prog_name="fluence-optimizer")
    assert out.exit_code == 0, out.output
    assert "complete" in out.output and "fluence" in out.output


def test_no_option_shows_a_python_type_as_its_placeholder() -> None:
    """`--json <bool>`, `--country <list[str]>` are Python, not a user's vocabulary
    (arguments keep typer's own labels)."""
    for path in _all_command_paths():
        out = CliRunner().invoke(app, [*path, "--help"], prog_name="fluence-optimizer")
        options = [ln for ln in out.output.splitlines() if ln.lstrip().startswith("-")]
        assert not [ln for ln in options if "<bool>" in ln or "list[" in ln], path


def test_log_options_are_global_and_checked(tmp_path) -> None:  # type: ignore[no-untyped-def]
    code = subprocess.run(
        [sys.executable, "-m", "optimizer", "--log-format", "yaml", "db", "stats"],
        capture_output=True,
        text=True,
    )
    assert code.returncode == 2 and "--log-format 'yaml': use one of auto, json, console" in (
        code.stderr
    )
    help_text = CliRunner().invoke(app, ["--help"], terminal_width=100).output
    assert "--log-format" in help_text and "--log-level" in help_text


def test_database_accepts_a_plain_file_path(tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """`--database /path/my.db` used to fail with "Could not parse SQLAlchemy URL"."""
    monkeypatch.chdir(tmp_path)
    for db in (str(tmp_path / "abs.db"), "rel.db"):
        out = subprocess.run(
            [sys.executable, "-m", "optimizer", "--database", db, "db", "upgrade"],
            capture_output=True,
            text=True,
            cwd=tmp_path,
        )
        assert out.returncode == 0, out.stderr
        assert (tmp_path / db).exists()
        assert f"sqlite:///{tmp_path / db}" in out.stdout


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() != 0, reason="needs root")
def test_root_refuses_the_service_users_database(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """Issue 20, day 2: root running `db upgrade`/`plan` on the daemon's SQLite file would
    leave root-owned WAL files there; it is refused with the way to do it right."""
    db = tmp_path / "optimizer.db"
    ok = subprocess.run(
        [sys.executable, "-m", "optimizer", "--database", str(db), "db", "upgrade"],
        capture_output=True,
        text=True,
    )
    assert ok.returncode == 0, ok.stderr
    os.chown(db, 4242, 4242)  # as if the service's dynamic user owned it
    for cmd in (["db", "upgrade"], ["db", "stats"], ["fleets", "release", "web", "0x1"]):
        out = subprocess.run(
            [sys.executable, "-m", "optimizer", "--database", str(db), *cmd],
            capture_output=True,
            text=True,
        )
        assert out.returncode == 2, (cmd, out.stderr)
        assert "belongs to uid 4242" in out.stderr and "fluence-optimizer-cli" in out.stderr
    assert not (tmp_path / "optimizer.db-wal").exists()
