"""Issue 19, finding 9: one hostile offer must not blind the daemon. A 17-character city
code used to fail every snapshot while the tick log said `outcome: ok`. Now the offer is
skipped with a warning and a metric, the rest is stored, and a snapshot that cannot be
stored at all makes the tick "degraded". Real simulator, real database, real cycle."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

import sqlalchemy as sa

from optimizer.daemon.loop import Daemon
from optimizer.daemon.service import open_daemon
from optimizer.sim import SimClock, Simulator
from tests.daemon.helpers import LogBuffer, make_config

LONG_CITY = "ABCDEFGHIJKLMNOPQ"  # 17 characters; the column holds 16


@contextlib.contextmanager
def _daemon(sim: Simulator, tmp_path: Path) -> Iterator[tuple[Daemon, LogBuffer]]:
    logs = LogBuffer()
    cfg = make_config(f"sqlite:///{tmp_path / 'opt.db'}", mode="observe")
    with open_daemon(
        cfg,
        clock=sim.clock,
        transport=sim.transport(),
        api_key=sim.api_key,
        install_signals=False,
        log_stream=logs,
        log_json=True,
        metrics=False,
    ) as d:
        yield d, logs


def _stored(d: Daemon) -> tuple[list[str], int]:
    with d.rt.engine.connect() as conn:
        outcomes = conn.execute(sa.text("SELECT outcome FROM snapshot ORDER BY id")).scalars()
        cities = conn.execute(sa.text("SELECT count(*) FROM offer")).scalar_one()
    return list(outcomes), cities


def test_one_over_long_city_code_is_skipped_and_the_rest_is_stored(tmp_path: Path) -> None:
    sim = Simulator(seed=3, offers=6, clock=SimClock.stepped())
    sim.market.target_offers = 0  # no random arrivals during the test
    sim.add_offer(city=LONG_CITY)
    listed = len(sim.offers(None))
    with _daemon(sim, tmp_path) as (d, logs):
        result = d.once()
        outcomes, offers = _stored(d)
        skipped = d.rt.metrics.offers_skipped._value.get()  # type: ignore[union-attr]
    assert outcomes == ["ok"]
    assert offers == listed - 1
    assert skipped == 1
    assert result.outcome == "ok", result.summary()
    warnings = [e for e in logs.events() if e.get("event") == "malformed offer skipped"]
    assert len(warnings) == 1
    assert "city is 17 characters, the limit is 16" in warnings[0]["why"]
    assert LONG_CITY not in logs.getvalue()  # the hostile value itself is not echoed
    tick = next(e for e in logs.events() if e.get("event") == "tick")
    assert tick["outcome"] == "ok" and "1 malformed offers skipped" in logs.getvalue()


def test_a_snapshot_that_cannot_be_stored_makes_the_tick_degraded(tmp_path: Path) -> None:
    """Every offer malformed: nothing usable, so the snapshot is recorded as failed and the
    tick's outcome (log line, TickResult, metric label) is "degraded", not "ok"."""
    sim = Simulator(seed=3, offers=1, clock=SimClock.stepped())
    sim.market.target_offers = 0
    for o in list(sim.market.offers):
        sim.remove_offer(o.key)
    sim.add_offer(city=LONG_CITY)
    sim.add_offer(city=LONG_CITY, country="FR")
    with _daemon(sim, tmp_path) as (d, logs):
        result = d.once()
        outcomes, offers = _stored(d)
        degraded_ticks = d.rt.metrics.ticks.labels("degraded")._value.get()  # type: ignore[union-attr]
    assert (outcomes, offers) == (["failed"], 0)
    assert result.outcome == "degraded" and result.degraded
    snap = next(o for o in result.outcomes if o.stage == "snapshot")
    assert snap.status == "degraded" and "all 2 offers malformed" in snap.detail
    assert not result.failures  # nothing raised: later stages still ran
    tick = next(e for e in logs.events() if e.get("event") == "tick")
    assert tick["outcome"] == "degraded"
    assert tick["degraded"] and tick["degraded"][0].startswith("snapshot: ")
    assert degraded_ticks == 1
