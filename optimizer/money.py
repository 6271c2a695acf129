"""Money helpers. Money is `Decimal` from the wire to the journal, integer micro-USD on disk."""

from __future__ import annotations

from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation
from typing import Annotated

from pydantic import BeforeValidator, PlainSerializer

MICROS = Decimal(1_000_000)
CENT = Decimal("0.01")


def parse_usd(value: object) -> Decimal:
    """Given a wire value ("0.30698", 1, 1.5), return it as an exact Decimal.

    Raise ValueError for anything that is not a finite number. Floats from a sloppy JSON
    producer are converted through `repr` so 0.1 stays 0.1, not 0.1000000000000000055.
    """
    if isinstance(value, bool):
        raise ValueError(f"not a money amount: {value!r}")
    if isinstance(value, Decimal):
        d = value
    elif isinstance(value, int):
        d = Decimal(value)
    elif isinstance(value, float):
        d = Decimal(repr(value))
    elif isinstance(value, str):
        try:
            d = Decimal(value.strip())
        except InvalidOperation:
            raise ValueError(f"not a money amount: {value[:40]!r}") from None
    else:
        raise ValueError(f"not a money amount: {type(value).__name__}")
    if not d.is_finite():
        raise ValueError(f"not a finite money amount: {value!r}")
    return d


#: A pydantic field holding money: parsed exactly by `parse_usd`, written to JSON as a string.
Usd = Annotated[Decimal, BeforeValidator(parse_usd), PlainSerializer(str, when_used="json")]


def to_micros(amount: Decimal) -> int:
    """Decimal USD → integer micro-USD (banker's rounding below one micro-dollar)."""
    return int((amount * MICROS).quantize(Decimal(1), rounding=ROUND_HALF_EVEN))


def from_micros(micros: int) -> Decimal:
    """Integer micro-USD → Decimal USD, exact."""
    return Decimal(micros) / MICROS


def fmt_usd(amount: Decimal, places: int = 2) -> str:
    """Render for humans: `$1.23`. Accounting keeps full precision; this only displays."""
    q = Decimal(1).scaleb(-places)
    return f"${amount.quantize(q, rounding=ROUND_HALF_EVEN):,}"
