"""Start-up cost, guarded structurally: a command imports only what it uses.

Each test runs the CLI in a fresh interpreter and lists the heavy modules that ended up
in `sys.modules`. No timing is asserted (the figures are printed by
tests/benchmarks/bench_startup_snapshot.py); an import that slips back to module level
shows up here as a module name.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from optimizer.sim import Simulator, start_server
from optimizer.store.engine import open_store

# what `--help` and `--version` must not load: the data stack, the HTTP/wire stack, the
# config models, and every package of the core
NOT_FOR_HELP = (
    "pandas",
    "numpy",
    "matplotlib",
    "sqlalchemy",
    "sqlmodel",
    "alembic",
    "pydantic",
    "httpx",
    "structlog",
    "rich",
    "optimizer.config",
    "optimizer.fluence",
    "optimizer.store",
    "optimizer.analysis",
    "optimizer.planner",
    "optimizer.executor",
    "optimizer.alerts",
    "optimizer.report",
    "optimizer.daemon",
    "optimizer.sim",
    "optimizer.backtest",
)
# `vms list` talks to the API and prints a table: no database, no analysis, no alerts,
# and no rich (structlog would import it for tracebacks we do not render with it)
NOT_FOR_VMS_LIST = (
    "rich",
    "pandas",
    "numpy",
    "matplotlib",
    "sqlalchemy",
    "sqlmodel",
    "alembic",
    "optimizer.store",
    "optimizer.analysis",
    "optimizer.planner",
    "optimizer.executor",
    "optimizer.alerts",
    "optimizer.report",
    "optimizer.sim",
)

_PROBE = textwrap.dedent(
    """
    import json, sys
    from optimizer.cli.main import main
    try:
        main(sys.argv[1:])
    except SystemExit as e:
        code = e.code or 0
    else:
        code = 0
    print(json.dumps({"code": code, "modules": sorted(sys.modules)}), file=sys.stderr)
    """
)


def _run(*args: str, env: dict[str, str] | None = None) -> tuple[int, set[str], str]:
    """Run the CLI with `args` in a fresh interpreter; return (exit code, loaded module
    names, stdout)."""
    proc = subprocess.run(
        [sys.executable, "-c", _PROBE, *args],
        capture_output=True, text=True, timeout=60, env={**os.environ, **(env or {})},
    )  # fmt: skip
    report = json.loads(proc.stderr.strip().splitlines()[-1])
    return report["code"], set(report["modules"]), proc.stdout


def _loaded(modules: set[str], forbidden: tuple[str, ...]) -> list[str]:
    return sorted(f for f in forbidden if any(m == f or m.startswith(f + ".") for m in modules))


@pytest.mark.parametrize("args", [("--help",), ("--version",)])
def test_help_and_version_load_none_of_the_heavy_modules(args: tuple[str, ...]) -> None:
    """`--help` and `--version` build the whole command tree, yet load neither pandas,
    SQLAlchemy, matplotlib, pydantic, httpx nor any package of the core."""
    code, modules, out = _run(*args)
    assert code == 0
    assert out.strip()  # it did print its help / version
    assert _loaded(modules, NOT_FOR_HELP) == []


@pytest.mark.parametrize("args", [("vms", "list"), ("snapshot",), ("report",), ("db", "stats")])
def test_command_help_loads_none_of_the_heavy_modules(args: tuple[str, ...]) -> None:
    """A command's `--help` loads nothing of ours either. Typer itself coerces a
    command's parameters with pydantic adapters, so pydantic is the one exception."""
    code, modules, out = _run(*args, "--help")
    assert code == 0
    assert "Usage:" in out
    assert _loaded(modules, tuple(m for m in NOT_FOR_HELP if m != "pydantic")) == []


@pytest.mark.http
def test_vms_list_loads_no_database_or_analysis_stack() -> None:
    """`vms list` against a loopback API prints the VMs without importing pandas,
    SQLAlchemy, matplotlib, the store, the planner or the alert stack."""
    sim = Simulator(seed=7, offers=20)
    with start_server(sim) as srv:
        code, modules, out = _run(
            "--api-url", srv.url, "vms", "list", "--json", env={"FLUENCE_API_KEY": sim.api_key}
        )
    assert code == 0
    assert json.loads(out) == []  # a fresh simulated account has no VMs
    assert "httpx" in modules  # it did talk to the API
    assert _loaded(modules, NOT_FOR_VMS_LIST) == []


# `snapshot` fetches and stores offers: SQLAlchemy Core, but not the ORM, SQLModel,
# Alembic (the schema is current) or the analysis stack
NOT_FOR_SNAPSHOT = (
    "rich",
    "pandas",
    "numpy",
    "matplotlib",
    "sqlmodel",
    "sqlalchemy.orm",
    "alembic",
    "optimizer.analysis",
    "optimizer.planner",
    "optimizer.executor",
    "optimizer.alerts",
    "optimizer.report",
    "optimizer.sim",
)


@pytest.mark.http
def test_snapshot_of_a_current_store_loads_no_orm_alembic_or_analysis(tmp_path: Path) -> None:
    """A snapshot into a store already at the newest schema revision writes through Core
    tables: neither SQLModel, the ORM, Alembic nor pandas is imported."""
    sim = Simulator(seed=7, offers=20)
    db = f"sqlite:///{tmp_path / 'opt.db'}"
    open_store(db).dispose()  # created (and migrated) by an earlier command
    with start_server(sim) as srv:
        code, modules, out = _run(
            "--api-url", srv.url, "--database", db, "snapshot", "--no-vms",
            env={"FLUENCE_API_KEY": sim.api_key},
        )  # fmt: skip
    assert code == 0
    assert "20 offers seen, 20 new" in out
    assert "sqlalchemy" in modules  # it did write the store
    assert _loaded(modules, NOT_FOR_SNAPSHOT) == []


def test_structlog_is_imported_without_rich_which_stays_importable() -> None:
    """The CLI hides rich from structlog's first import only: structlog takes its
    no-rich branch, a later `import rich` (the report's progress bar) still works, and
    the console renderer prints the plain traceback either way."""
    probe = textwrap.dedent(
        """
        import io, sys
        from optimizer.cli.lean_imports import structlog_without_rich
        structlog_without_rich()
        import structlog
        assert "rich" not in sys.modules, "structlog imported rich"
        assert structlog.dev.rich is None
        import rich.console
        assert rich.console.Console is not None
        from optimizer.daemon.logging import configure_logging, get_logger
        out = io.StringIO()
        configure_logging(level="info", stream=out, json=False)
        try:
            raise ValueError("boom")
        except ValueError:
            get_logger("t").exception("failed")
        print(out.getvalue())
        """
    )
    proc = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, check=False
    )
    assert proc.returncode == 0, proc.stderr
    assert "Traceback (most recent call last)" in proc.stdout
    assert "ValueError: boom" in proc.stdout
