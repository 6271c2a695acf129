"""A small world for executor tests: a simulator with scripted offers only, a client over
its in-process transport, a fresh store, and helpers to run plan → execute ticks."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import pytest

from optimizer.config import ApiConfig, Config, parse_config
from optimizer.executor import FleetRunner
from optimizer.fluence.client import FluenceClient, build_client
from optimizer.sim.clock import SimClock
from optimizer.sim.simulator import SimConfig, Simulator
from optimizer.store.engine import open_store

IMAGE = "https://images.example/ubuntu.img"
KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl ops"


def fleet_cfg(**kw: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "name": "web",
        "instances": 2,
        "os_image": IMAGE,
        "ssh_keys": [KEY],
        "open_ports": [{"port": 80}],
        "policy": {"cooldown_epochs": 0, "max_migrations_per_epoch": 1},
    }
    for k, v in kw.items():
        if isinstance(v, dict) and isinstance(base.get(k), dict):
            base[k] = {**base[k], **v}
        else:
            base[k] = v
    return base


@dataclass
class World:
    sim: Simulator
    client: FluenceClient
    engine: Any
    config: Config
    runner: FleetRunner = field(init=False)

    def __post_init__(self) -> None:
        self.runner = FleetRunner(self.client, self.engine, self.sim.clock, self.config)

    def reconfigure(self, config: Config) -> None:
        self.config = config
        self.runner = FleetRunner(self.client, self.engine, self.sim.clock, config)

    def tick(self, fleet: str = "web"):
        """One daemon tick: one offers call, one VM list, plan, journal, advance."""
        self.sim.sync()
        now = self.sim.now()
        offers = self.client.list_offers(None)
        vms = self.client.list_vms()
        spec = self.config.fleet(fleet)
        plan = self.runner.plan(spec, offers=offers, vms=vms, now=now)
        counts = self.runner.execute(plan, vms)
        return plan, counts

    def run(self, hours: float, step: timedelta = timedelta(minutes=5), fleet: str = "web"):
        plans = []
        end = self.sim.now() + timedelta(hours=hours)
        while self.sim.now() < end:
            plans.append(self.tick(fleet)[0])
            self.sim.advance(step)
        return plans

    def fleet_vms(self, prefix: str = "web-"):
        return [
            v
            for v in self.client.list_vms()
            if v.vm_name.startswith(prefix) and v.status not in ("Stopped",)
        ]


def make_world(
    tmp_path,
    *,
    fleets: list[dict[str, Any]] | None = None,
    mode: str = "act",
    budget: dict[str, Any] | None = None,
    http_base: str | None = None,
    transport=None,
    sim: Simulator | None = None,
    db_url: str | None = None,
) -> World:
    if sim is None:
        sim = Simulator(
            seed=5, offers=1, config=SimConfig(termination_rate=0.0), clock=SimClock.stepped()
        )
        # scripted offers only: drop the random one and stop random arrivals
        sim.market.target_offers = 0
        for o in list(sim.market.offers):
            sim.remove_offer(o.key)
    cfg = parse_config(
        {
            "mode": mode,
            "fleets": fleets or [fleet_cfg()],
            "budget": budget or {},
            "daemon": {"snapshot_interval": "5m"},  # World.run ticks every 5 minutes
        }
    )
    client = build_client(
        ApiConfig(base_url=http_base or "http://127.0.0.1:9"),
        transport=transport if http_base else sim.transport(),
        api_key=sim.api_key,
        sleep=lambda s: None,
    )
    engine = open_store(db_url or f"sqlite:///{tmp_path / 'opt.db'}")
    return World(sim, client, engine, cfg)


@pytest.fixture
def world(tmp_path, db_url) -> Iterator[World]:
    """On SQLite, and on PostgreSQL too when OPTIMIZER_TEST_POSTGRES_URL is set."""
    w = make_world(tmp_path, db_url=db_url)
    yield w
    w.engine.dispose()
