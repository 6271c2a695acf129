"""Table classes (SQLModel, table=True), one module per area: market, journal, alerts,
leader. Importing this package imports every module in it, so `SQLModel.metadata` (used
by Alembic's env.py and by tests) always knows every table."""

from __future__ import annotations

import importlib
import pkgutil

import sqlalchemy as sa
from sqlmodel import SQLModel


def table_of(model: type[SQLModel]) -> sa.Table:
    """The Core `Table` behind a table model, for SQL expressions. (SQLModel sets
    `Model.__table__` when the class is created, where a type checker cannot see it.)"""
    table = sa.inspect(model).local_table
    if not isinstance(table, sa.Table):
        raise TypeError(f"{model.__name__} is not a table model")
    return table


for _module in pkgutil.iter_modules(__path__):
    importlib.import_module(f"{__name__}.{_module.name}")
