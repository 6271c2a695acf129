"""The planner under each billing model: per-second billing (the cloud API) cuts over as
soon as the new VM is up and counts only the minutes both VMs exist; the balance floor
(or the deposits) stop a plan from creating what the balance cannot pay for; a fleet's
hourly price cap. Epoch-deal figures are the rest of this folder's tests, unchanged."""

from __future__ import annotations

from datetime import timedelta

from planner_helpers import NOW, D, fleet, market, offer, plan, vm

from optimizer.billing import EPOCH_DEAL, PER_SECOND
from optimizer.planner import BudgetState, LaunchStats

LEAD = LaunchStats(lead_time=timedelta(minutes=10))


def _migration(p):
    return next((a for a in p.actions if a.kind == "migrate"), None)


def test_per_second_migration_cuts_over_when_up_without_waiting_for_a_boundary() -> None:
    # align_to_billing is on (the default) and the VM has a billing time: ignored here
    p = plan(
        fleet(instances=1),
        [vm("a", "2.40", billing_in_h=6)],
        market(offer("x", "1.20", dc="NL-AMS-1")),
        launch=LEAD,
        billing=PER_SECOND,
    )
    m = _migration(p)
    assert m is not None
    assert m.not_before == NOW and m.cutover_at is None
    assert m.reason.startswith("$0.10 → $0.05/h in NL-AMS-1")
    assert "cutover as soon as the new VM is up" in m.reason
    for word in ("epoch", "charge", "deposit", "reserve"):
        assert word not in m.reason
    assert p.deposits_needed == 0  # nothing is prepaid


def test_per_second_overlap_and_payback_count_the_minutes_both_vms_exist() -> None:
    f = fleet(instances=1, policy={"payback_epochs": 3})
    p = plan(f, [vm("a", "2.40")], market(offer("x", "1.20")), launch=LEAD, billing=PER_SECOND)
    m = _migration(p)
    overlap = D("1.20") * 600 / 86400  # ten minutes of the new VM: $0.008333
    assert m.saving_per_epoch == D("1.20")
    assert m.saving_over_horizon == D("1.20") * 3 - overlap.quantize(D("0.000001"))
    assert "pays back overlap $0.0083 in 0.2 h" in m.reason  # 0.01 epochs


def test_health_wait_is_said_and_paid_for_where_the_cutover_is_not_aligned() -> None:
    f = fleet(instances=1, policy={"payback_epochs": 3, "cutover_health_wait": "90m"})
    p = plan(f, [vm("a", "2.40")], market(offer("x", "1.20")), launch=LEAD, billing=PER_SECOND)
    m = _migration(p)
    assert m is not None and m.cutover_at is None
    assert m.reason.endswith("; cutover once the new VM has been up for 1 h 30 min")
    overlap = D("1.20") * 6000 / 86400  # the lead time and the wait: 100 minutes
    assert m.saving_over_horizon == D("1.20") * 3 - overlap.quantize(D("0.000001"))


def test_health_wait_leaves_a_billing_aligned_move_as_it_is() -> None:
    def move(wait: str):
        f = fleet(instances=1, policy={"cutover_health_wait": wait})
        p = plan(f, [vm("a", "2.40", billing_in_h=6)], market(offer("x", "1.20")), launch=LEAD)
        return _migration(p)

    waited, plain = move("30m"), move("0s")
    assert waited is not None and plain is not None
    assert (waited.cutover_at, waited.saving_over_horizon, waited.reason) == (
        plain.cutover_at,
        plain.saving_over_horizon,
        plain.reason,
    )
    assert "just before its next charge" in waited.reason


def test_a_move_epoch_deals_refuse_pays_back_at_once_per_second() -> None:
    # epoch deal, not aligned: 20 h of the old VM's paid epoch are lost, one epoch of saving
    # does not pay that back (test_unaligned_migration_pays_for_unused_old_epoch)
    f = fleet(instances=1, policy={"align_to_billing": False, "payback_epochs": 1})
    vms, m = [vm("a", "1.00", billing_in_h=20)], market(offer("x", "0.50"))
    epoch = plan(f, vms, m, launch=LEAD, billing=EPOCH_DEAL)
    assert _migration(epoch) is None and "pays back in" in epoch.verdicts[0].reason
    per_second = plan(f, vms, m, launch=LEAD, billing=PER_SECOND)
    assert _migration(per_second) is not None


def test_per_second_reasons_speak_hours() -> None:
    f = fleet(instances=1, policy={"payback_epochs": 0.05, "min_savings_pct": 1})
    p = plan(f, [vm("a", "2.40")], market(offer("x", "2.16")), launch=LEAD, billing=PER_SECOND)
    (v,) = p.verdicts
    assert v.decision == "stay"
    assert "could move to FR-PAR-1 at $0.09" in v.reason
    assert "pays back in 1.4 h, more than payback_epochs 0.05 (1.2 h)" in v.reason
    assert "epochs," not in v.reason


def test_the_six_hour_floor_blocks_a_migration_with_a_plain_reason() -> None:
    # the account burns $0.10/h; with the new VM ($0.05/h) 6 h need $0.90
    vms, m = [vm("a", "2.40")], market(offer("x", "1.20", dc="NL-AMS-1"))
    short = BudgetState(spend_per_epoch=D("2.40"), balance_usd=D("0.89"))
    p = plan(fleet(instances=1), vms, m, launch=LEAD, budget=short, billing=PER_SECOND)
    assert _migration(p) is None
    (v,) = p.verdicts
    assert v.decision == "stay"
    assert "the balance $0.89 would not cover 6 h of all the account's resources" in v.reason
    assert "$0.90" in v.reason
    enough = BudgetState(spend_per_epoch=D("2.40"), balance_usd=D("0.90"))
    p = plan(fleet(instances=1), vms, m, launch=LEAD, budget=enough, billing=PER_SECOND)
    assert _migration(p) is not None


def test_the_floor_counts_disks_and_ips_in_the_burn() -> None:
    # the VMs cost $0.10/h but the account's detached disks and IPs add $0.10/h more
    vms, m = [vm("a", "2.40")], market(offer("x", "1.20", dc="NL-AMS-1"))
    b = BudgetState(spend_per_epoch=D("2.40"), burn_per_epoch=D("4.80"), balance_usd=D("1.00"))
    p = plan(fleet(instances=1), vms, m, launch=LEAD, budget=b, billing=PER_SECOND)
    assert _migration(p) is None and "$1.50" in p.verdicts[0].reason


def test_the_floor_stops_deploys_the_balance_cannot_carry() -> None:
    # each new VM adds $0.05/h: one needs $0.30 of balance, two need $0.60
    b = BudgetState(balance_usd=D("0.45"))
    p = plan(fleet(instances=2), [], market(offer("x", "1.20")), budget=b, billing=PER_SECOND)
    assert [a.kind for a in p.actions] == ["deploy"]
    assert any("1 VM(s) not deployed: the balance $0.45" in n for n in p.notes)


def test_unknown_balance_is_not_checked() -> None:
    p = plan(fleet(instances=2), [], market(offer("x", "1.20")), billing=PER_SECOND)
    assert [a.kind for a in p.actions] == ["deploy", "deploy"]


def test_epoch_deals_need_the_deposits_when_the_balance_is_known() -> None:
    vms, m = [vm("a", "1.00")], market(offer("x", "0.50", dc="NL-AMS-1"))
    f = fleet(instances=1)
    p = plan(f, vms, m, launch=LEAD, budget=BudgetState(balance_usd=D("0.99")))
    assert _migration(p) is None
    assert "does not cover the deposits of the new VMs ($1.00: 2 epochs of each)" in (
        p.verdicts[0].reason
    )
    p = plan(f, vms, m, launch=LEAD, budget=BudgetState(balance_usd=D("1.00")))
    assert _migration(p) is not None


def test_an_hourly_cap_bounds_every_vm_of_the_fleet() -> None:
    # $0.03/h = $0.72 per 24 h, disk and IP included in the offer's price
    f = fleet(instances=1, constraints={"max_price_per_hour_usd": "0.03"})
    too_dear = plan(f, [], market(offer("x", "0.73")), billing=PER_SECOND)
    assert not too_dear.actions and "no allowed offer" in too_dear.notes[0]
    ok = plan(f, [], market(offer("x", "0.72")), billing=PER_SECOND)
    assert [a.kind for a in ok.actions] == ["deploy"]


def test_a_migration_target_stays_under_the_hourly_cap() -> None:
    f = fleet(
        instances=1,
        constraints={"max_price_per_hour_usd": "0.05", "max_price_per_epoch_usd": "2"},
    )
    p = plan(
        f,
        [vm("a", "2.40")],
        market(offer("x", "1.30", dc="NL-AMS-1"), offer("y", "1.10", dc="DE-FRA-1", cap=0)),
        launch=LEAD,
        billing=PER_SECOND,
    )
    assert _migration(p) is None  # 1.30 > 24 × 0.05; the cheaper one has no capacity
    assert p.verdicts[0].reason.startswith("pays $0.10/h")


def test_a_per_second_plan_is_shown_per_hour_without_deposits(capsys) -> None:
    from optimizer.cli.fleets_cmd import _render
    from optimizer.planner.report import plan_dict

    p = plan(fleet(instances=1), [vm("a", "2.40")], market(offer("x", "1.20")), billing=PER_SECOND)
    assert plan_dict(p)["billing"] == "per-second"
    _render(p)
    out = capsys.readouterr().out
    assert "$0.100000/h now → $0.050000/h planned" in out
    assert "USD/h" in out and "deposit" not in out and "/epoch" not in out
    v3 = plan(fleet(instances=1), [vm("a", "2.40")], market(offer("x", "1.20")))
    assert plan_dict(v3)["billing"] == "epoch-deal"
    _render(v3)
    assert "$2.4000/epoch now → $1.2000/epoch planned; cash needed $2.4000 in deposits" in (
        capsys.readouterr().out
    )
