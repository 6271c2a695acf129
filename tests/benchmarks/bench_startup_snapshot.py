"""Start-up and snapshot cost of the CLI, whole processes, against the naive baseline.

    python tests/benchmarks/bench_startup_snapshot.py                # 5 runs, 10,000 offers
    python tests/benchmarks/bench_startup_snapshot.py --runs 3 --offers 2000

Prints medians of `--runs` runs; asserts nothing. Every figure is a whole process
(interpreter start, imports, work, exit) timed from this script, with its CPU time
(user + system, from `wait4`) and peak RSS (from /usr/bin/time): on a shared machine the
wall time includes waiting for a core, the CPU time mostly does not. The simulator serves
from a thread of this script, so its serializing of the answer is in every wall time
(ours and the naive one alike), and in the daemon stage's time too.

1. Start-up: `fluence-optimizer --help`, `--version`, and `vms list` against the
   simulator over loopback HTTP (`python -c pass` for scale).
2. `fluence-optimizer snapshot --no-vms` of a simulated market over loopback HTTP into
   SQLite, market unchanged and with 10 % of the prices changed before each run,
   against the naive approach in its own process (fetch, `pandas.json_normalize`,
   `DataFrame.to_sql`, see naive_store.py), runs interleaved so both see the same load.
3. The daemon's snapshot stage (fetch + store, in the running process) for the same
   market, unchanged and 10 % changed: `TickResult.stage_seconds()["snapshot"]`.
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
CLI = (
    shutil.which("fluence-optimizer", path=str(Path(sys.executable).parent)) or "fluence-optimizer"
)


def naive_snapshot(url: str, key: str, db: str) -> None:
    """The naive baseline in this (fresh) process: what it imports is what it pays for."""
    from datetime import UTC, datetime

    import httpx
    import sqlalchemy as sa

    sys.path.insert(0, str(ROOT))
    from tests.benchmarks.naive_store import naive_write

    answer = httpx.post(
        f"{url}/marketplace/offers",
        json={},
        headers={"Authorization": f"Bearer {key}"},
        timeout=120,
    )
    answer.raise_for_status()
    engine = sa.create_engine(db)
    naive_write(engine, answer.json(), datetime.now(UTC))
    engine.dispose()


def run(cmd: list[str], env: dict[str, str] | None = None) -> tuple[float, float, float]:
    """Run `cmd` to completion; return (wall s, CPU s, peak RSS MiB). The peak RSS comes
    from /usr/bin/time, which runs `cmd` from a small process: `wait4` on a child forked
    from this (large) process would count the fork's copy of it too."""
    fd, rss_path = tempfile.mkstemp(suffix=".rss")
    os.close(fd)
    t = time.perf_counter()
    proc = subprocess.Popen(
        ["/usr/bin/time", "-f", "%M", "-o", rss_path, *cmd],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env={**os.environ, "PYTHONPATH": str(ROOT), **(env or {})},
    )
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t
    err = proc.stderr.read().decode() if proc.stderr else ""
    if status != 0:
        raise SystemExit(f"{' '.join(cmd)} failed ({status}): {err.strip()[-500:]}")
    rss_kib = int(Path(rss_path).read_text().split()[-1])
    os.unlink(rss_path)
    return wall, usage.ru_utime + usage.ru_stime, rss_kib / 1024


def median(samples: list[tuple[float, float, float]]) -> tuple[float, float, float]:
    wall, cpu, rss = zip(*samples, strict=True)
    return statistics.median(wall), statistics.median(cpu), statistics.median(rss)


def show(
    label: str, m: tuple[float, float, float], base: tuple[float, float, float] | None = None
) -> None:
    ratio = (
        f"   {m[0] / base[0]:.2f}× / {m[1] / base[1]:.2f}× / {m[2] / base[2]:.2f}×" if base else ""
    )
    print(f"  {label:<44} {m[0]:6.3f} s {m[1]:6.3f} s {m[2]:6.0f} MiB{ratio}")


def change_prices(sim: Any, keys: list[str], share: float, rng: random.Random) -> None:
    """Move `share` of the offers' prices by a few percent (pinned, so they stay moved)."""
    for key in rng.sample(keys, int(len(keys) * share)):
        price = sim.offer_price(key)
        sim.set_offer_price(
            key, (price * Decimal(rng.choice(("0.97", "1.03")))).quantize(Decimal("0.00001"))
        )


def bench_startup(url: str, key: str, runs: int) -> None:
    env = {"FLUENCE_API_KEY": key}
    cases = {
        "python -c pass (the floor)": [sys.executable, "-c", "pass"],
        "fluence-optimizer --help": [CLI, "--help"],
        "fluence-optimizer --version": [CLI, "--version"],
        "fluence-optimizer vms list (loopback API)": [CLI, "--api-url", url, "vms", "list"],
    }
    samples: dict[str, list[tuple[float, float, float]]] = {k: [] for k in cases}
    for _ in range(runs):
        for label, cmd in cases.items():
            samples[label].append(run(cmd, env))
    print(f"\n== start-up, whole process (median of {runs}) ==")
    print(f"  {'':<44} {'wall':>8} {'CPU':>8} {'peak RSS':>10}")
    for label in cases:
        show(label, median(samples[label]))


def bench_snapshot(sim: Any, url: str, tmp: Path, runs: int) -> None:
    from optimizer.fluence.offer_listings import offer_items

    env = {"FLUENCE_API_KEY": sim.api_key}
    ours_db = f"sqlite:///{tmp / 'ours.db'}"
    naive_db = f"sqlite:///{tmp / 'naive.db'}"
    ours = [CLI, "--api-url", url, "--database", ours_db, "snapshot", "--no-vms"]
    naive = [sys.executable, __file__, "--naive", url, naive_db]
    keys = [o.key for o in sim.market.listed()]
    n = len(offer_items(sim.offers_json(None)))
    rng = random.Random(7)
    first = run(ours, env)
    run(naive, env)
    print(
        f"\n== snapshot of {n:,} offers, loopback API → SQLite, whole process (median of {runs}) =="
    )
    print(f"  {'':<44} {'wall':>8} {'CPU':>8} {'peak RSS':>10}   ours/naive: wall / CPU / RSS")
    show("first snapshot (every offer new)", first)
    for label, share in (("market unchanged", 0.0), ("10 % of prices changed", 0.10)):
        ours_s, naive_s = [], []
        for _ in range(runs):
            if share:
                change_prices(sim, keys, share, rng)
            ours_s.append(run(ours, env))
            naive_s.append(run(naive, env))
        base = median(naive_s)
        show(f"naive (json_normalize + to_sql), {label}", base)
        show(f"fluence-optimizer snapshot, {label}", median(ours_s), base)


def bench_daemon_stage(sim: Any, url: str, tmp: Path, runs: int) -> None:
    import logging

    import structlog

    from optimizer.clock import SystemClock
    from optimizer.config import parse_config
    from optimizer.cycle import Cycle, Runtime
    from optimizer.fluence.client import build_client
    from optimizer.store.engine import open_store

    config = parse_config(
        {"mode": "observe", "api": {"base_url": url, "timeout": "120s"},
         "database": {"url": f"sqlite:///{tmp / 'daemon.db'}"}},
        "bench.toml",
    )  # fmt: skip
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))
    engine = open_store(config.database.url)
    client = build_client(config.api, api_key=sim.api_key)
    cycle = Cycle(Runtime(config=config, client=client, engine=engine, clock=SystemClock()))
    keys = [o.key for o in sim.market.listed()]
    rng = random.Random(11)
    tick = 0

    def stage() -> float:
        nonlocal tick
        tick += 1
        result = cycle.run(tick, force=True)
        if result.failures:
            raise SystemExit(f"tick failed: {result.failures[0].error}")
        return result.stage_seconds()["snapshot"]

    first = stage()
    print(f"\n== the daemon's snapshot stage (fetch + store, in process; median of {runs}) ==")
    print(f"  first snapshot (every offer new)            {first:6.3f} s")
    for label, share in (("market unchanged", 0.0), ("10 % of prices changed", 0.10)):
        times = []
        for _ in range(runs):
            if share:
                change_prices(sim, keys, share, rng)
            times.append(stage())
        print(f"  {label:<44} {statistics.median(times):6.3f} s")
    client.close()
    engine.dispose()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--offers", type=int, default=10_000)
    ap.add_argument("--naive", nargs=2, metavar=("URL", "DB"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.naive:
        naive_snapshot(args.naive[0], os.environ["FLUENCE_API_KEY"], args.naive[1])
        return

    sys.path.insert(0, str(ROOT))
    from optimizer.sim import Simulator, start_server

    print(f"2 shared cores; load average at start {os.getloadavg()[0]:.1f}")
    tmp = Path(tempfile.mkdtemp(prefix="bench-startup-"))
    try:
        small = Simulator(seed=7, offers=80)
        for i in range(3):
            small.add_foreign_vm(f"manual-{i}")
        with start_server(small) as srv:
            bench_startup(srv.url, small.api_key, args.runs)
        sim = Simulator(seed=11, offers=args.offers)
        with start_server(sim) as srv:
            bench_snapshot(sim, srv.url, tmp, args.runs)
            bench_daemon_stage(sim, srv.url, tmp, args.runs)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print(f"load average at end {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
