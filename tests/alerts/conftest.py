"""Fixtures for alert tests: stores that are disposed after the test."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from sqlalchemy.engine import Engine

from optimizer.store.engine import open_store


@pytest.fixture
def open_engine(db_url: str) -> Iterator[Callable[[], Engine]]:
    """Open the test database (again: a "restart"); every engine is disposed afterwards."""
    engines: list[Engine] = []

    def make() -> Engine:
        engines.append(open_store(db_url))
        return engines[-1]

    yield make
    for e in engines:
        e.dispose()


@pytest.fixture
def engine(open_engine: Callable[[], Engine]) -> Engine:
    return open_engine()
