"""The configuration documents itself: every field of every config model has a description,
the generated reference names every key, and the annotated example configs load and show
every key."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import BaseModel

from optimizer.config import Config, Section
from tests.docs.generator import ROOT, load_generator

gen = load_generator()


def config_models() -> set[type[BaseModel]]:
    """Every Section subclass (the models of the file), found from the class tree so a new
    section is covered without being listed here."""
    seen: set[type[BaseModel]] = set()
    todo: list[type] = [Section]
    while todo:
        cls = todo.pop()
        todo.extend(cls.__subclasses__())
        if cls is not Section:
            seen.add(cls)
    return seen


def test_every_config_field_has_a_description() -> None:
    models = config_models()
    assert Config in models and len(models) > 15, "the walk found the config models"
    missing = [
        f"{model.__name__}.{name}"
        for model in models
        for name in model.model_fields
        if not model.field_docs().get(name, "").strip()
    ]
    assert missing == [], f"config fields without a description (add a docstring): {missing}"


CONFIG_DIR = ROOT / "config"
#: Keys the annotated example deliberately leaves out, each with the reason. Empty today:
#: every key is shown (commented out where it has no sensible example value).
NOT_IN_EXAMPLE: dict[str, str] = {}


def test_every_config_key_is_in_the_configuration_reference() -> None:
    page = (ROOT / "docs" / "reference" / "configuration.md").read_text()
    keys = gen.config_keys()
    assert any(k.path == "fleets[].policy.max_surge" for k in keys)
    for key in keys:
        assert f"`{key.path}`" in page, f"{key.path} is not in the configuration reference"


@pytest.mark.parametrize("name", ["optimizer.example.toml", "demo.toml", "demo-cloud.toml"])
def test_every_key_in_the_example_configs_is_a_config_key(name: str) -> None:
    """Commented-out keys included: a `# max_surg = 5` would teach a key that fails."""
    known = {k.path for k in gen.config_keys()}
    shown = gen.example_values(gen.commented_example(CONFIG_DIR / name))
    unknown = sorted(set(shown) - known)
    assert unknown == [], f"config/{name} shows keys the models do not have: {unknown}"


def test_every_config_key_is_shown_in_the_annotated_example() -> None:
    shown = gen.example_values(gen.commented_example(CONFIG_DIR / "optimizer.example.toml"))
    assert "metrics.listen" in shown, "commented-out keys are read"
    assert "alerts.sinks[].smtp_host" in shown, "commented-out tables are read"
    assert not set(NOT_IN_EXAMPLE) - {k.path for k in gen.config_keys()}, "stale exemption"
    missing = [
        k.path for k in gen.config_keys() if k.path not in shown and k.path not in NOT_IN_EXAMPLE
    ]
    assert missing == [], f"config/optimizer.example.toml does not show: {missing}"


def test_prose_comments_are_not_read_as_keys(tmp_path: Path) -> None:
    example = tmp_path / "x.toml"
    example.write_text(
        '# observe   = snapshot the market and report\nmode = "act"\n'
        '[daemon]\n# jitter = 0.2   # commented out\n# [[alerts.sinks]]\n# kind = "log"\n'
    )
    assert gen.example_values(gen.commented_example(example)) == {
        "mode": "act",
        "daemon": {"jitter": 0.2},
        "daemon.jitter": 0.2,
        "alerts": {"sinks": [{"kind": "log"}]},
        "alerts.sinks": [{"kind": "log"}],
        "alerts.sinks[].kind": "log",
    }
