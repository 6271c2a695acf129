"""Alembic environment, driven programmatically by `optimizer.store.engine`.

The engine comes in `config.attributes["engine"]` (or a URL in `sqlalchemy.url`), and
`target_metadata` is the metadata that knows every table (`optimizer.store.tables.metadata()`).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import context

from optimizer.store.tables import metadata

config = context.config
target_metadata = metadata()


def run_migrations_offline() -> None:
    context.configure(
        url=config.get_main_option("sqlalchemy.url"),
        target_metadata=target_metadata,
        literal_binds=True,
        render_as_batch=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    given: sa.Engine | None = config.attributes.get("engine")
    if given is not None:
        _migrate(given)
        return
    url = config.get_main_option("sqlalchemy.url")
    if url is None:
        raise RuntimeError("alembic env: neither an engine nor sqlalchemy.url was given")
    engine = sa.create_engine(url)
    try:
        _migrate(engine)
    finally:
        engine.dispose()


def _migrate(engine: sa.Engine) -> None:
    with engine.connect() as connection:
        context.configure(
            connection=connection,
            target_metadata=target_metadata,
            render_as_batch=connection.dialect.name == "sqlite",
            transaction_per_migration=False,  # all-or-nothing, never half-upgraded
        )
        with context.begin_transaction():
            context.run_migrations()
        connection.commit()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
