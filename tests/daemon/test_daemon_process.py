"""The daemon as a real process: SIGTERM mid-tick, SIGHUP with a broken config, the
single-instance lock, and sd_notify datagrams on a test socket. The API is the simulator
over loopback HTTP; the database a real SQLite file."""

from __future__ import annotations

import json
import os
import queue
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from optimizer.config import load_config
from optimizer.daemon.service import open_daemon
from optimizer.sim import SimClock, Simulator, start_server
from optimizer.store.engine import create_engine
from optimizer.store.tables.journal import FleetVm, JournalAction
from tests.daemon.helpers import LogBuffer, config_toml

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.http


class Proc:
    """A daemon subprocess whose JSON log lines (stderr) are collected by a thread."""

    def __init__(self, args: list[str], env: dict[str, str]) -> None:
        self.p = subprocess.Popen(
            [sys.executable, "-m", "optimizer", *args],
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.lines: queue.Queue[str] = queue.Queue()
        self.seen: list[dict] = []
        self.raw: list[str] = []
        self._t = threading.Thread(target=self._pump, daemon=True)
        self._t.start()

    def _pump(self) -> None:
        assert self.p.stderr is not None
        for line in self.p.stderr:
            self.lines.put(line)

    def wait_for(self, pred, timeout: float = 60) -> dict:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                line = self.lines.get(timeout=0.2)
            except queue.Empty:
                if self.p.poll() is not None and self.lines.empty():
                    break
                continue
            self.raw.append(line)
            try:
                ev = json.loads(line)
            except ValueError:
                continue
            self.seen.append(ev)
            if pred(ev):
                return ev
        raise AssertionError("expected log line never came:\n" + "".join(self.raw[-30:]))

    def finish(self, timeout: float = 20) -> int:
        rc = self.p.wait(timeout)
        self._t.join(5)
        while not self.lines.empty():
            self.raw.append(self.lines.get())
        assert self.p.stderr is not None
        self.p.stderr.close()
        return rc

    def kill(self) -> None:
        if self.p.poll() is None:
            self.p.kill()
            self.p.wait()
        if self.p.stderr is not None and not self.p.stderr.closed:
            self._t.join(5)
            self.p.stderr.close()


@pytest.fixture
def sim_server() -> Iterator[tuple[Simulator, str]]:
    sim = Simulator(seed=11, clock=SimClock.real())
    with start_server(sim) as server:
        yield sim, server.url


@pytest.fixture
def notify(tmp_path: Path) -> Iterator[tuple[str, socket.socket]]:
    path = str(tmp_path / "notify.sock")
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(path)
    yield path, sock
    sock.close()


def _env(sim: Simulator, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("NOTIFY_SOCKET", "WATCHDOG_USEC")}
    env.update(FLUENCE_API_KEY=sim.api_key, PYTHONPATH=str(ROOT), **extra)
    return env


def _datagrams(sock: socket.socket) -> list[str]:
    out = []
    sock.settimeout(0.3)
    try:
        while True:
            out.append(sock.recv(4096).decode())
    except TimeoutError:
        pass
    return out


def test_sigterm_mid_tick_finishes_the_step_exits_0_and_the_journal_is_consistent(
    tmp_path: Path, sim_server, notify
) -> None:
    sim, url = sim_server
    db = f"sqlite:///{tmp_path / 'optimizer.db'}"
    cfg = tmp_path / "optimizer.toml"
    cfg.write_text(config_toml(db, url))
    proc = Proc(
        ["--config", str(cfg), "run", "--log-format", "json"],
        _env(sim, NOTIFY_SOCKET=notify[0], WATCHDOG_USEC="5000000"),
    )
    try:
        # mid-tick: the executor has just deployed the first VM of the fleet
        proc.wait_for(lambda e: e.get("event") == "deployed")
        t0 = time.monotonic()
        proc.p.send_signal(signal.SIGTERM)
        rc = proc.finish(timeout=20)
        took = time.monotonic() - t0
    finally:
        proc.kill()
    assert rc == 0, "".join(proc.raw[-20:])
    assert took < 10
    events = [json.loads(x) for x in proc.raw if x.startswith("{")]
    assert events[-1]["event"] == "daemon stopped" and events[-1]["reason"] == "SIGTERM"
    assert any(e["event"] == "tick" and e["tick"] == 1 for e in events)  # the tick completed
    msgs = _datagrams(notify[1])
    assert "READY=1" in "\n".join(msgs) and any(m.startswith("STOPPING=1") for m in msgs)
    assert "WATCHDOG=1" in msgs

    # journal consistent: every VM the daemon created carries a journaled token
    engine = create_engine(db)
    with engine.connect() as conn:
        tokens = {r.token: r.state for r in conn.execute(sa.select(JournalAction.__table__))}
    created = [v for v in sim.vms.values() if v.name.startswith("web-")]
    assert created, "the SIGTERM came after a deploy"
    for vm in created:
        token = vm.name.removeprefix("web-")
        assert token in tokens and tokens[token] != "planned", (vm.name, tokens)

    # and a restart converges: every created VM is owned, no duplicate deploys
    with open_daemon(
        load_config(cfg),
        clock=sim.clock,
        transport=sim.transport(),
        api_key=sim.api_key,
        install_signals=False,
        log_stream=LogBuffer(),
        metrics=False,
    ) as d:
        d.once()
    with engine.connect() as conn:
        owned = {r.vm_id for r in conn.execute(sa.select(FleetVm.__table__))}
    engine.dispose()
    web = [v for v in sim.vms.values() if v.name.startswith("web-")]
    assert {v.id for v in web} <= owned
    assert len(web) == 2


def test_sighup_with_broken_config_keeps_running_and_second_daemon_is_refused(
    tmp_path: Path, sim_server, notify
) -> None:
    sim, url = sim_server
    db = f"sqlite:///{tmp_path / 'optimizer.db'}"
    cfg = tmp_path / "optimizer.toml"
    cfg.write_text(config_toml(db, url))
    env = _env(sim, NOTIFY_SOCKET=notify[0])
    proc = Proc(["--config", str(cfg), "run", "--log-format", "json"], env)
    try:
        proc.wait_for(lambda e: e.get("event") == "tick")

        # a second daemon on the same database refuses, with one clear line
        second = subprocess.run(
            [sys.executable, "-m", "optimizer", "--config", str(cfg), "run"],
            cwd=ROOT,
            env=_env(sim),
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert second.returncode == 1
        err = second.stderr.strip().splitlines()
        assert len(err) == 1 and err[0].startswith("error: another fluence-optimizer daemon")
        assert f"pid {proc.p.pid}" in err[0] and "Traceback" not in second.stderr

        cfg.write_text(config_toml(db, url).replace('"15m"', '"soon"'))
        proc.p.send_signal(signal.SIGHUP)
        ev = proc.wait_for(lambda e: e.get("event", "").startswith("configuration reload failed"))
        assert "daemon.snapshot_interval" in ev["why"]
        time.sleep(0.5)
        assert proc.p.poll() is None  # still running on the old configuration

        proc.p.send_signal(signal.SIGTERM)
        rc = proc.finish()
    finally:
        proc.kill()
    assert rc == 0
    msgs = _datagrams(notify[1])
    assert "RELOADING=1" in msgs
    assert any("previous configuration kept" in m for m in msgs)
