"""Small DataFrame helpers shared by the store and the CLI (no pandas import at load)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd


def records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """The rows of `frame` as dicts (column name → value): insert parameters, JSON rows."""
    return [{str(k): v for k, v in row.items()} for row in frame.to_dict("records")]
