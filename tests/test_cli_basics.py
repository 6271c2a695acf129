"""Every command answers --help; usage errors exit 2 without a traceback."""

from __future__ import annotations

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
