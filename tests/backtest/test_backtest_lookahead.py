"""No look-ahead: at each step a policy sees the history up to that snapshot and nothing
later; a price spike at t+1 does not change what the planner decides at t. And the
simulated executor carries out the planner's billing-aligned migration as planned."""

from __future__ import annotations

from datetime import timedelta

import numpy as np
from bt_helpers import make_fleet, make_market

from optimizer.backtest.baselines import GreedyPolicy
from optimizer.backtest.billing import BillingModel
from optimizer.backtest.planner_policy import PlannerPolicy
from optimizer.backtest.replay import StepView, match_fleet, replay

HOURS = 72
E = 86_400


class Recorder:
    """Wraps a policy; records what it saw and decided at every step."""

    def __init__(self, inner) -> None:  # type: ignore[no-untyped-def]
        self.inner = inner
        self.name = inner.name
        self.log: list[tuple[int, list[str]]] = []

    def decide(self, view: StepView):  # type: ignore[no-untyped-def]
        assert view.market.price.shape[0] == view.step + 1
        assert view.market.times[-1] == view.now
        acts = self.inner.decide(view)
        self.log.append((view.step, [repr(_strip(a)) for a in acts]))
        return acts


def _strip(a):  # type: ignore[no-untyped-def]
    d = dict(a.__dict__)
    if isinstance(d.get("offers"), np.ndarray):
        d["offers"] = tuple(np.flatnonzero(d["offers"]))
    return type(a).__name__, sorted(d.items())


def _markets(spike_at: int):  # type: ignore[no-untyped-def]
    """a stays at 1.00; b drops to 0.50 from hour 5. The second market is identical
    except that b spikes to 9.00 from hour `spike_at` on."""
    a = [1.0] * HOURS
    b = [1.2] * 5 + [0.5] * (HOURS - 5)
    b2 = b[:spike_at] + [9.0] * (HOURS - spike_at)
    calm = make_market({"a": a, "b": b}, step=timedelta(hours=1))
    spiky = make_market({"a": a, "b": b2}, step=timedelta(hours=1))
    return calm, spiky


def _run(market, policy_factory):  # type: ignore[no-untyped-def]
    fleet = make_fleet(2, cooldown_epochs=0, max_migrations_per_epoch=2, max_surge=2)
    rec = Recorder(policy_factory(fleet, market))
    run = replay(market, match_fleet(market, fleet), rec, BillingModel(lead_time_s=600))
    return rec.log, run


def test_a_spike_at_t_plus_1_does_not_change_the_planners_decision_at_t() -> None:
    """The planner proposes moving to b at hour 5; b spikes at hour 6 in the second
    history. Every decision up to hour 5 is identical in both runs; afterwards they may
    differ (the executor finds b above the cap when the aligned start time comes)."""
    t = 5
    calm, spiky = _markets(t + 1)

    def planner(f, m):  # type: ignore[no-untyped-def]
        return PlannerPolicy("planner", f, m)

    log_calm, run_calm = _run(calm, planner)
    log_spiky, run_spiky = _run(spiky, planner)
    assert log_calm[: t + 1] == log_spiky[: t + 1]
    assert any("Migrate" in a for a in log_calm[t][1]), log_calm[t]
    # the future did differ: the calm run moved, the spiky run could not
    assert run_calm.stats.migrations == 2
    assert run_spiky.stats.migrations == 0
    assert run_spiky.stats.failed["migrate: no offer under the cap"] == 2


def test_greedy_sees_no_future_either() -> None:
    t = 5
    calm, spiky = _markets(t + 1)
    log_calm, _ = _run(calm, lambda f, m: GreedyPolicy())
    log_spiky, _ = _run(spiky, lambda f, m: GreedyPolicy())
    assert log_calm[: t + 1] == log_spiky[: t + 1]
    assert sum("Migrate" in a for a in log_calm[t][1]) == 2


def test_planner_migration_is_billing_aligned_and_make_before_break() -> None:
    """The planner moves both VMs to b just before their first renewal: each replacement
    starts lead time + 5 min before the old VM's next charge and the old VM is deleted
    5 min before it, so each old VM pays exactly one epoch."""
    calm, _ = _markets(HOURS)
    _, run = _run(calm, lambda f, m: PlannerPolicy("planner", f, m))
    t0 = int(calm.times[0])
    vms = sorted(run.account.vms.values(), key=lambda v: v.deployed_at)
    old, new = vms[:2], vms[2:]
    assert len(new) == 2
    for v in old:
        assert v.charges == 1
        assert v.deleted_at == t0 + E - 300
    for v in new:
        assert v.deployed_at == t0 + E - 300 - 600
        assert v.deal_micros == 500_000


def test_leaving_out_dear_offers_changes_no_planner_decision() -> None:
    """The adapter hands the planner only offers that could matter once the fleet is full
    and settled; on the simulator's market (capacity binding at times) every
    decision is the same as with the full offer list (12 days)."""
    from optimizer.backtest.prices import Market
    from optimizer.backtest.synthetic import simulator_history

    market = Market.build(simulator_history(days=12))
    fleet = make_fleet(
        4, cooldown_epochs=0.5, min_savings_pct=3, min_savings_usd_per_epoch="0.005",
        max_migrations_per_epoch=3,
    )  # fmt: skip
    fleet.constraints.configurations = ["cpu-2-ram-4gb-storage-25gb"]
    logs = []
    for prune in (True, False):
        rec = Recorder(PlannerPolicy("planner", fleet, market, prune=prune))
        run = replay(market, match_fleet(market, fleet), rec, BillingModel(lead_time_s=600))
        logs.append((rec.log, run.account.total_micros, run.stats.migrations))
    assert logs[0] == logs[1]
    assert logs[0][2] > 0
