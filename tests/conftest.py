"""Shared fixtures: a fresh database per test, on SQLite always and on PostgreSQL when
OPTIMIZER_TEST_POSTGRES_URL is set (each test gets its own schema, dropped afterwards)."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from urllib.parse import quote

# The CLI imports pandas and matplotlib only when a command needs them. Imported for the
# first time while freezegun has replaced `datetime`, pandas trips its binary-compatibility
# check and matplotlib registers its date converter for the fake class, so both are
# loaded here, before any test freezes time.
import matplotlib.dates  # noqa: F401
import pandas  # noqa: F401
import pytest

PG_URL = os.environ.get("OPTIMIZER_TEST_POSTGRES_URL")


def _pg_schema_url(schema: str) -> str:
    assert PG_URL
    sep = "&" if "?" in PG_URL else "?"
    return f"{PG_URL}{sep}options={quote(f'-csearch_path={schema}')}"


@pytest.fixture
def pg_url() -> Iterator[str]:
    """A PostgreSQL URL whose search_path is a fresh, empty schema."""
    if not PG_URL:
        pytest.skip("OPTIMIZER_TEST_POSTGRES_URL is not set")
    import sqlalchemy as sa

    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(PG_URL)
    with admin.begin() as conn:
        conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    try:
        yield _pg_schema_url(schema)
    finally:
        with admin.begin() as conn:
            conn.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path) -> str:
    """A fresh, empty database URL: SQLite file, then PostgreSQL when configured."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'optimizer.db'}"
    return request.getfixturevalue("pg_url")


@pytest.fixture(autouse=True)
def _no_real_api_key(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests never pick up a developer's real key or config from the environment."""
    for var in (
        "FLUENCE_API_KEY",
        "CREDENTIALS_DIRECTORY",
        "FLUENCE_OPTIMIZER_CONFIG",
        "CONFIGURATION_DIRECTORY",
        "STATE_DIRECTORY",
    ):
        monkeypatch.delenv(var, raising=False)
