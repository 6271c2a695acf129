"""Shared output helpers for CLI commands: rich tables for people, JSON for scripts.

Everything that came from the API is untrusted: table cells are `rich.text.Text`
objects (never parsed as markup, so `[red]` or `[link=...]` in a VM name prints as
typed) and control characters (ANSI escapes, bidi overrides) are replaced with `�`.
JSON output escapes every non-ASCII character, so it is safe in a terminal too.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import typer

from optimizer.untrusted import printable

if TYPE_CHECKING:
    from rich.console import Console
    from rich.text import Text

# rich and pydantic are imported where they are used, not here: every command module
# imports this one, and `--help` must not pay for them (see tests/cli/test_startup.py)


def safe(value: object) -> str:
    """Untrusted value → printable text: control and bidi characters become `�`."""
    return printable(value)


def cell(value: object, style: str | None = None) -> Text:
    """A table cell that is never interpreted as rich markup."""
    from rich.text import Text

    if isinstance(value, Decimal):
        value = format_decimal(value)
    elif isinstance(value, datetime):
        value = value.strftime("%Y-%m-%d %H:%M")
    return Text(safe(value), style=style or "")


def format_decimal(d: Decimal) -> str:
    """`Decimal('0.30698000')` → `0.30698`; exact, never scientific notation."""
    s = format(d, "f")
    if "." in s:
        s = s.rstrip("0").rstrip(".")
    return s or "0"


def console() -> Console:
    """A console on the current stdout (looked up at print time, so capture works)."""
    from rich.console import Console

    return Console(highlight=False, markup=False, emoji=False, soft_wrap=False)


def print_table(
    columns: Sequence[str | tuple[str, str]],
    rows: Iterable[Sequence[object]],
    *,
    title: str | None = None,
    empty: str = "(none)",
    optional: Sequence[str] | None = None,
) -> None:
    """Print a table. A column is a header, or (header, "right") for numbers.

    The table fits the terminal (80 columns when output is not a terminal): while it is
    too wide, the `optional` columns are left out in that order (default: from the last
    column towards the third), and a note on stderr names them (`--json` has every
    field); then long cells are cut with "…". Cells never wrap and headers are never cut.
    """
    from rich.table import Table
    from rich.text import Text

    specs = [(c, "left") if isinstance(c, str) else c for c in columns]
    cells = [[v if isinstance(v, Text) else cell(v) for v in row] for row in rows]
    out = console()
    if not cells:
        out.print(Text(empty))
        return

    names = [h for h, _ in specs]
    natural = [max([len(h)] + [row[i].cell_len for row in cells]) for i, (h, _) in enumerate(specs)]

    def total(cols: list[int]) -> int:  # cells + one space each side + "│" between
        return sum(natural[i] for i in cols) + 3 * (len(cols) - 1)

    keep = list(range(len(specs)))
    dropped: list[str] = []
    for name in list(optional) if optional is not None else names[:1:-1]:
        if total(keep) <= out.width:
            break
        if name in names and names.index(name) in keep and len(keep) > 1:
            keep.remove(names.index(name))
            dropped.append(name)
    width = {i: natural[i] for i in keep}
    excess = total(keep) - out.width
    while excess > 0:  # cut the widest cells first, never below the header
        i = max(keep, key=lambda k: width[k] - max(len(names[k]), 4))
        if width[i] <= max(len(names[i]), 4):
            break
        width[i] -= 1
        excess -= 1
    # the title on a line of its own: as a table title it wrapped to the table's width
    table = Table(show_edge=False, pad_edge=False)
    for i in keep:
        header, justify = specs[i]
        table.add_column(
            header,
            justify=justify,  # type: ignore[arg-type]
            no_wrap=True,
            overflow="ellipsis",
            width=width[i],
        )
    for row in cells:
        table.add_row(*(row[i] for i in keep))
    if title:
        out.print(Text(safe(title)))
    out.print(table)
    if dropped:
        typer.echo(
            f"({', '.join(dropped)} left out to fit {out.width} columns; "
            "a wider terminal or --json shows them)",
            err=True,
        )


def to_jsonable(obj: Any) -> Any:
    """Wire models → their documented camelCase JSON; lists and plain values as they are."""
    from pydantic import BaseModel

    if isinstance(obj, BaseModel):
        wire = getattr(obj, "wire", None)
        return wire() if callable(wire) else obj.model_dump(mode="json", by_alias=True)
    if isinstance(obj, list | tuple):
        return [to_jsonable(o) for o in obj]
    if isinstance(obj, dict):
        return {k: to_jsonable(v) for k, v in obj.items()}
    if isinstance(obj, Decimal):
        return str(obj)
    if isinstance(obj, datetime):
        return obj.isoformat()
    return obj


def print_json(obj: Any) -> None:
    """Print `obj` as indented JSON on stdout (ASCII only: safe for any terminal)."""
    typer.echo(json.dumps(to_jsonable(obj), indent=2, ensure_ascii=True))


def print_line(text: str) -> None:
    """One plain status line (e.g. `added key ...`), untrusted parts already `safe()`."""
    typer.echo(safe(text))


JSON_OPTION_HELP = "Print the API objects as JSON instead of a table."
