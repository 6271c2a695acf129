"""The balance runway: exact Decimal arithmetic, the warning and critical levels of
`balance.runway`, spend from charges per fleet, and the seeds' generation unchanged (no
account facts: same budget, same JSON, no runway family evaluated)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from optimizer.alerts.rules import RuleInputs, evaluate_rules, runway_alerts
from optimizer.budget import FLOOR_HOURS, Runway, VmPoint, compute_budget, runway_of
from optimizer.cli.budget_cmd import report_json
from optimizer.config import parse_config
from optimizer.fluence.account import (
    DISK,
    IP,
    UNKNOWN,
    VM,
    AccountFacts,
    BilledResource,
    ResourceCharge,
)

NOW = datetime(2026, 3, 17, 12, tzinfo=UTC)
D = Decimal


def facts(balance: str | None = "10", charged: bool = True) -> AccountFacts:
    """web-a (a fleet VM with its disk and IP) and a foreign detached disk."""
    res = (
        BilledResource("v1", "web-a1b2", VM, D("0.25")),
        BilledResource("d1", "web-a1b2-d", DISK, D("0.003"), True),
        BilledResource("i1", "web-a1b2-ip", IP, D("0.005"), True),
        BilledResource("d9", "old-data", DISK, D("0.012"), False),
    )
    month = (ResourceCharge("v1", "web-a1b2", VM, D("30.5")),
             ResourceCharge("d1", "web-a1b2-d", DISK, D("0.4")),
             ResourceCharge("d9", "old-data", DISK, D("1.2")))  # fmt: skip
    today = (ResourceCharge("v1", "web-a1b2", VM, D("3")),)
    return AccountFacts(
        balance=None if balance is None else D(balance),
        resources=res,
        charges_since=date(2026, 3, 1) if charged else None,
        charged=month if charged else None,
        charged_today=today if charged else None,
    )


def config(**alerts: object) -> object:
    return parse_config(
        {
            "fleets": [{"name": "web", "instances": 1, "os_image": "https://x/u.img",
                        "ssh_keys": ["ssh-ed25519 AAAA k"]}],
            "alerts": alerts,
        }
    )  # fmt: skip


def test_runway_is_balance_over_burn_in_exact_decimals() -> None:
    w = runway_of(facts("10"), NOW)
    assert w is not None
    assert w.burn_per_hour == D("0.270")
    assert w.hours_left == D("10") / D("0.270")  # exact Decimal, no float on the way
    assert w.one_more_per_hour == D("0.25") + D("0.012") + D("0.005")  # dearest of each kind
    assert w.floor_usd == FLOOR_HOURS * (D("0.270") + D("0.267"))
    assert w.hours_to_floor() == (D("10") - FLOOR_HOURS * D("0.537")) / D("0.270")
    assert w.until is not None and abs(w.until - (NOW + timedelta(hours=37.037))) < timedelta(
        seconds=2
    )


def test_edge_cases_empty_balance_nothing_billed_unknown_balance() -> None:
    assert Runway(D("-3"), D("0.5"), D("0"), NOW).hours_left == 0
    assert Runway(D("5"), D("0"), D("0"), NOW).hours_left is None
    assert Runway(D("5"), None, D("0"), NOW).hours_left is None
    assert runway_of(facts(balance=None), NOW) is None
    assert runway_of(UNKNOWN, NOW) is None


def test_warning_under_runway_hours_none_above() -> None:
    lead = D(1)
    w = Runway(D("25"), D("1"), D("0.5"), NOW)  # 25 h; floor 9 → 16 h to the floor
    (a,) = runway_alerts(w, 72, lead)
    assert (a.key, a.severity, a.level) == ("balance.runway:account", "warning", 1)
    assert a.data["hours_left"] == D("25.00") and a.data["hours_to_floor"] == D("16.00")
    assert runway_alerts(w, 24, lead) == []


def test_critical_before_the_floor_stops_creation_not_after() -> None:
    """Floor = 6 × (1 + 0.5) = 9 USD. With a 1-hour lead the alert is critical from a
    balance under 10 (the floor is reached within the hour), not at 10.5."""
    lead = D(1)
    (a,) = runway_alerts(Runway(D("10.5"), D("1"), D("0.5"), NOW), 72, lead)
    assert a.severity == "warning"
    (a,) = runway_alerts(Runway(D("9.9"), D("1"), D("0.5"), NOW), 72, lead)
    assert (a.severity, a.level) == ("critical", 2)
    assert "in 0.9 hours" in a.text and "top up now" in a.text
    (a,) = runway_alerts(Runway(D("4"), D("1"), D("0.5"), NOW), 72, lead)
    assert a.severity == "critical" and "stop now" in a.text
    # critical even when the warning threshold is set below the floor
    (a,) = runway_alerts(Runway(D("9.5"), D("1"), D("0.5"), NOW), 1, lead)
    assert a.severity == "critical"


def test_the_rule_uses_runway_hours_and_the_plan_interval() -> None:
    cfg = config(runway_hours=12)
    w = Runway(D("15"), D("1"), D("0.5"), NOW)  # 15 h left, 6 h to the floor
    alerts, families = evaluate_rules(RuleInputs(runway=w), cfg)  # type: ignore[arg-type]
    assert alerts == [] and "balance.runway" in families
    cfg = config(runway_hours=16)
    alerts, _ = evaluate_rules(RuleInputs(runway=w), cfg)  # type: ignore[arg-type]
    assert [a.severity for a in alerts] == ["warning"]
    alerts, families = evaluate_rules(RuleInputs(), cfg)  # type: ignore[arg-type]
    assert alerts == [] and "balance.runway" not in families  # unknown: neither fires nor resolves
    no_rate = Runway(D("1"), None, D("0.5"), NOW)
    alerts, families = evaluate_rules(RuleInputs(runway=no_rate), cfg)  # type: ignore[arg-type]
    assert alerts == [] and "balance.runway" not in families
    nothing_bills = Runway(D("1"), D("0"), D("0"), NOW)
    alerts, families = evaluate_rules(RuleInputs(runway=nothing_bills), cfg)  # type: ignore[arg-type]
    assert alerts == [] and "balance.runway" in families  # resolves: nothing runs the balance down


def test_spend_from_charges_per_fleet_and_for_the_account() -> None:
    cfg = config()
    r = compute_budget([], cfg, NOW, account=facts(), account_at=NOW)  # type: ignore[arg-type]
    web, total = r.scope("web"), r.total
    assert (web.spend_month, web.spend_epoch) == (D("30.9"), D("3"))
    assert web.run_rate == (D("0.25") + D("0.003") + D("0.005")) * 24
    assert r.unmanaged is not None and r.unmanaged.spend_month == D("1.2")
    assert r.unmanaged.run_rate == D("0.012") * 24
    assert (total.spend_month, total.run_rate) == (D("32.1"), D("0.270") * 24)
    hours_left = D(14 * 24 + 12)
    assert total.forecast_month == D("32.1") + D("0.270") * hours_left
    assert r.runway is not None and report_json(r)["runway"]["hours_left"] == D("37.04")


def test_last_months_charges_do_not_count_this_month() -> None:
    charged = (ResourceCharge("v1", "web-a", VM, D(9)),)
    old = AccountFacts(D(5), charges_since=date(2026, 2, 1), charged=charged, charged_today=())
    r = compute_budget([], config(), NOW, account=old)  # type: ignore[arg-type]
    assert r.total.spend_month == 0 and r.unmanaged is None


def test_without_account_facts_the_budget_is_what_it_was() -> None:
    """The seeds' generation: VM observations only; facts that know nothing change
    nothing, and the JSON has no runway key."""
    cfg = config()
    pts = [
        VmPoint("v1", "web-a1", "Active", NOW - timedelta(days=3), NOW, D("2"), D("2"), D("14"),
                NOW + timedelta(hours=6), NOW - timedelta(days=6)),
    ]  # fmt: skip
    plain = compute_budget(pts, cfg, NOW)  # type: ignore[arg-type]
    unknown = compute_budget(pts, cfg, NOW, account=UNKNOWN)  # type: ignore[arg-type]
    assert plain == unknown and plain.runway is None
    assert "runway" not in report_json(plain)
    assert plain.total.spend_month > 0 and plain.total.run_rate == D("2")


def test_orphans_are_listed_with_their_monthly_cost_and_a_new_one_escalates() -> None:
    from optimizer.alerts.rules import orphan_alerts
    from optimizer.executor.reaper import Orphan

    disk = Orphan("disk", "d9", "old-data", D("0.0045"), None)
    ip = Orphan("ip", "i9", "", None, None)
    (one,) = orphan_alerts([disk])
    assert (one.key, one.severity, one.level) == ("resources.orphaned:account", "warning", 1)
    assert one.data["monthly_usd"] == D("0.0045") * 730
    assert "disk old-data (d9, $3.28/month)" in one.text
    (two,) = orphan_alerts([disk, ip])
    assert two.level == 2 > one.level and "IP i9 (i9, price unknown)" in two.text
    assert orphan_alerts([]) == []
    cfg = config()
    _, families = evaluate_rules(RuleInputs(orphans=[]), cfg)  # type: ignore[arg-type]
    assert "resources.orphaned" in families  # listed and none: resolves
    _, families = evaluate_rules(RuleInputs(), cfg)  # type: ignore[arg-type]
    assert "resources.orphaned" not in families  # not listed: neither fires nor resolves


def test_the_budget_line_says_hours_left_and_when_the_balance_is_old() -> None:
    from optimizer.cli.budget_cmd import runway_line

    w = Runway(D("25"), D("1"), D("0.5"), NOW)
    line = runway_line(w, NOW + timedelta(minutes=10))
    assert line.startswith("Balance $25.00, burning $1.0000/hour") and "lasts 25.0 hours" in line
    assert "Under $9.00 the API creates nothing" in line and "read" not in line
    assert "(read 2026-03-17 12:00 UTC; run the daemon or use --live)" in runway_line(
        w, NOW + timedelta(hours=3)
    )
    unknown = runway_line(Runway(D("5"), None, D(0), NOW), NOW)
    assert unknown.endswith("burn rate unknown (a billed resource has no known price)")
