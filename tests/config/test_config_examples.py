"""Every file shipped in config/ is a valid configuration."""

from __future__ import annotations

from pathlib import Path

import pytest

from optimizer.config import load_config

CONFIG_DIR = Path(__file__).resolve().parents[2] / "config"
FILES = sorted(CONFIG_DIR.glob("*.toml"))


def test_there_are_example_configs() -> None:
    assert any(p.name == "optimizer.example.toml" for p in FILES)


@pytest.mark.parametrize("path", FILES, ids=[p.name for p in FILES])
def test_every_config_file_validates(path: Path) -> None:
    cfg = load_config(path)
    assert cfg.mode in ("observe", "recommend", "act")


def test_example_covers_every_section() -> None:
    cfg = load_config(CONFIG_DIR / "optimizer.example.toml")
    text = (CONFIG_DIR / "optimizer.example.toml").read_text()
    for section in type(cfg).model_fields:
        assert section in text, f"optimizer.example.toml does not mention [{section}]"
    assert {f.name for f in cfg.fleets} == {"web", "batch"}
    assert cfg.fleets[1].capacity is not None
