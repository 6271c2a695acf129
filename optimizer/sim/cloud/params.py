"""Request and answer plumbing shared by the cloud face's handlers: query parameters as
each spec version reads them, JSON bodies, sorting, JSON answers."""

from __future__ import annotations

import json
from datetime import date
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs

from optimizer.sim.app import JSON, SimResponse
from optimizer.sim.cloud.catalog import SPEC_0_8, SPEC_0_10
from optimizer.sim.cloud.errors import CloudError, unprocessable

if TYPE_CHECKING:
    from optimizer.sim.cloud.world import CloudWorld


def answer(status: int, payload: Any, headers: dict[str, str] | None = None) -> SimResponse:
    body = json.dumps(payload, separators=(",", ":")).encode()
    return SimResponse(status, body, {**JSON, **(headers or {})})


class Query:
    """Query parameters: repeated (`ids=a&ids=b`) or comma-joined arrays."""

    def __init__(self, raw: str, spec: str) -> None:
        self.q = parse_qs(raw, keep_blank_values=True)
        self.spec = spec

    def one(self, name: str) -> str | None:
        values = self.q.get(name)
        return values[-1] if values else None

    def many(self, name: str) -> list[str]:
        return [x for v in self.q.get(name, []) for x in v.split(",") if x]

    def integer(self, name: str, default: int) -> int:
        raw = self.one(name)
        if raw is None or raw == "":
            return default
        try:
            value = int(raw)
        except ValueError:
            raise CloudError(
                400, "bad_request", f"query {name}: {raw!r} is not an integer"
            ) from None
        if value < 0:
            raise CloudError(400, "bad_request", f"query {name}: must be >= 0")
        return value

    def flag(self, name: str) -> bool:
        raw = self.one(name)
        if raw is None:
            return False
        if raw.lower() in ("true", "false"):
            return raw.lower() == "true"
        raise CloudError(400, "bad_request", f"query {name}: {raw!r} is not a boolean")

    def day(self, name: str, *, required: bool = False) -> date | None:
        raw = self.one(name)
        if raw is None:
            if required:
                raise CloudError(400, "bad_request", f"query {name} is required")
            return None
        try:
            return date.fromisoformat(raw)
        except ValueError:
            raise CloudError(400, "bad_request", f"query {name}: {raw!r} is not a date") from None

    def page(self, w: CloudWorld) -> tuple[int, int]:
        """(page ≥ 1, per page): `per_page` in 0.8.210, `perPage` in 0.10.0 (the other
        name is unknown to that server and ignored)."""
        per_name = "per_page" if self.spec == SPEC_0_8 else "perPage"
        per_page = self.integer(per_name, w.config.default_per_page) or w.config.default_per_page
        return max(self.integer("page", 1), 1), min(per_page, w.config.max_per_page)

    def statuses(self, name: str, allowed: tuple[str, ...]) -> list[str]:
        """A status filter: one value in 0.8.210, a list in 0.10.0; unknown values → 400."""
        values = self.many(name) if self.spec == SPEC_0_10 else [v for v in [self.one(name)] if v]
        for v in values:
            if v not in allowed:
                raise CloudError(400, "bad_request", f"query {name}: unknown status {v!r}")
        return values


def body_object(body: bytes) -> dict[str, Any]:
    if not body.strip():
        raise CloudError(400, "bad_request", "Request body is required")
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise CloudError(400, "bad_request", "Request body is not valid JSON") from None
    if not isinstance(data, dict):
        raise unprocessable("Request body must be a JSON object")
    return data


def body_ids(body: bytes) -> list[str]:
    ids = body_object(body).get("ids")
    if not isinstance(ids, list) or not all(isinstance(i, str) for i in ids):
        raise unprocessable("ids: expected a list of ids")
    return ids


def sort_items(items: list[Any], q: Query, default_desc: bool = True) -> list[Any]:
    field = q.one("sort") if q.spec == SPEC_0_10 else None
    order = q.one("order") if q.spec == SPEC_0_10 else None
    if field not in (None, "createdAt", "name", "status"):
        raise CloudError(400, "bad_request", f"query sort: unknown field {field!r}")
    if order not in (None, "asc", "desc"):
        raise CloudError(400, "bad_request", f"query order: unknown order {order!r}")
    attr = {"createdAt": "created_at", "name": "name", "status": "status"}[field or "createdAt"]
    desc = default_desc if order is None else order == "desc"
    return sorted(items, key=lambda x: (getattr(x, attr), x.id), reverse=desc)
