"""Fixtures for the security tests (issue 19)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from optimizer.daemon.logging import configure_logging


@pytest.fixture(autouse=True)
def _logging_back_to_default() -> Iterator[None]:
    """The daemon (and the demo) point structlog at their own stream, which they close
    when done; point it back at stderr so later tests do not log into a closed file."""
    yield
    configure_logging()
