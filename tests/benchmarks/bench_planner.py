"""Benchmark: planning 100 fleets / 1,000 VMs / 5,000 offers, and API calls per tick.

Run:  python tests/benchmarks/bench_planner.py
Prints the median of several runs (figures, not pass/fail).
"""

from __future__ import annotations

import random
import statistics
import tempfile
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import httpx

from optimizer.config import ApiConfig, FleetConfig, parse_config
from optimizer.executor import FleetRunner
from optimizer.fluence.client import build_client
from optimizer.planner import MarketOffer, MarketView, OwnedVm, plan_fleet
from optimizer.sim.clock import SimClock
from optimizer.sim.simulator import SimConfig, Simulator
from optimizer.store.engine import open_store

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
SLUGS = [
    "cpu-2-ram-4gb-storage-25gb",
    "cpu-4-ram-8gb-storage-25gb",
    "cpu-8-ram-16gb-storage-25gb",
    "cpu-16-ram-32gb-storage-25gb",
]
COUNTRIES = ["DE", "FR", "NL", "PL", "FI", "US", "CA", "GB", "SE", "ES"]


def market(n: int, rnd: random.Random) -> MarketView:
    offers = []
    for i in range(n):
        slug = rnd.choice(SLUGS)
        c = rnd.choice(COUNTRIES)
        dc = f"{c}-DC{rnd.randint(1, 9)}-{rnd.randint(1, 3)}"
        v = int(slug.split("-")[1])
        offers.append(
            MarketOffer(
                offer_key=f"{i:06d}",
                configuration=slug,
                vcpu=v,
                ram_gb=v * 2,
                country=c,
                datacenter=dc,
                price=Decimal(rnd.randint(10, 300)) / 100 * v / 2,
                capacity=rnd.randint(0, 8),
                tier=rnd.randint(1, 4),
                cpu_manufacturer=rnd.choice(["AMD", "Intel"]),
                storage_type="SSD",
            )
        )
    return MarketView(tuple(offers), NOW)


def fleets_and_vms(n_fleets: int, n_vms: int, rnd: random.Random):
    out = []
    per = n_vms // n_fleets
    for f in range(n_fleets):
        spec = FleetConfig.model_validate(
            {
                "name": f"f{f}",
                "instances": per + rnd.choice([-1, 0, 0, 1]),
                "os_image": "https://images.example/u.img",
                "ssh_keys": ["k"],
                "constraints": {
                    "configurations": rnd.sample(SLUGS, 2),
                    "countries": rnd.sample(COUNTRIES, 4),
                    "min_tier": rnd.choice([None, 2, 3]),
                },
                "diversification": {"max_per_datacenter": 4, "min_countries": 2},
                "policy": {"max_migrations_per_epoch": 2, "max_surge": 2},
            }
        )
        vms = []
        for i in range(per):
            c = rnd.choice(spec.constraints.countries)
            vms.append(
                OwnedVm(
                    id=f"0x{f:03d}{i:04d}",
                    name=f"f{f}-t{i}",
                    status="Active",
                    price=Decimal(rnd.randint(50, 400)) / 100,
                    datacenter=f"{c}-DC1-1",
                    country=c,
                    vcpu=2,
                    ram_gb=4,
                    created_at=NOW - timedelta(days=5),
                    next_billing_at=NOW + timedelta(minutes=rnd.randint(1, 1439)),
                )
            )
        out.append((spec, vms))
    return out


def bench_planning(runs: int = 5) -> None:
    rnd = random.Random(1)
    view = market(5000, rnd)
    fleets = fleets_and_vms(100, 1000, rnd)
    times, actions = [], 0
    for _ in range(runs):
        fresh = MarketView(view.offers, view.taken_at)  # no cached grouping between runs
        t0 = time.perf_counter()
        plans = [plan_fleet(spec, vms, fresh, now=NOW, mode="act") for spec, vms in fleets]
        times.append(time.perf_counter() - t0)
        actions = sum(len(p.actions) for p in plans)
    print(
        f"planning 100 fleets / 1,000 VMs / 5,000 offers: median {statistics.median(times):.3f} s "
        f"(min {min(times):.3f}, max {max(times):.3f}, {runs} runs; {actions} actions)"
    )


class Counting(httpx.BaseTransport):
    def __init__(self, inner: httpx.BaseTransport) -> None:
        self.inner, self.calls = inner, Counter()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self.calls[f"{request.method} {request.url.path}"] += 1
        return self.inner.handle_request(request)


def bench_api_calls() -> None:
    sim = Simulator(
        seed=11, offers=300, config=SimConfig(termination_rate=0.0), clock=SimClock.stepped()
    )
    fleets = [
        {
            "name": f"f{i}",
            "instances": 3,
            "os_image": "https://images.example/u.img",
            "ssh_keys": [
                "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl x"
            ],
            "policy": {"align_to_billing": False, "cooldown_epochs": 0},
        }
        for i in range(5)
    ]
    cfg = parse_config({"mode": "act", "fleets": fleets})
    counting = Counting(sim.transport())
    client = build_client(
        ApiConfig(base_url="http://127.0.0.1:9"),
        transport=counting,
        api_key=sim.api_key,
        sleep=lambda s: None,
    )
    with tempfile.TemporaryDirectory() as d:
        engine = open_store(f"sqlite:///{Path(d) / 'b.db'}")
        runner = FleetRunner(client, engine, sim.clock, cfg)
        for tick in range(4):
            counting.calls.clear()
            offers = client.list_offers(None)
            vms = client.list_vms()
            n_actions = 0
            for spec in cfg.fleets:
                plan = runner.plan(spec, offers=offers, vms=vms, now=sim.now())
                n_actions += len(plan.actions)
                runner.execute(plan, vms)
            calls = ", ".join(f"{k}={v}" for k, v in sorted(counting.calls.items()))
            print(f"tick {tick} (5 fleets, {n_actions} new actions): {calls}")
            sim.advance(timedelta(minutes=10))
        engine.dispose()


if __name__ == "__main__":
    bench_planning()
    bench_api_calls()
