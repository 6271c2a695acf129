"""Fixtures for report tests: a store holding a 30-day simulated history (the simulator's
market snapshotted every 4 hours through the real ingest), built once per session."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine

from optimizer.sim.simulator import Simulator
from optimizer.store.engine import open_store
from optimizer.store.ingest import ingest_snapshot


@dataclass(frozen=True)
class SimHistory:
    url: str
    start: datetime
    end: datetime  # just after the last snapshot


def record_history(
    engine: Engine, sim: Simulator, days: int, every: timedelta = timedelta(hours=4)
) -> None:
    """Snapshot the simulator's market every `every` for `days` days into `engine`."""
    for _ in range(int(timedelta(days=days) / every)):
        ingest_snapshot(engine, sim.offers(None), sim.now())
        sim.advance(every)


@pytest.fixture(scope="session")
def sim_history(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SimHistory]:
    path: Path = tmp_path_factory.mktemp("report") / "history.db"
    url = f"sqlite:///{path}"
    sim = Simulator(seed=11, offers=60)
    start = sim.now()
    engine = open_store(url)
    try:
        record_history(engine, sim, days=30)
    finally:
        engine.dispose()
    yield SimHistory(url=url, start=start, end=sim.now())


@pytest.fixture
def sim_engine(sim_history: SimHistory) -> Iterator[Engine]:
    engine = open_store(sim_history.url)
    try:
        yield engine
    finally:
        engine.dispose()
