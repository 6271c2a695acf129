"""The simulator's clock modes and billing anchors."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from optimizer.clock import Clock
from optimizer.sim import DEFAULT_START, SimClock, SimConfig, Simulator


def test_stepped_clock_stands_still_until_advanced_or_slept() -> None:
    clock = SimClock.stepped()
    assert clock.now() == DEFAULT_START and clock.now().tzinfo is not None
    time.sleep(0.01)
    assert clock.now() == DEFAULT_START
    clock.advance(timedelta(minutes=5))
    t0 = time.monotonic()
    clock.sleep(3600)
    assert time.monotonic() - t0 < 0.5, "a stepped sleep does not wait"
    assert clock.now() == DEFAULT_START + timedelta(minutes=65)
    with pytest.raises(ValueError):
        clock.advance(timedelta(seconds=-1))


def test_accelerated_clock_runs_factor_times_faster() -> None:
    start = datetime(2026, 3, 1, tzinfo=UTC)
    clock = SimClock.accelerated(3600, start)
    time.sleep(0.05)
    elapsed = (clock.now() - start).total_seconds()
    assert 0.05 * 3600 <= elapsed < 60 * 3600
    t0 = time.monotonic()
    clock.sleep(360)  # 0.1 s of real time
    assert 0.08 <= time.monotonic() - t0 < 2


def test_real_clock_follows_wall_time_and_all_modes_are_clocks() -> None:
    clock = SimClock.real()
    assert abs((clock.now() - datetime.now(UTC)).total_seconds()) < 2
    clocks: list[Clock] = [clock, SimClock.stepped(), SimClock.accelerated(10)]
    assert all(c.now().utcoffset() == timedelta(0) for c in clocks)
    with pytest.raises(ValueError):
        SimClock.accelerated(0)


def test_simulator_on_accelerated_clock_catches_up_lazily() -> None:
    sim = Simulator(seed=1, clock=SimClock.accelerated(36000))  # 10 simulated hours per second
    http = sim.http_client()
    first = http.post("/marketplace/offers", json={}).json()
    time.sleep(0.3)  # > 1 simulated hour
    assert http.post("/marketplace/offers", json={}).json() != first
    assert sim.market.hour >= 1


def test_daily_billing_anchor_bills_every_vm_at_1755_utc() -> None:
    clock = SimClock.stepped(datetime(2026, 1, 1, 9, 0, tzinfo=UTC))
    sim = Simulator(seed=1, clock=clock, config=SimConfig(billing="daily", termination_rate=0))
    vm = sim.add_foreign_vm("d-1")
    assert vm.next_billing_at == datetime(2026, 1, 1, 17, 55, tzinfo=UTC)
    sim.advance(timedelta(hours=9))
    assert vm.spent == 2 * vm.price and vm.reserved == vm.price
    assert vm.next_billing_at == datetime(2026, 1, 2, 17, 55, tzinfo=UTC)
    wire = sim.http_client().get("/vms/v3").json()[0]
    assert wire["nextBillingAt"] == "2026-01-02T17:55:00Z"
    assert Decimal(wire["totalSpent"]) == 2 * vm.price
    with pytest.raises(ValueError):
        SimConfig(billing="hourly")
