"""Figures for the API client: time to fetch and parse the whole offer list.

    python tests/benchmarks/bench_client_offers.py

Prints the median of several runs for 80, 500 and 2000 offers: in-process transport
(parsing + simulator) and over loopback HTTP (adds the socket and the server thread).
"""

from __future__ import annotations

import statistics
import time

from optimizer.config import ApiConfig
from optimizer.fluence.client import build_client
from optimizer.sim import Simulator, start_server

RUNS = 5


def _median(fn) -> float:  # type: ignore[no-untyped-def]
    times = []
    for _ in range(RUNS):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def main() -> None:
    for n in (80, 500, 2000):
        sim = Simulator(seed=7, offers=n)
        listed = len(sim.offers(None))
        with build_client(
            ApiConfig(base_url="http://127.0.0.1"), transport=sim.transport(), api_key=sim.api_key
        ) as client:
            t_in = _median(client.list_offers)
        with (
            start_server(sim) as server,
            build_client(ApiConfig(base_url=server.url), api_key=sim.api_key) as client,
        ):
            t_http = _median(client.list_offers)
        print(
            f"list_offers, {listed:5d} offers listed: in-process {t_in * 1000:7.1f} ms, "
            f"loopback HTTP {t_http * 1000:7.1f} ms (median of {RUNS})"
        )


if __name__ == "__main__":
    main()
