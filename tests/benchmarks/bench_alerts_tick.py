"""How long one alerts stage (`run_alerts`: budget + rules + state + delivery) takes on a
store with a few days of history. Prints the median of several runs; no assertions.

    PYTHONPATH=. python tests/benchmarks/bench_alerts_tick.py [offers] [vms] [days]
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

from optimizer.alerts.sinks.log import LogSink
from optimizer.alerts.tick import run_alerts
from optimizer.config import parse_config
from optimizer.fluence.client import FluenceClient
from optimizer.fluence.models import DeployRequest
from optimizer.sim import SimClock, SimConfig, Simulator
from optimizer.store.engine import open_store
from optimizer.store.ingest import ingest_snapshot, ingest_vms


def main() -> None:
    args, defaults = sys.argv[1:4], ["500", "30", "7"]
    offers, vms, days = (int(a) for a in [*args, *defaults[len(args) :]])
    fleets = ["web", "api", "batch"]
    cfg = parse_config({
        "budget": {"monthly_usd": "500"},
        "fleets": [{"name": f, "instances": vms // 3, "os_image": "https://x/i.img",
                    "ssh_keys": ["k"], "budget": {"monthly_usd": "100"}} for f in fleets],
    })  # fmt: skip
    sim = Simulator(seed=11, clock=SimClock.stepped(), offers=offers,
                    config=SimConfig(termination_rate=0))  # fmt: skip
    client = FluenceClient(sim.http_client())
    for f in fleets:
        client.deploy(DeployRequest(instances=vms // 3, vm_configuration={  # type: ignore[arg-type]
            "name": f"{f}-b3nch", "osImage": "https://x/i.img",
            "sshKeys": ["ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGq9 bench"]}))  # fmt: skip
    with tempfile.TemporaryDirectory() as d:
        engine = open_store(f"sqlite:///{Path(d) / 'b.db'}")
        for _ in range(days * 24):
            now = sim.now()
            ingest_snapshot(engine, client.list_offers(None), now)
            ingest_vms(engine, client.list_vms(), now)
            sim.advance(timedelta(hours=1))
        times = []
        for i in range(6):
            t = time.perf_counter()
            run_alerts(engine, cfg, sim.now() + timedelta(minutes=i), sinks=[LogSink()])
            times.append(time.perf_counter() - t)
        engine.dispose()
    cold, warm = times[0], times[1:]
    print(
        f"run_alerts: {offers} offers, {vms} VMs, {days} days of hourly snapshots: "
        f"first tick (cold cache) {cold * 1000:.0f} ms; then median "
        f"{statistics.median(warm) * 1000:.0f} ms (min {min(warm) * 1000:.0f}, "
        f"max {max(warm) * 1000:.0f}) over {len(warm)} ticks"
    )


if __name__ == "__main__":
    main()
