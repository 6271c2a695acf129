"""Benchmark: decision quality of the default policy, against static, greedy, the
hindsight optimum and the lower bound, on simulator markets and synthetic ones.

Markets: the simulator's (seeds 7, 11, 23; 80 offers, as `Simulator(seed)` makes them)
and three synthetic ones (`optimizer.backtest.synthetic.scenario_history`): flat with
short shallow dips, flat with one lasting drop, noisy with a slow trend. Each is replayed
for two fleets, on both billing models, through the real planner with the default
`[fleets.policy]`: epoch-deal (the marketplace generation: per-epoch prices, charged per
24 h; price model `deal`: a VM keeps its deploy price, `market`: it pays its offer's
current price at each charge) and `per-second` (the cloud generation: the same markets as
hourly price points, each price / 24, a VM paying its offer's price of the moment for
every second it exists).

Per row: totals of static / greedy / optimum (snapshot-time schedule) / bound (no
schedule can cost less) / default policy; the share of the optimum's saving the policy
captured (and of the bound's); the policy's loss against static (negative = it saved);
migrations policy / greedy / optimum; and the target of issue 16: where the optimum saves
under 2 % the policy ends at most 0.1 % above static; where it saves more the policy
captures >= 90 % with at most max(greedy/2, 1.5 × optimum) migrations; each row says
whether it is met and, if not, by what. Figures, not assertions.

    python tests/benchmarks/bench_policy_quality.py [--days 90] [--synthetic-days 30]
        [--markets sim7 flat-dips ...]
        [--models deal market per-second] [--variants]
"""

from __future__ import annotations

import argparse
import time
from decimal import Decimal

from optimizer.backtest.billing import PRICE_MODELS, BillingModel
from optimizer.backtest.planner_policy import planner_policies
from optimizer.backtest.prices import Market, PriceHistory
from optimizer.backtest.replay import match_fleet
from optimizer.backtest.run import BacktestResult, run_backtest
from optimizer.backtest.synthetic import SCENARIOS, hourly, scenario_history, simulator_history
from optimizer.config import FleetConfig, FleetPolicy

FLEETS = {
    "web 5×cpu-2": {
        "instances": 5,
        "constraints": {"configurations": ["cpu-2-ram-4gb-storage-25gb"]},
    },
    "eu 3×cpu-4": {
        "instances": 3,
        "constraints": {
            "configurations": ["cpu-4-ram-8gb-storage-25gb"],
            "countries": ["DE", "FR", "NL", "PL"],
        },
    },
}

#: not the default: other settings of the same planner, printed with --variants
VARIANTS = {
    "no-align": {"align_to_billing": False},
    "old-dflt": {
        "min_savings_pct": 10,
        "min_savings_usd_per_epoch": "0.05",
        "payback_epochs": 3,
        "max_migrations_per_epoch": 1,
        "cooldown_epochs": 2,
        "max_surge": 1,
    },
}

MARKETS = ("sim7", "sim11", "sim23", *SCENARIOS)


def history(name: str, args: argparse.Namespace) -> PriceHistory:
    if name.startswith("sim"):
        return simulator_history(seed=int(name[3:]), days=args.days)
    return scenario_history(name, days=args.synthetic_days)


def verdict(res: BacktestResult) -> str:
    """The issue-16 target for the default policy in this run, in words: met, or by what
    it is missed."""
    st, gr, op, pl = (res.policy(n) for n in ("static", "greedy", "optimum", "planner"))
    opt_saves = (st.total - op.total) / st.total
    if opt_saves < Decimal("0.02"):
        loss = (pl.total - st.total) / st.total
        if loss <= Decimal("0.001"):
            return "meets (optimum < 2 %: ≤ +0.1 % vs static)"
        return f"MISSES: optimum < 2 % but the default ends {loss:+.2%} vs static (> +0.1 %)"
    limit = max(gr.migrations / 2, 1.5 * op.migrations)
    share = pl.share_of_optimum or 0.0
    why = []
    if share < 0.9:
        why.append(f"captures {share:.1%} < 90 %")
    if pl.migrations > limit:
        why.append(f"{pl.migrations} migrations > {limit:g}")
    if not why:
        return f"meets (≥ 90 %, ≤ {limit:g} migrations)"
    return "MISSES: " + ", ".join(why)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--days", type=int, default=90, help="simulator markets")
    ap.add_argument("--synthetic-days", type=int, default=30)
    ap.add_argument("--markets", nargs="*", default=list(MARKETS), choices=MARKETS)
    ap.add_argument("--models", nargs="*", default=list(PRICE_MODELS), choices=PRICE_MODELS)
    ap.add_argument("--fleets", nargs="*", default=list(FLEETS), choices=list(FLEETS))
    ap.add_argument("--variants", action="store_true", help="also run VARIANTS")
    args = ap.parse_args()
    print(
        "market      fleet        model      static   greedy  optimum    bound  default"
        "  capture (bound)  vs static  migr. dflt/greedy/opt  target"
    )
    for name in args.markets:
        t0 = time.perf_counter()
        hist = history(name, args)
        markets = {"epoch": Market.build(hist)}
        if "per-second" in args.models:
            markets["hour"] = Market.build(hourly(hist))
        gen = time.perf_counter() - t0
        for label in args.fleets:
            fleet = FleetConfig(
                name="bench", ssh_keys=["k"], os_image="https://example.com/a.img", **FLEETS[label]
            )
            sets = {k: FleetPolicy(**v) for k, v in VARIANTS.items()} if args.variants else {}
            for model in args.models:
                market = markets["hour" if model == "per-second" else "epoch"]
                match = match_fleet(market, fleet)
                pols, _ = planner_policies(fleet, market, sets)
                t1, c1 = time.perf_counter(), time.process_time()
                res = run_backtest(market, match, BillingModel(price_model=model), pols)  # type: ignore[arg-type]
                secs, cpu = time.perf_counter() - t1, time.process_time() - c1
                st, gr, op, pl = (res.policy(n) for n in ("static", "greedy", "optimum", "planner"))
                share = "n/a" if pl.share_of_optimum is None else f"{pl.share_of_optimum:.1%}"
                bshare = "n/a" if pl.share_of_bound is None else f"{pl.share_of_bound:.1%}"
                loss = (pl.total - st.total) / st.total
                print(
                    f"{name:11s} {label:12s} {model:10s} {st.total:8.2f} {gr.total:8.2f} "
                    f"{op.total:8.2f} {res.bound:8.2f} {pl.total:8.2f}  {share:>7s} "
                    f"({bshare:>6s})  {loss:+8.2%}  {pl.migrations:5d}/{gr.migrations}/"
                    f"{op.migrations:<10d} {verdict(res)}  [{secs:.0f} s, CPU {cpu:.0f} s]",
                    flush=True,
                )
                for p in res.policies[4:]:
                    print(
                        f"{'':35s} variant {p.name}: {p.total:.2f}, "
                        f"{(p.total - st.total) / st.total:+.2%} vs static, "
                        f"{p.migrations} migrations"
                    )
                for n in res.notes:
                    print(f"{'':35s} note: {n}")
        print(
            f"{'':35s}({hist.frame['ts'].nunique()} snapshots, "
            f"{hist.frame['offer_key'].nunique()} offers, {gen:.0f} s to build)"
        )


if __name__ == "__main__":
    main()
