"""Chaos: the real daemon (act mode) against a faulty simulator over loopback HTTP, killed
with SIGKILL 50 times at seeded moments — on a timer, and inside estimate/deploy/DELETE/
list requests, before or after they took effect — and restarted each time. Afterwards
nothing leaked, nothing was deployed twice, the footprint stayed bounded, the foreign VMs
were left alone, the fleet converged onto the cheapest eligible offers, spend matches a
fault-free run over the epoch, and the SQLite file is intact. See tests/reliability/chaos.py.

On the cloud generation (the simulator's cloud face) the same harness runs shorter; there
the disks and public IPs created with the fleet's VMs must also be gone within the
reaper's grace of their VM, and the hand-made disk and IP must be left alone."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from tests.reliability.chaos import ChaosParams, finish_baseline, run_chaos, start_baseline

pytestmark = [pytest.mark.chaos, pytest.mark.http]


def test_daemon_survives_sigkill_at_every_executor_step(tmp_path: Path) -> None:
    """50 kills: no orphan, no duplicate, footprint ≤ instances + max_surge, foreign VMs
    untouched, convergence, spend over the epoch within 5 % of the same run without faults."""
    p = ChaosParams(seed=11, kills=50)  # the provider also terminates two fleet VMs mid-run
    baseline = start_baseline(p)  # the same scenario without faults, in parallel
    try:
        r = run_chaos(tmp_path, p)
    finally:
        billed, accrued = finish_baseline(baseline)
    summary = (
        f"kills={r.kills} by step={dict(r.kills_by_step)} faults={dict(r.faults_by_kind)} "
        f"actions={dict(r.actions_by_state)} final={r.final_vms} cheapest={r.cheapest_slots} "
        f"avoided={r.avoided}"
    )
    if r.crashes:  # unexpected errors end the process (systemd restarts it): show them
        print("daemon exits without a kill:", r.exits, *r.crashes, sep="\n")
    assert r.exits == 0 and r.crashes == [], summary  # only our SIGKILLs end a daemon

    assert r.warmed_up, f"the fleet was not in service before the kills: {summary}"
    assert r.kills >= 50, summary
    # kills landed inside requests on both sides of their effect, and during journal steps
    landed = set(r.kills_by_step)
    assert len(landed) >= 6, summary
    assert landed & {"deploy:before", "deploy:after"}, summary
    assert landed & {"delete_vms:before", "delete_vms:after"}, summary
    assert any(k.endswith(":launching") for k in landed), summary
    assert sum(r.faults_by_kind.values()) >= 5, summary

    assert r.orphans == [], summary
    assert r.unwanted == [], summary
    assert r.duplicates == {}, summary
    assert r.untracked_names == [], summary
    assert r.footprint_samples > 100
    assert r.max_footprint <= p.instances + p.max_surge, summary
    assert r.foreign_ok
    # on the cheapest eligible offers: only a datacenter's own launch failure (a VM the
    # provider terminated before it went Active) may keep the fleet away from one
    assert r.converged, f"not converged after {r.converge_seconds:.1f}s: {summary}"
    assert len(r.final_vms) == p.instances and all(s == "Active" for _, s, _ in r.final_vms)
    assert r.migrations_done >= 1, summary  # the cheap offer was taken despite the kills
    assert r.integrity == "ok"

    # Spend over the whole epoch, pro rata, against the same scenario without faults or
    # kills: a leaked or duplicated VM would show as more, a fleet left short as less;
    # delays only shift when the cheap offer is reached.
    assert accrued > 0
    diff = (r.accrued - accrued) / accrued
    print(f"spend: accrued {r.accrued} vs {accrued} without faults ({diff:+.1%}); "
          f"billed {r.spend} vs {billed}")  # fmt: skip
    assert abs(diff) <= Decimal("0.05"), f"accrued {r.accrued} vs {accrued}; {summary}"


#: the cloud face, shorter (~60 s): 2 VMs, surge 1, a cluster that turns much cheaper after
#: one simulated hour, a provider termination after two, 12 kills. A cloud tick makes more
#: requests than a v3 one (clusters, prices, resources, disks, IPs), so time runs slower,
#: a daemon lives a little longer between kills and each request fails less often (a tick
#: still meets a fault about every other time).
CLOUD = ChaosParams(
    api="cloud",
    fault_rate=0.06,
    seed=5,
    kills=12,
    instances=2,
    factor=400.0,
    life=(0.4, 2.5),
    duration=timedelta(hours=5),
    cheap_offer_after=timedelta(hours=1),
    terminations=(timedelta(hours=2),),
    warmup_timeout=20.0,
    converge_timeout=25.0,
)


def test_cloud_daemon_survives_sigkill_and_leaves_nothing_billing(tmp_path: Path) -> None:
    """12 kills on the cloud face: no orphan, no duplicate, never more than 3 VMs, foreign
    VMs, disks and IPs untouched, no disk or IP of ours billing past the reaper's grace
    after its VM once the daemon runs undisturbed, convergence onto the cheap cluster,
    spend no more than 10 % over a fault-free run."""
    p = CLOUD
    baseline = start_baseline(p)
    try:
        r = run_chaos(tmp_path, p)
    finally:
        billed, _ = finish_baseline(baseline)
    summary = (
        f"kills={r.kills} by step={dict(r.kills_by_step)} faults={dict(r.faults_by_kind)} "
        f"actions={dict(r.actions_by_state)} final={r.final_vms} cheapest={r.cheapest_slots} "
        f"late={r.late_resources} longest after its VM={r.longest_after_vm} "
        f"footprint={r.max_footprint} wall={r.wall_seconds:.0f}s"
    )
    if r.crashes:
        print("daemon exits without a kill:", r.exits, *r.crashes, sep="\n")
    assert r.exits == 0 and r.crashes == [], summary
    assert r.warmed_up, f"the fleet was not in service before the kills: {summary}"
    assert r.kills >= p.kills, summary  # where they land depends on the machine's pace
    assert sum(r.faults_by_kind.values()) >= 3, summary

    assert r.orphans == [] and r.unwanted == [], summary
    assert r.duplicates == {} and r.untracked_names == [], summary
    assert r.max_footprint <= p.instances + p.max_surge, summary
    assert r.foreign_ok, summary  # foreign VMs, their disks and IPs, a spare disk and IP
    # nothing of ours billed past the reaper's grace (and a tick or two) after its VM ended,
    # counted from when the daemon runs undisturbed again: a killed daemon deletes nothing
    assert r.late_resources == [], summary
    assert r.converged, f"not converged after {r.converge_seconds:.1f}s: {summary}"
    assert len(r.final_vms) == p.instances and all(s == "launched" for _, s, _ in r.final_vms)
    assert r.migrations_done >= 1, summary
    assert r.integrity == "ok"
    # per-second billing is pro rata already: what the fleet's VMs, disks and IPs were
    # billed over the same span as the same scenario without faults or kills, without what
    # disks and IPs billed after their VM ended: a killed daemon reaps nothing, and how
    # long that lasts is bounded above (late_resources); with a disk and IP costing more
    # per hour than this VM, one such hour alone would be +9 % of the fleet's 5 h
    vm_life = r.spend_in_span - r.after_vm_in_span
    diff = (vm_life - billed) / billed
    print(
        f"{summary}\nspend {r.spend_in_span} ({r.after_vm_in_span} by disks and IPs after "
        f"their VM) vs {billed} without faults, like for like {diff:+.1%}"
    )
    # a leaked or duplicated VM, disk or IP shows as more; a fleet left short as less - and
    # over 5 h a replacement that came an hour late (the daemon was being killed) is -10 %
    assert Decimal("-0.25") <= diff <= Decimal("0.10"), summary
