"""The operator kit in contrib/ (Grafana dashboard, Prometheus alerting rules) loads and
uses only metrics the daemon exports, under the names and types it exports them."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import promql_parser
import pytest
import yaml

from optimizer.daemon.metrics import Metrics

CONTRIB = Path(__file__).resolve().parents[2] / "contrib"
DASHBOARD = CONTRIB / "grafana" / "fluence-optimizer.json"
RULES = CONTRIB / "prometheus" / "alerts.yml"
# Series Prometheus itself provides for every scrape target.
PROMETHEUS_BUILTINS = {"up"}
COUNTER_FUNCTIONS = {"rate", "irate", "increase"}
# What an operator opens the dashboard for (issue 18): each must be on it.
DASHBOARD_MUST_SHOW = {
    "fluence_optimizer_fleet_cost_usd_per_epoch",
    "fluence_optimizer_realized_savings_usd",
    "fluence_optimizer_actions_total",
    "fluence_optimizer_api_errors_total",
    "fluence_optimizer_snapshot_age_seconds",
    "fluence_optimizer_leader",
}


def exported_series() -> dict[str, str]:
    """Series name → metric type, as the daemon's /metrics exposes them."""
    series: dict[str, str] = {}
    for family in Metrics().registry.collect():
        if family.type == "counter":
            series[f"{family.name}_total"] = "counter"
        elif family.type == "histogram":
            for suffix in ("_bucket", "_sum", "_count"):
                series[family.name + suffix] = "histogram"
        else:
            series[family.name] = family.type
    return series


def selectors(node: Any, in_counter_fn: bool = False) -> list[tuple[str, bool]]:
    """(metric name, whether a rate-like function wraps it) for each selector of a PromQL AST."""
    kind = type(node).__name__
    if kind == "VectorSelector":
        return [(node.name, in_counter_fn)]
    if kind == "Call":
        wrapped = in_counter_fn or node.func.name in COUNTER_FUNCTIONS
        return [s for arg in node.args for s in selectors(arg, wrapped)]
    found: list[tuple[str, bool]] = []
    for attr in ("lhs", "rhs", "expr", "vector_selector", "param"):
        child = getattr(node, attr, None)
        if child is not None and not isinstance(child, (int, float, str)):
            found += selectors(child, in_counter_fn)
    return found


def check_expr(expr: str, where: str, series: dict[str, str]) -> set[str]:
    # Grafana's interval macros are not PromQL; give them a concrete range to parse.
    ast = promql_parser.parse(expr.replace("$__rate_interval", "5m").replace("$__interval", "1m"))
    names = set()
    for name, counter_fn in selectors(ast):
        names.add(name)
        if name in PROMETHEUS_BUILTINS:
            continue
        assert name in series, f"{where}: {name} is not exported by the daemon"
        kind = series[name]
        if counter_fn:
            assert kind == "counter", f"{where}: rate()/increase() over {kind} {name}"
        else:
            assert kind != "counter", f"{where}: counter {name} used without rate()/increase()"
    return names


def test_dashboard_loads_and_uses_only_exported_metrics() -> None:
    dash = json.loads(DASHBOARD.read_text())
    series = exported_series()
    assert dash["uid"] and dash["panels"], "a dashboard with a uid and panels"
    ids = [p["id"] for p in dash["panels"]]
    assert len(ids) == len(set(ids)), "panel ids are unique"
    used: set[str] = set()
    for panel in dash["panels"]:
        assert panel["targets"], f"panel {panel['title']!r} has no query"
        for t in panel["targets"]:
            used |= check_expr(t["expr"], f"panel {panel['title']!r}", series)
    missing = DASHBOARD_MUST_SHOW - used
    assert not missing, f"the dashboard does not show {sorted(missing)}"


def test_alert_rules_load_and_use_only_exported_metrics() -> None:
    doc = yaml.safe_load(RULES.read_text())
    series = exported_series()
    rules = [r for g in doc["groups"] for r in g["rules"]]
    assert rules
    names = [r["alert"] for r in rules]
    assert len(names) == len(set(names)), "alert names are unique"
    for rule in rules:
        assert set(rule) <= {"alert", "expr", "for", "labels", "annotations", "keep_firing_for"}
        assert rule["labels"]["severity"] in {"warning", "critical"}, rule["alert"]
        assert rule["annotations"]["summary"], rule["alert"]
        check_expr(rule["expr"], f"rule {rule['alert']}", series)


@pytest.mark.parametrize(
    "expr",
    [
        "rate(fluence_optimizer_no_such_metric[5m])",  # not exported
        "fluence_optimizer_actions_total > 0",  # a counter without rate()
        "rate(fluence_optimizer_leader[5m])",  # rate() of a gauge
    ],
)
def test_the_check_catches_a_wrong_metric(expr: str) -> None:
    with pytest.raises(AssertionError):
        check_expr(expr, "probe", exported_series())
