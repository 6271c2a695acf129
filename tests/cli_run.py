"""Run the CLI in-process, as a user would from a shell: exit code, stdout, stderr."""

from __future__ import annotations

import pytest

from optimizer.cli.main import main


def run_main(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    """`fluence-optimizer ARGS…`: its exit code (0 when it returns) and what it printed."""
    try:
        main(list(args))
        code = 0
    except SystemExit as e:
        code = e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
    out = capsys.readouterr()
    return code, out.out, out.err
