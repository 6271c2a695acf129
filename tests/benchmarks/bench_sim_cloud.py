"""Speed of the simulator's cloud face: make it, list VMs, bill a month, check contracts.

Run (from the repository root, after `pip install .` or with PYTHONPATH=.):
    python tests/benchmarks/bench_sim_cloud.py [--vms 50 200] [--runs 5]
Prints medians; no assertions (figures, not pass/fail). The contract column needs the
specs beside the clone (or FLUENCE_CLOUD_SPEC_DIR); it prints "-" without them.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from optimizer.sim import Simulator


def median_time(fn: Callable[[], object], runs: int) -> float:
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def populated(n: int) -> Simulator:
    """A cloud face with `n` launched VMs, each with a boot disk and a public IP."""
    sim = Simulator(seed=7)
    w = sim.cloud
    sim.set_balance("1000000")
    for i in range(n):
        cl = w.catalog.clusters[i % len(w.catalog.clusters)]
        conf = cl.configurations[0]
        w.set_capacity(cl.id, conf, 1000)
        w.add_foreign_vm(f"vm-{i}", cluster_id=cl.id, configuration=conf)
    return sim


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--vms", type=int, nargs="*", default=[50, 200])
    ap.add_argument("--runs", type=int, default=5)
    args = ap.parse_args()
    make = median_time(lambda: Simulator(seed=7).cloud, args.runs)
    print(f"make a cloud face (24 clusters): {make * 1000:.1f} ms")
    print(f"{'VMs':>5} {'list 1 page s':>14} {'all pages s':>12} {'+30 days s':>11} "
          f"{'contract/resp ms':>17}")  # fmt: skip
    for n in args.vms:
        sim = populated(n)
        page = median_time(lambda s=sim: list_page(s, 1), args.runs)
        pages = median_time(lambda s=sim: all_pages(s), args.runs)
        month = median_time(lambda n=n: populated(n).advance(timedelta(days=30)), 1)
        print(
            f"{n:>5} {page:>14.4f} {pages:>12.4f} {month:>11.2f} {contract_ms(sim, args.runs):>17}"
        )


def list_page(sim: Simulator, page: int) -> dict[str, Any]:
    r = sim.handle("GET", "/v2/vms", query=f"perPage=100&page={page}",
                   headers={"X-API-KEY": sim.api_key}, api="cloud")  # fmt: skip
    return dict(r.json())


def all_pages(sim: Simulator) -> None:
    page = 1
    while page < list_page(sim, page)["pagination"]["totalPages"]:
        page += 1


def contract_ms(sim: Simulator, runs: int) -> str:
    """Milliseconds to validate one 100-VM page against spec 0.10.0 (openapi-core)."""
    try:
        import httpx

        from tests.contract.spec import load, specs_present
    except ImportError:
        return "-"
    if not specs_present():
        return "-"
    spec = load("0.10.0")
    client = sim.http_client(api="cloud")
    resp = client.get("/v2/vms", params={"perPage": 100})
    assert isinstance(resp, httpx.Response)
    return f"{median_time(lambda: spec.check_response(resp), runs) * 1000:.1f}"


if __name__ == "__main__":
    main()
