"""A crash injected before and after every mutating API call: a restarted executor (fresh
engine, fresh runner) converges with no duplicate VM and no orphan."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest

from optimizer.executor import FleetRunner
from optimizer.executor import journal as jr
from optimizer.store.engine import open_store
from tests.executor.conftest import fleet_cfg, make_world

MUTATING = {"estimate", "deploy", "delete_vms", "patch_vms"}


class Crash(BaseException):
    """The process died (not an OptimizerError: nothing catches it)."""


class CrashingClient:
    """Delegates to the real client; dies before or after the n-th mutating call."""

    def __init__(self, inner: Any, n: int, when: str) -> None:
        self.inner, self.n, self.when, self.calls = inner, n, when, 0

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self.inner, name)
        if name not in MUTATING:
            return attr

        def call(*a: Any, **kw: Any) -> Any:
            self.calls += 1
            if self.calls == self.n and self.when == "before":
                raise Crash(name)
            out = attr(*a, **kw)
            if self.calls == self.n and self.when == "after":
                raise Crash(name)  # the answer is lost with the process
            return out

        return call


def _tick(w, runner) -> None:
    w.sim.sync()
    vms = w.client.list_vms()
    plan = runner.plan(
        w.config.fleet("web"), offers=w.client.list_offers(None), vms=vms, now=w.sim.now()
    )
    runner.execute(plan, vms)


@pytest.mark.parametrize("when", ["before", "after"])
@pytest.mark.parametrize("n", range(1, 7))
def test_crash_at_any_step_converges_without_duplicates_or_orphans(tmp_path, n, when) -> None:
    policy = {
        "align_to_billing": False,
        "max_migrations_per_epoch": 2,
        "max_surge": 2,
        "payback_epochs": 5,
    }
    w = make_world(tmp_path, fleets=[fleet_cfg(instances=2, open_ports=[], policy=policy)])
    w.sim.add_offer(country="DE", price="1.00", capacity=10)
    w.run(hours=0.3)
    w.sim.add_offer(country="FR", price="0.50", capacity=10)
    crashing = FleetRunner(CrashingClient(w.client, n, when), w.engine, w.sim.clock, w.config)
    crashed = False
    end = w.sim.now() + timedelta(hours=2)
    while w.sim.now() < end and not crashed:
        try:
            _tick(w, crashing)
        except Crash:
            crashed = True
        w.sim.advance(timedelta(minutes=5))
    # restart: a new process opens the same database
    w.engine.dispose()
    engine = open_store(f"sqlite:///{tmp_path / 'opt.db'}")
    runner = FleetRunner(w.client, engine, w.sim.clock, w.config)
    assert crashed, "every step index tested here is reached"
    end = w.sim.now() + timedelta(hours=3)
    while w.sim.now() < end:
        _tick(w, runner)
        w.sim.advance(timedelta(minutes=10))
    listed = [v for v in w.client.list_vms() if v.status != "Stopped"]
    names = [v.vm_name for v in listed]
    assert len(names) == len(set(names)), "duplicate deploy"
    owned = jr.owned_ids(engine)
    assert {v.id for v in listed} == set(owned), "orphan or lost VM"
    assert len(listed) == 2 and all(v.status == "Active" for v in listed)
    assert all(v.price_per_epoch == Decimal("0.50") for v in listed), "migrations completed"
    assert not jr.open_actions(engine)
    engine.dispose()
