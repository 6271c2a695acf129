"""The daemon loop over the simulator's stepped clock: schedule, jitter, outages, stop,
reload, metrics. Real simulator (in-process transport), real database, real cycle."""

from __future__ import annotations

import contextlib
import itertools
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import httpx
import pytest

from optimizer.config import load_config
from optimizer.daemon.loop import Daemon, LoopOptions
from optimizer.daemon.service import open_daemon
from optimizer.sim import FaultConfig, SimClock, Simulator
from tests.daemon.helpers import LogBuffer, config_toml, make_config


@contextlib.contextmanager
def daemon_for(sim: Simulator, config, **kw) -> Iterator[tuple[Daemon, LogBuffer]]:
    logs = LogBuffer()
    with open_daemon(
        config,
        clock=sim.clock,
        transport=sim.transport(),
        api_key=sim.api_key,
        install_signals=False,
        log_stream=logs,
        log_json=True,
        seed=1,
        metrics=kw.pop("metrics", False),
        **kw,
    ) as d:
        yield d, logs


def _run(d: Daemon, **opts) -> list:
    seen: list = []
    d.run(LoopOptions(sleep_chunk=None, on_tick=seen.append, **opts))
    return seen


def test_first_tick_at_start_then_every_interval_and_plans_hourly(db_url: str) -> None:
    """jitter 0: ticks at 0, 15, 30 ... minutes; stages planned at 0, 60, 120 minutes."""
    sim = Simulator(seed=3, clock=SimClock.stepped())
    start = sim.clock.now()
    with daemon_for(sim, make_config(db_url)) as (d, _logs):
        ticks = _run(d, max_ticks=9)
    offsets = [(t.started - start) / timedelta(minutes=1) for t in ticks]
    assert offsets == [0, 15, 30, 45, 60, 75, 90, 105, 120]
    assert [t.tick for t in ticks if t.planned] == [1, 5, 9]
    assert all(t.snapshot for t in ticks)
    assert all(not t.degraded for t in ticks), [t.summary() for t in ticks]
    # act mode: the first plan deployed the fleet, and the VMs exist in the simulator
    names = sorted(v.name for v in sim.vms.values())
    assert len([n for n in names if n.startswith("web-")]) == 2


def test_jitter_stays_within_bounds_and_a_seed_repeats_the_schedule(tmp_path: Path) -> None:
    def schedule(n: int) -> list[float]:
        sim = Simulator(seed=3, clock=SimClock.stepped())
        cfg = make_config(f"sqlite:///{tmp_path / f'j{n}.db'}", mode="observe", jitter=0.2)
        start = sim.clock.now()
        with daemon_for(sim, cfg) as (d, _):
            ticks = _run(d, max_ticks=12)
        return [(t.started - start).total_seconds() / 60 for t in ticks]

    a, b = schedule(1), schedule(2)
    assert a == b  # same seed, same jittered schedule
    gaps = [y - x for x, y in itertools.pairwise(a)]
    assert all(12 <= g <= 18 for g in gaps), gaps
    assert len(set(gaps)) > 1  # jitter really varies the intervals


def test_api_outage_degrades_backs_off_and_recovers(tmp_path: Path) -> None:
    """Every offers call fails: ticks are degraded, never raise, retry at 30 s, 60 s, 120 s
    ... capped at the snapshot interval; when the API is back the next tick is ok."""
    sim = Simulator(
        seed=3,
        clock=SimClock.stepped(),
        faults=FaultConfig(per_endpoint={"offers": 1.0}, weights={"server_error": 1.0}),
    )
    cfg = make_config(f"sqlite:///{tmp_path / 'o.db'}", mode="observe")
    start = sim.clock.now()
    with daemon_for(sim, cfg) as (d, logs):
        ticks = _run(d, max_ticks=7)
        assert all(t.api_down and t.degraded for t in ticks)
        # the wait from the end of one tick to the start of the next (the client's own
        # retries inside a tick also take simulated time)
        gaps = [(b.started - a.finished).total_seconds() for a, b in itertools.pairwise(ticks)]
        assert gaps == [30, 60, 120, 240, 480, 900]
        assert ticks[0].started == start
        sim.faults.config.per_endpoint.clear()
        sim.faults.clear()
        later = _run(d, max_ticks=8)
    assert later[-1].outcome == "ok" and later[-1].snapshot
    failed = [e for e in logs.events() if e.get("event") == "stage failed"]
    assert failed and all(e["stage"] == "snapshot" and "tick" in e for e in failed)


def test_stop_request_during_a_tick_ends_the_loop_with_0(tmp_path: Path) -> None:
    sim = Simulator(seed=3, clock=SimClock.stepped())
    cfg = make_config(f"sqlite:///{tmp_path / 's.db'}", fleets=2)
    with daemon_for(sim, cfg) as (d, logs):
        # a stop that arrives while the first tick runs (during its snapshot, before the
        # fleets are planned); max_ticks bounds the loop should the hook ever miss
        real_answer = d.rt.client.offers_answer

        def offers_answer():
            d.controller.request_stop("SIGTERM")
            return real_answer()

        d.rt.client.offers_answer = offers_answer  # type: ignore[method-assign]
        assert d.run(LoopOptions(sleep_chunk=None, max_ticks=3)) == 0
    assert d.ticks == 1
    events = [e["event"] for e in logs.events()]
    assert "stop requested: no further fleets this tick" in events
    assert events[-1] == "daemon stopped"


def test_reload_with_broken_config_keeps_the_old_one(tmp_path: Path) -> None:
    """A SIGHUP-triggered reload that fails validation is logged with the reason; the
    daemon keeps running with the previous configuration. A valid one is applied."""
    path = tmp_path / "optimizer.toml"
    db = f"sqlite:///{tmp_path / 'r.db'}"
    path.write_text(config_toml(db))
    sim = Simulator(seed=3, clock=SimClock.stepped())
    with daemon_for(sim, load_config(path), reload=lambda: load_config(path)) as (d, logs):
        _run(d, max_ticks=1)
        old = d.rt.config
        path.write_text(config_toml(db).replace("instances = 2", "instances = -3"))
        d.controller.request_reload()
        _run(d, max_ticks=2)
        assert d.rt.config is old
        errors = [e for e in logs.events() if e["event"].startswith("configuration reload failed")]
        assert errors and "fleets[0].instances" in errors[0]["why"]
        path.write_text(config_toml(db, snapshot_interval="30m"))
        d.controller.request_reload()
        _run(d, max_ticks=3)
        assert d.rt.config.daemon.snapshot_interval == timedelta(minutes=30)


def test_switching_recommend_to_act_takes_a_reload_not_a_restart(tmp_path: Path) -> None:
    """README "From recommend to act": edit `mode`, `systemctl reload`; the next plan acts."""
    path = tmp_path / "optimizer.toml"
    db = f"sqlite:///{tmp_path / 'm.db'}"
    path.write_text(config_toml(db).replace('mode = "act"', 'mode = "recommend"'))
    sim = Simulator(seed=3, clock=SimClock.stepped())
    with daemon_for(sim, load_config(path), reload=lambda: load_config(path)) as (d, _logs):
        _run(d, max_ticks=5)  # two plans in recommend mode: nothing deployed
        assert not sim.vms
        path.write_text(config_toml(db))
        d.controller.request_reload()
        _run(d, max_ticks=10)  # ticks 6-10: the next plan (within the hour) deploys
        assert d.rt.config.mode == "act"
    assert len([v for v in sim.vms.values() if v.name.startswith("web-")]) == 2


def test_once_runs_every_stage_and_metrics_are_served(tmp_path: Path) -> None:
    sim = Simulator(seed=3, clock=SimClock.stepped())
    cfg = make_config(f"sqlite:///{tmp_path / 'm.db'}")
    cfg.metrics.listen = "127.0.0.1:0"
    with daemon_for(sim, cfg, metrics=True) as (d, _):
        result = d.once()
        stages = {o.stage for o in result.outcomes}
        assert {"snapshot", "analyze", "plan", "execute", "alerts"} <= stages
        assert result.snapshot and result.planned
        host, port = d.rt.metrics._server.server_address[:2]
        text = httpx.get(f"http://{host}:{port}/metrics").text
    assert "fluence_optimizer_ticks_total" in text
    assert 'fluence_optimizer_actions_total{kind="deploy"' in text
    assert "fluence_optimizer_snapshot_duration_seconds" in text


@pytest.mark.parametrize("mode", ["observe", "recommend"])
def test_nothing_is_executed_outside_act_mode(tmp_path: Path, mode: str) -> None:
    sim = Simulator(seed=3, clock=SimClock.stepped())
    cfg = make_config(f"sqlite:///{tmp_path / 'n.db'}", mode=mode)
    with daemon_for(sim, cfg) as (d, _):
        ticks = _run(d, max_ticks=5)
    assert not sim.vms
    assert all(o.stage != "execute" for t in ticks for o in t.outcomes)
    assert any(t.planned for t in ticks) == (mode == "recommend")


def test_when_the_snapshot_finds_the_api_down_plan_and_execute_wait(tmp_path: Path) -> None:
    """No pile-up of retries in an outage: plan/execute are skipped (not failed) that tick,
    the alerts stage still runs with the error, and nothing is deployed."""
    sim = Simulator(
        seed=3,
        clock=SimClock.stepped(),
        faults=FaultConfig(per_endpoint={"offers": 1.0}, weights={"server_error": 1.0}),
    )
    cfg = make_config(f"sqlite:///{tmp_path / 'd.db'}", fleets=2)
    with daemon_for(sim, cfg) as (d, _):
        result = d.once()
    status = {(o.stage, o.fleet): o.status for o in result.outcomes}
    assert status[("snapshot", None)] == "failed"
    assert status[("plan", "web")] == status[("plan", "batch")] == "skipped"
    assert status[("alerts", None)] == "ok"
    assert result.api_down and not sim.vms


def test_daemon_applies_retention_once_a_day(tmp_path: Path) -> None:
    """With retention.raw_days = 1, three simulated days of 6-hourly snapshots leave raw
    intervals only from the last day or so; older days survive as per-epoch rows."""
    import sqlalchemy as sa

    from optimizer.store.tables.market import offer_epoch_table as epoch
    from optimizer.store.tables.market import offer_price_table as price
    from optimizer.store.tables.market import snapshot_table as snap

    url = f"sqlite:///{tmp_path / 'r.db'}"
    sim = Simulator(seed=3, clock=SimClock.stepped())
    cfg = make_config(url, mode="observe", snapshot_interval="6h")
    cfg.retention.raw_days = 1
    start = sim.clock.now()
    with daemon_for(sim, cfg) as (d, _logs):
        ticks = _run(d, max_ticks=13)  # 0 h ... 72 h
    assert ticks[-1].started - start == timedelta(hours=72)
    retained = [t.tick for t in ticks for o in t.outcomes if o.stage == "retention"]
    assert retained == [1, 5, 9, 13], retained  # the first tick, then once a day
    engine = sa.create_engine(url)
    with engine.connect() as conn:
        epochs = conn.execute(sa.select(sa.func.count()).select_from(epoch)).scalar()
        oldest_raw = conn.execute(
            sa.select(sa.func.min(snap.c.taken_at)).select_from(
                price.join(snap, price.c.from_snapshot_id == snap.c.id)
            )
        ).scalar()
    engine.dispose()
    assert epochs and epochs > 0
    assert oldest_raw is not None
    # raw data older than the cut-off epoch (day 1 at the last roll-up, 72 h - 1 day) is gone
    assert oldest_raw.replace(tzinfo=None) >= (start + timedelta(days=1)).replace(tzinfo=None)


def test_logging_leaves_a_callers_stream_when_the_daemon_closes(db_url: str) -> None:
    """The demo closes its log file after the daemon: nothing may log into it afterwards
    (a later log line used to raise 'I/O operation on closed file')."""
    import io

    import structlog

    sim = Simulator(seed=3, clock=SimClock.stepped())
    stream = io.StringIO()
    with open_daemon(
        make_config(db_url), clock=sim.clock, transport=sim.transport(), api_key=sim.api_key,
        install_signals=False, log_stream=stream, log_json=True, metrics=False,
    ):  # fmt: skip
        structlog.get_logger("test").info("inside")
    stream.close()
    structlog.get_logger("test").info("after the daemon closed")  # raised ValueError before
    assert stream.closed
