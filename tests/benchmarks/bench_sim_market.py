"""Simulator speed: build a large market, answer POST /marketplace/offers {}, step time.

Run (from the repository root, after `pip install .` or with PYTHONPATH=.):
    python tests/benchmarks/bench_sim_market.py [--offers 10000] [--runs 5]
Prints medians; no assertions (figures, not pass/fail).
"""

from __future__ import annotations

import argparse
import statistics
import time
from datetime import timedelta

from optimizer.sim import Simulator


def median_time(fn: object, runs: int) -> float:
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()  # type: ignore[operator]
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--offers", type=int, nargs="*", default=[80, 2000, 10000])
    ap.add_argument("--runs", type=int, default=5)
    args = ap.parse_args()
    print(f"{'offers':>7} {'build s':>8} {'offers {} s':>12} {'body MB':>8} {'+30 days s':>11} "
          f"{'httpx+.json() s':>18}")  # fmt: skip
    for n in args.offers:
        build = median_time(lambda n=n: Simulator(seed=7, offers=n), args.runs)
        sim = Simulator(seed=7, offers=n)
        headers = {"X-API-KEY": sim.api_key}
        answer = median_time(
            lambda sim=sim, h=headers: sim.handle(
                "POST", "/marketplace/offers", headers=h, body=b"{}"
            ),
            args.runs,
        )
        size = len(sim.handle("POST", "/marketplace/offers", headers=headers, body=b"{}").body)
        http = sim.http_client()
        via_httpx = median_time(lambda http=http: http.post("/marketplace/offers", json={}).json(),
                                args.runs)  # fmt: skip
        t0 = time.perf_counter()
        sim.advance(timedelta(days=30))
        month = time.perf_counter() - t0
        print(f"{n:>7} {build:>8.3f} {answer:>12.3f} {size / 1e6:>8.1f} {month:>11.2f} "
              f"{via_httpx:>18.3f}")  # fmt: skip


if __name__ == "__main__":
    main()
