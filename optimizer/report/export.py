"""Per-epoch statistics for spreadsheets (CSV) and pipelines (JSON).

One row per segment per observed epoch, all levels in one table: `level` says which
(configuration, country, datacenter), key columns not used by a level are empty. Missing
values (a change against an epoch with no data) are empty in CSV and null in JSON.

Text cells come from the API (configuration slugs, country codes, datacenter names), so
the CSV is made safe for spreadsheets: control characters are dropped, and a text cell
starting with `= + - @`, TAB or CR (a formula to Excel, LibreOffice and Google Sheets) gets
a leading `'`. Numeric columns are written as numbers, untouched.
"""

from __future__ import annotations

import json
import math
from datetime import datetime

import pandas as pd

from optimizer.analysis import STAT_COLUMNS, MarketAnalysis
from optimizer.untrusted import printable

KEY_COLUMNS = ("level", "configuration", "country", "datacenter", "epoch")


def stats_table(analysis: MarketAnalysis) -> pd.DataFrame:
    """All levels' per-epoch stats stacked: KEY_COLUMNS + STAT_COLUMNS, epoch as ISO text."""
    frames = []
    for level, stats in analysis.stats.items():
        if stats.empty:
            continue
        f = stats.assign(level=level)
        for k in ("country", "datacenter"):
            if k not in f.columns:
                f[k] = ""
        frames.append(f.loc[:, [*KEY_COLUMNS, *STAT_COLUMNS]])
    if not frames:
        return pd.DataFrame(columns=[*KEY_COLUMNS, *STAT_COLUMNS])
    out = pd.concat(frames, ignore_index=True)
    out["epoch"] = out["epoch"].dt.strftime("%Y-%m-%dT%H:%M:%SZ")
    return out


_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def csv_text_cell(value: object) -> object:
    """A text cell for a spreadsheet: control characters dropped, a leading `'` when it
    would start a formula. Anything but a string (a number, a missing value) as it is."""
    if not isinstance(value, str):
        return value
    if value.startswith(_FORMULA_START):
        value = "'" + value
    return printable(value, "")


def to_csv(analysis: MarketAnalysis) -> str:
    """CSV text with a header row; floats with up to 6 decimals; text cells made safe for
    spreadsheets (`csv_text_cell`)."""
    table = stats_table(analysis)
    for col in table.columns:
        if not pd.api.types.is_numeric_dtype(table[col]):
            table[col] = table[col].map(csv_text_cell)
    return table.to_csv(index=False, float_format="%.6g", lineterminator="\n")


def _clean(value: object) -> object:
    if isinstance(value, float) and (math.isnan(value) or math.isinf(value)):
        return None
    return value


def to_json(analysis: MarketAnalysis, *, generated_at: datetime) -> str:
    """A JSON object: generated_at, epoch_seconds, window {first_epoch, last_epoch},
    columns, and rows (objects keyed by column)."""
    table = stats_table(analysis)
    grid = analysis.history.grid
    rows = [
        {k: _clean(v) for k, v in rec.items()} for rec in table.astype(object).to_dict("records")
    ]
    doc = {
        "generated_at": generated_at.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "epoch_seconds": int(pd.Timedelta(analysis.history.length).total_seconds()),
        "window": {
            "first_epoch": grid[0].strftime("%Y-%m-%dT%H:%M:%SZ") if len(grid) else None,
            "last_epoch": grid[-1].strftime("%Y-%m-%dT%H:%M:%SZ") if len(grid) else None,
        },
        "columns": list(table.columns),
        "rows": rows,
    }
    return json.dumps(doc, separators=(",", ":"), allow_nan=False) + "\n"
