"""Budget numbers and threshold alerts across a month boundary (freezegun drives the clock)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from freezegun import freeze_time

from optimizer.alerts.rules import RuleInputs, evaluate_rules
from optimizer.budget import VmPoint, billings_between, compute_budget, fleet_of, month_bounds
from optimizer.clock import SystemClock
from optimizer.config import parse_config

D = Decimal
DAY = timedelta(days=1)


def cfg(**budget: object) -> object:
    return parse_config(
        {
            "budget": {"monthly_usd": "100", **budget},
            "fleets": [
                {
                    "name": "web",
                    "instances": 1,
                    "os_image": "https://x/i.img",
                    "ssh_keys": ["k"],
                    "budget": {"monthly_usd": "40", "thresholds": [0.5, 1.0]},
                },
            ],
        }
    )


def billed_history(
    vm_id: str,
    name: str,
    price: D,
    created: datetime,
    until: datetime,
    poll: timedelta = timedelta(hours=6),
) -> list[VmPoint]:
    """Polls of a VM charged `price` at creation and every 24 h after, as the API reports."""
    pts = []
    t = created
    while t <= until:
        charges = (t - created) // DAY + 1
        nb = created + charges * DAY
        pts.append(VmPoint(vm_id, name, "Active", t, t, price, price, price * charges, nb, created))
        t += poll
    return pts


def test_billings_between_counts_discrete_charges() -> None:
    nb = datetime(2026, 1, 30, 10, tzinfo=UTC)
    # 30th 10:00 and 31st 10:00 fall before Feb 1st; Feb 1st 10:00 does not
    assert (
        billings_between(nb, datetime(2026, 1, 30, 9, tzinfo=UTC), datetime(2026, 2, 1, tzinfo=UTC))
        == 2
    )
    # a stale next_billing_at in the past is projected forward
    assert (
        billings_between(
            nb - 5 * DAY, datetime(2026, 1, 30, 9, tzinfo=UTC), datetime(2026, 2, 1, tzinfo=UTC)
        )
        == 2
    )
    assert billings_between(nb, nb, nb + DAY) == 0


def test_fleet_of_prefers_longest_fleet_name() -> None:
    assert fleet_of("web-eu-ab12", ["web", "web-eu"]) == "web-eu"
    assert fleet_of("web-ab12", ["web", "web-eu"]) == "web"
    assert fleet_of("webserver", ["web"]) is None


def test_month_spend_is_totalspent_since_month_start_across_the_boundary() -> None:
    created = datetime(2026, 1, 20, 12, tzinfo=UTC)  # charged Jan 20..31 = 12 charges
    with freeze_time("2026-02-03 18:00:00"):
        now = SystemClock().now()
        pts = billed_history("0xa", "web-a1", D("1.25"), created, now)
        # a VM created in February: all it spent counts this month
        feb2 = datetime(2026, 2, 2, 8, tzinfo=UTC)
        pts += billed_history("0xb", "other-vm", D("0.50"), feb2, now)
        r = compute_budget(pts, cfg(), now, present={"0xa", "0xb"})
    web = r.scope("web")
    # Feb 1 12:00, Feb 2 12:00, Feb 3 12:00: three charges of 1.25 in February
    assert web.spend_month == D("3.75")
    assert web.total_spent == D("1.25") * 15
    assert web.spend_epoch == D("1.25")  # Feb 3 12:00
    assert r.unmanaged is not None and r.unmanaged.spend_month == D("1.00")  # Feb 2, Feb 3 08:00
    assert r.total.spend_month == D("4.75")
    # forecast: Feb 4..28 12:00 = 25 more charges for web, 25 for other (Feb 4..28 08:00)
    assert web.forecast_month == D("3.75") + D("1.25") * 25
    assert r.total.forecast_month == D("4.75") + D("1.75") * 25
    assert web.remaining == D("40") - D("3.75")
    assert web.reserves == D("1.25") and r.total.reserves == D("1.75")
    assert not web.estimated


def test_vm_first_seen_mid_month_gets_a_reconstructed_baseline() -> None:
    created = datetime(2026, 1, 20, 12, tzinfo=UTC)
    now = datetime(2026, 2, 3, 18, tzinfo=UTC)
    pts = [
        p
        for p in billed_history("0xa", "web-a1", D("2"), created, now)
        if p.from_at >= datetime(2026, 2, 2, tzinfo=UTC)
    ]  # daemon started Feb 2
    web = compute_budget(pts, cfg(), now).scope("web")
    assert web.spend_month == D("6")  # Feb 1, 2, 3 at 12:00
    assert web.estimated


def test_deleted_vm_counts_until_deletion_and_not_in_forecast() -> None:
    created = datetime(2026, 2, 1, 6, tzinfo=UTC)
    now = datetime(2026, 2, 10, tzinfo=UTC)
    gone = billed_history("0xa", "web-a1", D("1"), created, datetime(2026, 2, 4, tzinfo=UTC))
    alive = billed_history("0xz", "zz-1", D("0.1"), created, now)
    r = compute_budget(gone + alive, cfg(), now)
    web = r.scope("web")
    assert web.spend_month == D("3") and web.vms == 0 and web.running == 0
    assert web.forecast_month == D("3") and web.reserves == 0


def test_thresholds_on_actual_and_forecast_change_at_the_month_boundary() -> None:
    """Late January the fleet has overspent; on Feb 1 the actual alert clears, the
    forecast one stays because the run rate still projects past the budget."""
    created = datetime(2026, 1, 1, 0, 30, tzinfo=UTC)
    config = cfg()
    with freeze_time("2026-01-31 20:00:00") as frozen:
        now = SystemClock().now()
        pts = billed_history("0xa", "web-a1", D("1.5"), created, now + 2 * DAY)
        jan = compute_budget(pts, config, now)
        alerts, fams = evaluate_rules(RuleInputs(budget=jan), config)
        keys = {a.key: a for a in alerts}
        assert jan.scope("web").spend_month == D("46.5")  # 31 charges
        assert keys["budget.actual:web"].level == 1.0
        assert keys["budget.forecast:web"].level == 1.0
        assert "budget.actual:total" not in keys  # 46.5 of 100 is below 50 %
        frozen.move_to("2026-02-01 01:00:00")
        now = SystemClock().now()
        feb = compute_budget(pts, config, now)
        alerts, _ = evaluate_rules(RuleInputs(budget=feb), config)
        keys = {a.key: a for a in alerts}
        assert feb.scope("web").spend_month == D("1.5")  # Feb 1 00:30
        assert "budget.actual:web" not in keys
        # 1.5 + 27 × 1.5 = 42 ≥ 40: still forecast over budget
        assert feb.scope("web").forecast_month == D("42")
        assert keys["budget.forecast:web"].level == 1.0
    assert {"budget.actual", "budget.forecast"} <= fams


def test_price_trend_raises_the_forecast() -> None:
    now = datetime(2026, 2, 15, tzinfo=UTC)  # 14 epochs left
    pts = billed_history("0xa", "web-a1", D("0.5"), datetime(2026, 2, 10, 1, tzinfo=UTC), now)
    flat = compute_budget(pts, cfg(), now).scope("web")
    up = compute_budget(pts, cfg(), now, slopes={"web": D("0.1")}).scope("web")
    assert up.forecast_month - flat.forecast_month == D("0.1") * 14 * 14 / 2
    down = compute_budget(pts, cfg(), now, slopes={"web": D("-10")}).scope("web")
    assert down.forecast_month == down.spend_month  # never projects negative spend


def test_month_bounds_handles_leap_february() -> None:
    s, e = month_bounds(datetime(2028, 2, 29, 23, tzinfo=UTC))
    assert (s.day, e.month, e.day) == (1, 3, 1)


def test_fleet_thresholds_are_validated_with_the_key_path() -> None:
    import pytest

    from optimizer.errors import ConfigError

    with pytest.raises(ConfigError, match=r"fleets\[0\]\.budget\.thresholds: .*fractions"):
        cfg_data = {"fleets": [{"name": "web", "instances": 1, "os_image": "https://x/i.img",
                                "ssh_keys": ["k"], "budget": {"thresholds": [80]}}]}  # fmt: skip
        parse_config(cfg_data)
