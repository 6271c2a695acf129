"""Three real `fluence-optimizer run` processes against one PostgreSQL schema and the
simulator over loopback HTTP: only the elected leader acts; SIGKILL of the leader in the
middle of a migration → a follower takes over within two tick intervals and finishes the
migration from the journal, with no duplicate deploy."""

from __future__ import annotations

import contextlib
import json
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from optimizer.daemon.leader import read_leader
from optimizer.sim import SimClock, Simulator, start_server
from optimizer.sim.simulator import SimConfig
from optimizer.store.engine import open_store

FOLLOWING = "following: another replica leads; this one only waits to take over"
LOG_JSON = ("--log-format", "json")
ROOT = Path(__file__).resolve().parents[2]
TICK = 2.0  # seconds: snapshot_interval = plan_interval
KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl ops"
pytestmark = [pytest.mark.http, pytest.mark.postgres, pytest.mark.slow]  # ~35 s: 3 processes


class Replica:
    """One daemon process; its JSON log lines (stderr) are collected by a thread."""

    def __init__(self, cfg: Path, env: dict[str, str]) -> None:
        self.p = subprocess.Popen(
            [sys.executable, "-m", "optimizer", "--config", str(cfg), "run", *LOG_JSON],
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.events: list[dict[str, Any]] = []
        self.raw: list[str] = []
        self._q: queue.Queue[str] = queue.Queue()
        self._t = threading.Thread(target=self._pump, daemon=True)
        self._t.start()

    def _pump(self) -> None:
        assert self.p.stderr is not None
        for line in self.p.stderr:
            self._q.put(line)

    def drain(self) -> list[dict[str, Any]]:
        while True:
            try:
                line = self._q.get_nowait()
            except queue.Empty:
                return self.events
            self.raw.append(line)
            with contextlib.suppress(ValueError):
                self.events.append(json.loads(line))

    def saw(self, event: str) -> bool:
        return any(e.get("event") == event for e in self.drain())

    def stop(self) -> None:
        if self.p.poll() is None:
            self.p.send_signal(signal.SIGTERM)
            try:
                self.p.wait(15)
            except subprocess.TimeoutExpired:
                self.p.kill()
                self.p.wait()
        self._t.join(5)
        self.drain()
        if self.p.stderr is not None:
            self.p.stderr.close()


def _wait(pred: Callable[[], Any], timeout: float, what: str, replicas=()) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        got = pred()
        if got:
            return got
        time.sleep(0.05)
    for r in replicas:
        r.drain()
    logs = "\n".join(f"[{r.p.pid}] " + "".join(r.raw[-12:]) for r in replicas)
    raise AssertionError(f"timed out waiting for {what}\n{logs}")


@pytest.fixture
def sim_url() -> Iterator[tuple[Simulator, str]]:
    sim = Simulator(
        seed=5,
        offers=1,
        clock=SimClock.real(),
        config=SimConfig(
            termination_rate=0.0,
            launching_after=timedelta(seconds=1),
            active_after=timedelta(seconds=3),
            launch_jitter=0.0,
        ),
    )
    sim.market.target_offers = 0  # scripted offers only
    for o in list(sim.market.offers):
        sim.remove_offer(o.key)
    sim.add_offer(country="DE", price="1.00", capacity=5)
    with start_server(sim) as server:
        yield sim, server.url


def _config(tmp_path: Path, db: str, api: str) -> Path:
    path = tmp_path / "optimizer.toml"
    path.write_text(
        f"""mode = "act"
[database]
url = "{db}"
[daemon]
snapshot_interval = "{TICK}s"
plan_interval = "{TICK}s"
jitter = 0
[api]
base_url = "{api}"
timeout = "5s"
max_retries = 1
[[fleets]]
name = "web"
instances = 1
os_image = "https://images.example/ubuntu.img"
ssh_keys = ["{KEY}"]
[fleets.policy]
cooldown_epochs = 0
align_to_billing = false
"""
    )
    return path


def _journal(engine: sa.Engine) -> list[dict[str, Any]]:
    with engine.connect() as c:
        rows = c.execute(
            sa.text("SELECT kind, state, token, fencing_token FROM journal_action ORDER BY id")
        )
        return [dict(r._mapping) for r in rows]


def test_three_replicas_one_acts_and_leader_killed_mid_migration(
    tmp_path: Path, pg_url: str, sim_url: tuple[Simulator, str]
) -> None:
    sim, api = sim_url
    cfg = _config(tmp_path, pg_url, api)
    engine = open_store(pg_url)  # created here, so the replicas don't race to migrate
    env = {k: v for k, v in os.environ.items() if k not in ("NOTIFY_SOCKET", "WATCHDOG_USEC")}
    env.update(FLUENCE_API_KEY=sim.api_key, PYTHONPATH=str(ROOT))
    replicas = [Replica(cfg, env) for _ in range(3)]
    try:
        info = _wait(lambda: read_leader(engine).term and read_leader(engine), 60, "a leader")
        by_pid = {r.p.pid: r for r in replicas}
        leader = by_pid[int(info.holder.rsplit(":", 1)[1])]
        followers = [r for r in replicas if r is not leader]

        # the leader deploys the fleet's VM; the followers never act
        def web_vms() -> list[Any]:
            return [v for v in sim.vms.values() if v.name.startswith("web-")]

        _wait(
            lambda: any(r["state"] == "done" for r in _journal(engine)),
            60,
            "the first deploy to finish",
            replicas,
        )
        _wait(lambda: all(f.saw(FOLLOWING) for f in followers), 30, "followers up", replicas)
        assert len(web_vms()) == 1
        for f in followers:
            events = {e.get("event") for e in f.drain()}
            assert not events & {"tick", "deployed", "action journaled", "became leader"}

        # a much cheaper offer appears: the leader migrates; kill it after the new deploy
        sim.add_offer(country="FR", price="0.40", capacity=5)
        _wait(lambda: len(web_vms()) == 2, 60, "the migration's deploy", replicas)
        mig = [r for r in _journal(engine) if r["kind"] == "migrate"]
        assert len(mig) == 1 and mig[0]["state"] in ("deploying", "launching"), mig
        leader.p.send_signal(signal.SIGKILL)
        t_kill = time.monotonic()
        leader.p.wait(10)
        new = _wait(
            lambda: (i := read_leader(engine)).term > info.term and i,
            4 * TICK,
            "a takeover",
            replicas,
        )
        takeover = time.monotonic() - t_kill
        print(f"takeover after SIGKILL: {takeover:.2f} s (tick interval {TICK} s)")
        assert takeover <= 2 * TICK, f"takeover took {takeover:.2f} s > two ticks"
        assert new.holder != info.holder and new.term == info.term + 1

        # the new leader resumes the journal and finishes the migration: the old VM is
        # deleted on the tick that sees the new VM Active, and no deploy is duplicated
        done = _wait(
            lambda: (
                (m := [r for r in _journal(engine) if r["kind"] == "migrate"])
                and m[0]["state"] in ("done", "failed", "aborted")
                and m
            ),
            60,
            "the migration to finish",
            replicas,
        )
        assert done[0]["state"] == "done", done
        assert done[0]["fencing_token"] == new.term  # its last write came from the new leader
        names = [v.name for v in web_vms()]
        assert len(names) == 2 and len(set(names)) == 2  # the old VM and ONE new one
        with sim._lock:
            sim.sync()
        live = [v for v in web_vms() if v.status not in ("Stopped", "Terminated")]
        assert [v.price for v in live] == [Decimal("0.40")]  # the old VM was deleted
        actions = _journal(engine)
        assert [r["kind"] for r in actions] == ["deploy", "migrate"], actions
        second = by_pid[int(new.holder.rsplit(":", 1)[1])]
        assert second.saw("became leader")
        third = next(r for r in followers if r is not second)
        assert not third.saw("became leader") and not third.saw("deployed")
    finally:
        for r in replicas:
            r.stop()
        engine.dispose()
