"""Table definitions, one module per area: market and account (SQLAlchemy Core
tables), journal, alerts, leader (SQLModel table classes, which the executor reads
through sessions).

Importing this package is cheap and imports none of them: the snapshot path uses the
market and account tables alone and so never loads SQLModel or the ORM. `metadata()` imports every
module and returns the one `MetaData` that knows every table (Alembic's env.py,
`db copy`, the schema tests).
"""

from __future__ import annotations

import importlib
import pkgutil
from typing import TYPE_CHECKING

import sqlalchemy as sa

if TYPE_CHECKING:
    from sqlmodel import SQLModel


def table_of(model: type[SQLModel]) -> sa.Table:
    """The Core `Table` behind a table model, for SQL expressions. (SQLModel sets
    `Model.__table__` when the class is created, where a type checker cannot see it.)"""
    table = sa.inspect(model).local_table
    if not isinstance(table, sa.Table):
        raise TypeError(f"{model.__name__} is not a table model")
    return table


def metadata() -> sa.MetaData:
    """`SQLModel.metadata` with every table of every module here on it: the SQLModel
    classes register themselves when imported, the Core tables of the modules that have
    their own `METADATA` (market, account) are copied onto it (once)."""
    from sqlmodel import SQLModel

    for module in pkgutil.iter_modules(__path__):
        mod = importlib.import_module(f"{__name__}.{module.name}")
        own = getattr(mod, "METADATA", None)
        for table in own.sorted_tables if isinstance(own, sa.MetaData) else ():
            if table.name not in SQLModel.metadata.tables:
                table.to_metadata(SQLModel.metadata)
    return SQLModel.metadata
