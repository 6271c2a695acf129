"""Benchmark: backtest speed — 90 days of hourly history, 2,000 offers, a 20-VM fleet.

Target: the whole backtest (planner + static + greedy + hindsight optimum, each replayed
through the simulated executor and billing) under 60 s on this machine. Prints the median
of --repeat runs, split by stage. The history is synthetic (optimizer.backtest.synthetic:
random walks with jumps, 5 % of offers listed part-time, recorded capacity 0-29 per
snapshot, so capacity binds), built into the dense layout once per run.

    python tests/benchmarks/bench_backtest.py [--repeat 3] [--offers 2000] [--days 90]
        [--price-model deal|market|per-second]

(per-second: the same history read as hourly points, each price / 24.)
"""

from __future__ import annotations

import argparse
import statistics
import time

from optimizer.backtest.billing import PRICE_MODELS, BillingModel
from optimizer.backtest.planner_policy import planner_policies
from optimizer.backtest.prices import Market
from optimizer.backtest.replay import match_fleet
from optimizer.backtest.run import run_backtest
from optimizer.backtest.synthetic import hourly, synthetic_history
from optimizer.config import FleetConfig

FLEETS = {
    "one configuration (~500 offers match)": ["cpu-2-ram-4gb-storage-25gb"],
    "any configuration (all 2,000 match)": [],
}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--offers", type=int, default=2000)
    ap.add_argument("--days", type=int, default=90)
    ap.add_argument("--vms", type=int, default=20)
    ap.add_argument("--price-model", default="deal", choices=PRICE_MODELS)
    args = ap.parse_args()
    t = time.perf_counter()
    history = synthetic_history(offers=args.offers, days=args.days)
    if args.price_model == "per-second":
        history = hourly(history)
    print(
        f"history: {len(history.frame):,} observations ({args.days} days hourly, "
        f"{args.offers} offers), generated in {time.perf_counter() - t:.1f} s"
    )
    for label, configs in FLEETS.items():
        fleet = FleetConfig(
            name="bench",
            instances=args.vms,
            ssh_keys=["k"],
            os_image="https://example.com/a.img",
            constraints={"configurations": configs},
        )
        totals, builds = [], []
        per_policy: dict[str, list[float]] = {}
        for _ in range(args.repeat):
            t0 = time.perf_counter()
            market = Market.build(history)
            builds.append(time.perf_counter() - t0)
            match = match_fleet(market, fleet)
            pols, _ = planner_policies(fleet, market, {})
            res = run_backtest(market, match, BillingModel(price_model=args.price_model), pols)
            totals.append(time.perf_counter() - t0)
            for p in res.policies:
                per_policy.setdefault(p.name, []).append(p.seconds)
        med = statistics.median
        print(f"\n{args.vms}-VM fleet, {label}: median of {args.repeat} runs")
        print(f"  layout (long table → dense matrices): {med(builds):6.1f} s")
        for name, secs in per_policy.items():
            print(f"  {name:8s}: {med(secs):6.1f} s")
        print(f"  TOTAL backtest: {med(totals):6.1f} s  (target < 60 s)")
        p, o = res.policy("planner"), res.policy("optimum")
        print(
            f"  (planner ${p.total:.2f}, {p.migrations} migrations; optimum ${o.total:.2f}, "
            f"{o.migrations} migrations)"
        )


if __name__ == "__main__":
    main()
