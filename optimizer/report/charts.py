"""Report charts: matplotlib Figure objects rendered to PNG bytes by the Agg canvas
(no pyplot, no display, no global backend switch).

Every chart puts dates on the x-axis and units on the y-axis; gaps in the history are
NaN on the epoch grid, so lines break there instead of bridging missing epochs. Labels
that come from the API are drawn with math text off, so a name containing `$` is text.
"""

from __future__ import annotations

import io
from collections.abc import Hashable, Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import matplotlib
import matplotlib.dates as mdates
import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from optimizer.analysis import MarketAnalysis, wide
from optimizer.report.tables import natural_key

if TYPE_CHECKING:
    from matplotlib.typing import RcKeyType

USD_EPOCH = "USD per epoch (24 h)"
#: the axis label of a price, by what the prices are per (see `price_axis`)
PRICE_AXES = {"epoch": USD_EPOCH, "hour": "USD per hour"}


def price_axis(units: frozenset[str] | None) -> str:
    """`USD per epoch (24 h)`, `USD per hour`, or `USD (per hour or per epoch)` for a mix."""
    if not units or units == {"epoch"}:
        return USD_EPOCH
    if units == {"hour"}:
        return PRICE_AXES["hour"]
    return "USD (per hour or per 24 h epoch, by configuration)"


_RC: dict[RcKeyType, Any] = {
    "text.parse_math": False,
    "font.size": 9,
    "axes.titlesize": 10,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": True,
    "grid.alpha": 0.3,
    "timezone": "UTC",
}
MAX_LINES = 10


@contextmanager
def _style() -> Iterator[None]:
    with matplotlib.rc_context(_RC):
        yield


def _png(fig: Figure) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100)
    return buf.getvalue()


def _grid_margins(fig: Figure, rows: int, row_inches: float, left: float = 0.07) -> None:
    """Fixed margins for a grid of panels: cheaper than a layout engine (which draws the
    figure twice) and stable enough for our fixed label sizes."""
    height = rows * row_inches
    fig.subplots_adjust(
        left=left,
        right=0.98,
        wspace=0.22,
        top=1 - 0.3 / height,
        bottom=0.55 / height,
        hspace=1.0 / (row_inches - 1.0),  # ~1 inch between panels for label + title
    )


def _dates(ax: Axes) -> None:
    locator = mdates.AutoDateLocator(minticks=3, maxticks=8)
    ax.xaxis.set_major_locator(locator)
    ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator))
    ax.set_xlabel("epoch start (UTC)")


def _x(index: pd.DatetimeIndex) -> np.ndarray:
    return index.tz_convert("UTC").tz_localize(None).to_numpy()


def price_bands(a: MarketAnalysis, units: frozenset[str] | None = None) -> bytes | None:
    """One panel per configuration: median line, p10–p90 band, min dotted."""
    stats = a.stats.get("configuration")
    if stats is None or stats.empty:
        return None
    configs = sorted(stats["configuration"].unique(), key=natural_key)[:12]
    grid = a.history.span
    cols = 2 if len(configs) > 1 else 1
    rows = (len(configs) + cols - 1) // cols
    with _style():
        fig = Figure(figsize=(6.2 * cols, 2.9 * rows))
        _grid_margins(fig, rows, 2.9)
        axes = fig.subplots(rows, cols, squeeze=False).ravel()
        x = _x(grid)
        for ax, cfg in zip(axes, configs, strict=False):
            part = stats.loc[stats["configuration"] == cfg].set_index("epoch").reindex(grid)
            ax.fill_between(
                x,
                part["p10"],
                part["p90"],
                alpha=0.25,
                color="tab:blue",
                linewidth=0,
                label="p10–p90",
            )
            ax.plot(x, part["median"], color="tab:blue", linewidth=1.6, label="median")
            ax.plot(x, part["min"], color="tab:green", linewidth=1, linestyle=":", label="min")
            ax.set_title(str(cfg))
            ax.set_ylabel(price_axis(units))
            _dates(ax)
            ax.legend(loc="upper left", fontsize=7, framealpha=0.6)
        for ax in axes[len(configs) :]:
            ax.set_visible(False)
        return _png(fig)


def _lines(
    table: pd.DataFrame, ylabel: str, title: str, grid: pd.DatetimeIndex, zero: bool = False
) -> bytes | None:
    if table.empty or table.shape[1] == 0:
        return None
    order = sorted(table.columns, key=natural_key)[:MAX_LINES]
    table = table.loc[:, order]
    with _style():
        fig = Figure(figsize=(10, 3.6))
        fig.subplots_adjust(left=0.08, right=0.74, top=0.91, bottom=0.15)
        ax = fig.subplots()
        x = _x(grid)
        columns: Sequence[Hashable] = table.columns.tolist()  # tuples when levels nest
        for col in columns:
            label = " × ".join(map(str, col)) if isinstance(col, tuple) else str(col)
            ax.plot(x, table[col].to_numpy(dtype="float64"), linewidth=1.4, label=label)
        ax.set_ylabel(ylabel)
        ax.set_title(title)
        if zero:  # amounts and counts read best from 0
            ax.set_ylim(bottom=0)
        _dates(ax)
        ax.legend(loc="center left", bbox_to_anchor=(1.0, 0.5), fontsize=7, frameon=False)
        return _png(fig)


def per_vcpu(a: MarketAnalysis, units: frozenset[str] | None = None) -> bytes | None:
    """Median price per vCPU of each configuration over time."""
    stats = a.stats.get("configuration")
    if stats is None or stats.empty:
        return None
    table = wide(stats, "median_per_vcpu", "configuration", a.history.span)
    label = price_axis(units).replace("USD", "USD per vCPU", 1)
    return _lines(table, label, "Median price per vCPU", a.history.span)


def capacity(a: MarketAnalysis) -> bytes | None:
    """Available instances per configuration over time (mean over each epoch's snapshots)."""
    stats = a.stats.get("configuration")
    if stats is None or stats.empty:
        return None
    table = wide(stats, "capacity", "configuration", a.history.span)
    return _lines(
        table, "available instances", "Capacity (mean over the epoch)", a.history.span, zero=True
    )


def cheapest_bars(
    a: MarketAnalysis, level: str = "country", units: frozenset[str] | None = None
) -> bytes | None:
    """Median price now per country, one small bar panel per configuration."""
    stats = a.stats.get(level)
    if stats is None or stats.empty:
        return None
    last = stats["epoch"].max()
    now = stats.loc[stats["epoch"] == last]
    configs = sorted(now["configuration"].unique(), key=natural_key)[:12]
    cols = 2 if len(configs) > 1 else 1
    rows = (len(configs) + cols - 1) // cols
    with _style():
        fig = Figure(figsize=(6.2 * cols, 2.5 * rows))
        _grid_margins(fig, rows, 2.5, left=0.09)
        axes = fig.subplots(rows, cols, squeeze=False).ravel()
        for ax, cfg in zip(axes, configs, strict=False):
            part = now.loc[now["configuration"] == cfg].sort_values("median").head(MAX_LINES)
            labels = [str(v) for v in part[level]]
            ax.barh(labels[::-1], part["median"].to_numpy()[::-1], color="tab:blue")
            ax.set_title(f"{cfg} — median, latest epoch")
            ax.set_xlabel(price_axis(units))
            ax.grid(axis="y", visible=False)
        for ax in axes[len(configs) :]:
            ax.set_visible(False)
        return _png(fig)


def fleet_spend(spend: pd.DataFrame | None, grid: pd.DatetimeIndex) -> bytes | None:
    """Spend per fleet per epoch (columns epoch, fleet, spend_usd)."""
    if spend is None or spend.empty:
        return None
    table = spend.pivot_table(
        index="epoch", columns="fleet", values="spend_usd", aggfunc="sum"
    ).reindex(grid)
    return _lines(table, USD_EPOCH, "Fleet spend per epoch", grid, zero=True)


def savings(saved: pd.DataFrame | None, grid: pd.DatetimeIndex) -> bytes | None:
    """Cumulative savings realized per fleet (columns epoch, fleet, savings_usd)."""
    if saved is None or saved.empty:
        return None
    table = (
        saved.pivot_table(index="epoch", columns="fleet", values="savings_usd", aggfunc="sum")
        .reindex(grid)
        .fillna(0.0)  # no saving recorded in an epoch is a saving of 0, not missing data
        .cumsum()
    )
    return _lines(table, "USD (cumulative)", "Savings realized (cumulative)", grid, zero=True)
