"""The pure alert rules: which conditions raise which alert keys."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from optimizer.alerts.rules import FailedAction, PlanSummary, RuleInputs, evaluate_rules
from optimizer.budget import VmPoint, compute_budget
from optimizer.config import parse_config

NOW = datetime(2026, 4, 10, 12, tzinfo=UTC)
D = Decimal


def cfg(mode: str = "recommend", **alerts: object) -> object:
    return parse_config({
        "mode": mode,
        "alerts": alerts,
        "budget": {"max_usd_per_epoch": "1.00"},
        "fleets": [{"name": "web", "instances": 1, "os_image": "https://x/i.img",
                    "ssh_keys": ["k"]}],
    })  # fmt: skip


def vm(vm_id: str, status: str, price: str = "0.6", name: str | None = None) -> VmPoint:
    return VmPoint(vm_id, name or f"web-{vm_id}", status, NOW, NOW, D(price), D(price), D(price),
                   NOW + timedelta(hours=3), NOW - timedelta(hours=21))  # fmt: skip


def keys(inputs: RuleInputs, config: object) -> dict[str, object]:
    alerts, _ = evaluate_rules(inputs, config)
    return {a.key: a for a in alerts}


def test_vm_statuses_raise_balance_and_termination_alerts() -> None:
    pts = [vm("a", "SmallBalance"), vm("b", "InsufficientFunds"), vm("c", "Terminated"),
           vm("d", "Active")]  # fmt: skip
    got = keys(RuleInputs(budget=compute_budget(pts, cfg(), NOW)), cfg())
    assert got["vm.balance:a"].severity == "warning"
    assert got["vm.balance:b"].severity == "critical"
    assert got["vm.terminated:c"].fleet == "web"
    assert not any(k.endswith(":d") for k in got)


def test_epoch_cap_exceeded_by_running_vms_only() -> None:
    config = cfg()
    running = compute_budget([vm("a", "Active"), vm("b", "Active")], config, NOW)
    assert "budget.epoch:total" in keys(RuleInputs(budget=running), config)
    one_gone = compute_budget([vm("a", "Active"), vm("b", "Terminated")], config, NOW)
    assert "budget.epoch:total" not in keys(RuleInputs(budget=one_gone), config)


def test_unsatisfiable_and_savings_only_in_recommend_mode() -> None:
    plans = {
        "web": PlanSummary(
            "web",
            savings_per_epoch=D("0.40"),
            unsatisfiable="no allowed offer with capacity for 1 more VM(s)",
        )
    }
    rec = keys(RuleInputs(plans=plans), cfg("recommend"))
    assert rec["fleet.unsatisfiable:web"].severity == "critical"
    assert "$0.40/epoch" in rec["savings.available:web"].text
    assert rec["savings.available:web"].data["savings_month"] == D("0.40") * D("30.4")
    act = keys(RuleInputs(plans=plans), cfg("act"))
    assert "savings.available:web" not in act and "fleet.unsatisfiable:web" in act


def test_price_spike_compares_with_n_epochs_earlier() -> None:
    day = timedelta(days=1)
    series = [(NOW - 4 * day, 1.0), (NOW - 3 * day, 1.0), (NOW - 2 * day, 1.1),
              (NOW - day, 1.2), (NOW, 1.3)]  # fmt: skip
    config = cfg(price_spike_pct=25, price_spike_epochs=3)
    got = keys(RuleInputs(segment_medians={"web": series}), config)
    assert got["price.spike:web"].data["rise_pct"] == 30.0
    calm = keys(RuleInputs(segment_medians={"web": series}),
                cfg(price_spike_pct=35, price_spike_epochs=3))  # fmt: skip
    assert "price.spike:web" not in calm


def test_snapshot_failures_over_the_limit_and_failed_migrations() -> None:
    config = cfg(snapshot_failures=3)
    assert "snapshot.failing:api" not in keys(RuleInputs(snapshot_failures=3), config)
    got = keys(RuleInputs(snapshot_failures=4, last_snapshot_error="HTTP 503",
                          failed_actions=[FailedAction("17", "web", "migrate", "deploy 422")]),
               config)  # fmt: skip
    assert "HTTP 503" in got["snapshot.failing:api"].text
    assert got["migration.failed:17"].event


def test_families_only_for_inputs_given() -> None:
    _, fams = evaluate_rules(RuleInputs(snapshot_failures=0), cfg())
    assert fams == {"snapshot.failing"}


def test_summarize_plan_of_a_real_plan_with_no_offers_is_unsatisfiable() -> None:
    from optimizer.alerts.tick import summarize_plan
    from optimizer.planner import MarketView, plan_fleet

    config = cfg()
    plan = plan_fleet(config.fleets[0], [], MarketView(offers=(), taken_at=NOW), now=NOW)
    s = summarize_plan(plan)
    assert s.fleet == "web" and s.unsatisfiable and "no allowed offer" in s.unsatisfiable
    assert s.savings_per_epoch == 0 and s.deposit_needed == 0
    got = keys(RuleInputs(plans={"web": s}), config)
    assert got["fleet.unsatisfiable:web"].fleet == "web"
