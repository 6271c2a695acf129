"""The configuration documents itself: every field of every config model has a description,
the generated reference names every key, and the annotated example configs load and show
every key."""

from __future__ import annotations

from pydantic import BaseModel

from optimizer.config import Config, Section


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
        for name, field in model.model_fields.items()
        if not (field.description or "").strip()
    ]
    assert missing == [], f"config fields without a description (add a docstring): {missing}"
