"""Table classes (SQLModel, table=True), one module per area: market, journal, alerts,
leader. Importing this package imports every module in it, so `SQLModel.metadata` (used
by Alembic's env.py and by tests) always knows every table."""

from __future__ import annotations

import importlib
import pkgutil

for _module in pkgutil.iter_modules(__path__):
    importlib.import_module(f"{__name__}.{_module.name}")
