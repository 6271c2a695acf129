"""The generated reference pages are current, and name every command, option and metric."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.docs.generator import ROOT, load_generator

gen = load_generator()


def test_generated_pages_are_current() -> None:
    assert gen.stale_pages() == [], "run: python docs/generate.py"


def test_every_command_and_option_is_in_the_cli_reference() -> None:
    page = (ROOT / "docs" / "reference" / "cli.md").read_text()
    paths = list(gen.commands())
    assert len(paths) > 20, "the walk found the command tree"
    for path, cmd in paths:
        assert f"`{' '.join(path)}`" in page, f"{' '.join(path)} is not in the CLI reference"
        for param in cmd.params:
            for opt in [*param.opts, *param.secondary_opts]:
                if opt.startswith("-") and not param.hidden:
                    assert opt in page, f"{' '.join(path)} {opt} is not in the CLI reference"


def test_every_metric_is_in_the_metrics_reference() -> None:
    from optimizer.daemon.metrics import Metrics

    page = (ROOT / "docs" / "reference" / "metrics.md").read_text()
    for family in Metrics().registry.collect():
        assert family.name in page, f"{family.name} is not in the metrics reference"


def test_a_changed_page_is_reported_stale(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in gen.PAGES:
        (tmp_path / name).write_text((gen.REFERENCE / name).read_text())
    (tmp_path / "metrics.md").write_text("# Metrics\n")
    monkeypatch.setattr(gen, "REFERENCE", tmp_path)
    assert gen.stale_pages() == ["metrics.md"]
