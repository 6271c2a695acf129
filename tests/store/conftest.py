"""Fixtures for store tests: an opened store per database backend and an offer factory
producing wire-shaped offers (what `POST /marketplace/offers` answers)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from sqlalchemy.engine import Engine

from optimizer.store.engine import open_store


@pytest.fixture
def store(db_url: str) -> Iterator[Engine]:
    engine = open_store(db_url)
    try:
        yield engine
    finally:
        engine.dispose()


def wire_offer(
    slug: str = "cpu-2-ram-4gb-storage-25gb",
    price: str = "0.30698",
    country: str = "FR",
    city: str = "PAR",
    index: int = 1,
    capacity: int = 5,
    arch: str = "Zen",
    tier: int = 4,
    **extra: Any,
) -> dict[str, Any]:
    """One offer in the documented wire shape."""
    return {
        "configuration": {"slug": slug, "price": price},
        "resources": [
            {"type": "VCPU", "metadata": {"manufacturer": "AMD", "architecture": arch},
             "price": "0.005"},
            {"type": "RAM", "metadata": {"type": "DDR", "generation": "4"}, "price": "0.001"},
            {"type": "STORAGE", "metadata": {"type": "SSD"}, "price": "0.0001"},
        ],
        "datacenter": {"countryCode": country, "cityCode": city, "cityIndex": index,
                       "tier": tier, "certifications": ["ISO/IEC 27001:2022"]},
        "servers": [{"availableBasicInstances": capacity, "additionalResources": []}],
        "maxAdditionalSupply": [],
        **extra,
    }  # fmt: skip


@pytest.fixture
def make_offer() -> Callable[..., dict[str, Any]]:
    return wire_offer
