"""A list never hides its good items: per-item parsing of API lists (both generations).

One malformed item in a list of VMs, SSH keys or offers (a null name, an unknown enum
value, an odd timestamp, a wrong type) does not fail the whole answer:
- an optional field that cannot be parsed is emptied (set to None) and the item kept;
- an item that still does not parse (a required field unusable) is skipped;
either way one warning names the item (`fluence.malformed_item`, with its id or name
when it has one) and the process-wide count `MALFORMED` goes up (exported by the daemon
as `fluence_optimizer_api_malformed_items_total{kind}`).

A non-empty list whose items are ALL malformed is a `BadResponse` naming the first
problem: that is a changed answer shape, not one odd item, and an empty market or fleet
must never be inferred from it.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

import structlog
from pydantic import BaseModel, TypeAdapter, ValidationError

from optimizer.errors import BadResponse
from optimizer.fluence.http import clean_message, decode, first_error, unwrap

log = structlog.get_logger("optimizer.fluence")

M = TypeVar("M", bound=BaseModel)

#: malformed items seen by this process, by list kind ("vm", "ssh_key", "offer", ...)
MALFORMED: Counter[str] = Counter()
_lock = threading.Lock()

_NAME_KEYS = ("id", "vmId", "name", "vmName", "fingerprint", "slug")


def item_label(item: Any, index: int) -> str:
    """How a warning names an item: its id or name when it has a usable one, else its
    position in the list."""
    if isinstance(item, dict):
        for key in _NAME_KEYS:
            value = item.get(key)
            if isinstance(value, str | int) and not isinstance(value, bool) and str(value):
                return f"{key}={clean_message(value, limit=80)}"
    return f"#{index}"


def _count(kind: str) -> None:
    with _lock:
        MALFORMED[kind] += 1


def parse_item(model: type[M], item: Any) -> tuple[M | None, str | None]:
    """(parsed item or None, the first problem or None). Optional fields that fail are
    dropped (so their default, None or empty, applies) and the item parsed again (at
    most a few rounds)."""
    if not isinstance(item, dict):
        try:
            return model.model_validate(item), None
        except ValidationError as e:
            return None, first_error(e)
    data = dict(item)
    problem: str | None = None
    for _ in range(4):
        try:
            return model.model_validate(data), problem
        except ValidationError as e:
            problem = problem or first_error(e)
            emptied = False
            for err in e.errors():
                loc = err.get("loc", ())
                if not loc or not isinstance(loc[0], str):
                    continue
                key = _wire_key(model, loc[0], data)
                if key is None or _required(model, key):
                    continue
                del data[key]  # its default (None / empty) applies
                emptied = True
            if not emptied:
                return None, problem
    return None, problem


def _wire_key(model: type[BaseModel], name: str, data: dict[str, Any]) -> str | None:
    """The key in `data` that feeds field `name` (its alias or its own name)."""
    if name in data:
        return name
    field = model.model_fields.get(name)
    if field is not None and field.alias and field.alias in data:
        return field.alias
    for fname, f in model.model_fields.items():
        if f.alias == name and fname in data:
            return fname
    return None


def _required(model: type[BaseModel], key: str) -> bool:
    for fname, f in model.model_fields.items():
        if key in (fname, f.alias):
            return f.is_required()
    return False  # unknown key: ignored by the model anyway


def parse_items(
    model: type[M], items: Sequence[Any], kind: str, *, endpoint: str | None = None
) -> list[M]:
    """Parse each item on its own (see the module docstring)."""
    out: list[M] = []
    first_problem: str | None = None
    for index, item in enumerate(items):
        parsed, problem = parse_item(model, item)
        if problem is not None:
            first_problem = first_problem or f"[{index}].{problem}"
            _count(kind)
            log.warning(
                "fluence.malformed_item",
                kind=kind,
                item=item_label(item, index),
                problem=clean_message(problem, limit=160),
                action="kept with the field empty" if parsed is not None else "skipped",
                endpoint=endpoint,
            )
        if parsed is not None:
            out.append(parsed)
    if items and not out:
        raise BadResponse(f"unexpected response shape: {first_problem}")
    return out


def tolerant_list_of(model: type[M], kind: str, *wrappers: str) -> Callable[[bytes], list[M]]:
    """Response parser: a bare array or the array under one of `wrappers`. The whole list
    is validated at once (the fast, common case); only when that fails is it parsed item
    by item."""
    adapter: TypeAdapter[list[M]] = TypeAdapter(list[model])  # type: ignore[valid-type]

    def parse(body: bytes) -> list[M]:
        data = unwrap(decode(body), *wrappers)
        if not isinstance(data, list):
            raise BadResponse("unexpected response shape: expected a list")
        try:
            return adapter.validate_python(data)
        except ValidationError:
            return parse_items(model, data, kind)

    return parse
