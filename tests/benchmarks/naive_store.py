"""The naive way to keep marketplace history, the baseline our store is measured against:
flatten the whole offers answer with pandas and append it to a table.

Imports only pandas and SQLAlchemy, so a process running just this pays just for them.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import pandas as pd
import sqlalchemy as sa


def naive_write(engine: sa.Engine, offers: list[dict[str, Any]], taken_at: datetime) -> None:
    """The obvious approach: flatten the whole answer with pandas and append it."""
    df = pd.json_normalize(offers)
    for col in df.columns:
        if df[col].dtype == object and df[col].map(lambda v: isinstance(v, list | dict)).any():
            df[col] = df[col].map(json.dumps)
    df["taken_at"] = taken_at
    df.to_sql("offers", engine, if_exists="append", index=False)
