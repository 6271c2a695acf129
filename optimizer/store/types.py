"""Column types shared by every table module: aware-UTC timestamps that survive SQLite,
integer ids that stay SQLite rowid aliases while being 64-bit on PostgreSQL, and exact
decimals for unit prices finer than a micro-dollar."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import BigInteger, DateTime, Integer, Numeric, String
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator

# INTEGER PRIMARY KEY is SQLite's rowid (no extra storage); BIGINT on PostgreSQL.
BigId = BigInteger().with_variant(Integer(), "sqlite")


class UtcDateTime(TypeDecorator[datetime]):
    """A timezone-aware UTC datetime on every backend.

    PostgreSQL stores `timestamptz`; SQLite stores the UTC wall time as text (SQLite has no
    time zone support), and values come back as aware UTC either way. A naive datetime
    given to the database is taken to be UTC already.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if not isinstance(value, datetime):
            raise TypeError(f"expected a datetime, got {type(value).__name__}")
        at = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
        if dialect.name == "sqlite":
            return at.replace(tzinfo=None)
        return at

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if not isinstance(value, datetime):
            raise TypeError(f"expected a datetime from the database, got {type(value).__name__}")
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


#: what `ExactDecimal` is on each backend (the migrations create the same)
EXACT_DECIMAL = Numeric(24, 12).with_variant(String(40), "sqlite")


class ExactDecimal(TypeDecorator[Decimal]):
    """A `Decimal` stored exactly: NUMERIC(24, 12) on PostgreSQL; text on SQLite, whose
    numbers are floats. For prices per GB-hour, which can be finer than the micro-dollar
    the other money columns count in."""

    impl = EXACT_DECIMAL
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Dialect) -> Decimal | str | None:
        if value is None:
            return None
        if not isinstance(value, Decimal):
            raise TypeError(f"expected a Decimal, got {type(value).__name__}")
        return str(value) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: Dialect) -> Decimal | None:
        if value is None:
            return None
        d = Decimal(value)  # PostgreSQL pads to 12 places: drop the trailing zeros
        return d.quantize(Decimal(1)) if d == d.to_integral_value() else d.normalize()
