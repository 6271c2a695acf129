"""Long chaos run: the real daemon killed with SIGKILL N times against a faulty simulator.

    python tests/benchmarks/chaos_long.py --kills 200 --seed 3 [--fault-rate 0.15]
    python tests/benchmarks/chaos_long.py --api cloud --kills 50 [--mode recommend]

Prints: kills survived (and where they landed), faults injected by kind, VMs leaked,
duplicate deploys, footprint, convergence, spend against the same run without faults,
and the SQLite integrity check; on the cloud face (`--api cloud`) also the disks and IPs
of ours that billed longer than the grace after their VM. Same harness as
tests/reliability/test_chaos.py (see tests/reliability/chaos.py); figures, not
pass/fail — but it exits 1 if anything leaked.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from tests.reliability.chaos import (  # noqa: E402
    ChaosParams,
    finish_baseline,
    run_chaos,
    start_baseline,
)
from tests.reliability.test_chaos import CLOUD  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--kills", type=int, default=200)
    ap.add_argument("--seed", type=int, default=11)
    ap.add_argument("--fault-rate", type=float, default=None, help="default: the test's")
    ap.add_argument("--hours", type=float, default=None, help="simulated span compared for "
                    "spend (default: the test's, 24 on marketplace-v3, 5 on cloud)")  # fmt: skip
    ap.add_argument("--dir", type=Path, default=None, help="keep the database and log here")
    ap.add_argument("--api", choices=("marketplace-v3", "cloud"), default="marketplace-v3")
    ap.add_argument("--mode", choices=("act", "recommend"), default="act")
    a = ap.parse_args()
    # the test's scenario for that API generation, with these overrides
    p = replace(CLOUD if a.api == "cloud" else ChaosParams(), seed=a.seed, kills=a.kills,
                mode=a.mode)  # fmt: skip
    if a.fault_rate is not None:
        p = replace(p, fault_rate=a.fault_rate)
    if a.hours is not None:
        p = replace(p, duration=timedelta(hours=a.hours))
    work = a.dir or Path(tempfile.mkdtemp(prefix="chaos-"))
    baseline = start_baseline(p)
    r = run_chaos(work, p)
    billed, accrued = finish_baseline(baseline, timeout=600)
    leaked = len(r.orphans) + len(r.unwanted)
    dup = sum(c - 1 for c in r.duplicates.values())
    print(f"kills survived:      {r.kills} (lives that exited on their own: {r.exits})")
    for step, n in sorted(r.kills_by_step.items(), key=lambda kv: -kv[1]):
        print(f"  killed at {step:<28} {n}")
    print(f"faults injected:     {sum(r.faults_by_kind.values())}")
    for kind, n in sorted(r.faults_by_kind.items(), key=lambda kv: -kv[1]):
        print(f"  {kind:<28}        {n}")
    print(f"VMs leaked:          {leaked}  (orphans {r.orphans}, unwanted {r.unwanted})")
    print(f"duplicate deploys:   {dup}  (names without a journal action: {r.untracked_names})")
    print(f"max footprint:       {r.max_footprint} (bound {p.instances + p.max_surge}, "
          f"{r.footprint_samples} samples)")  # fmt: skip
    also = " (VMs, disks and IPs)" if a.api == "cloud" else ""
    print(f"foreign VMs intact:  {r.foreign_ok}{also}")
    if a.api == "cloud":
        print(f"late disks/IPs:      {len(r.late_resources)} (grace {p.resource_grace} after "
              f"their VM or the last kill) {r.late_resources[:5]}; longest after its VM, "
              f"kills included: {r.longest_after_vm}")  # fmt: skip
    print(f"warm-up:             fleet {'deployed' if r.warmed_up else 'NOT deployed'} in "
          f"{r.warmup_seconds:.1f} s before the first kill")  # fmt: skip
    print(f"converged:           {r.converged} ({r.converge_seconds:.1f} s after the last kill)")
    print(f"journal actions:     {dict(r.actions_by_state)}")
    hours = p.duration.total_seconds() / 3600
    if a.api == "cloud":  # billed per second: the span's bill is pro rata already
        vm_life = r.spend_in_span - r.after_vm_in_span  # the baseline's billed is like it
        diff = f"{(vm_life - billed) / billed:+.1%}" if billed else "n/a"
        print(f"spend ({hours:g} h):       billed {r.spend_in_span} vs {billed} without "
              f"faults ({diff})")  # fmt: skip
    else:
        diff = f"{(r.accrued - accrued) / accrued:+.1%}" if accrued else "n/a"
        print(f"spend ({hours:g} h):       accrued {r.accrued} vs {accrued} without faults "
              f"({diff}); billed {r.spend} vs {billed}")  # fmt: skip
    print(f"integrity_check:     {r.integrity}")
    print(f"wall time:           {r.wall_seconds:.0f} s; files in {work}")
    for c in r.crashes[:3]:
        print("unexpected exit:\n" + c)
    bad = (
        leaked
        or dup
        or r.untracked_names
        or r.late_resources
        or not r.foreign_ok
        or r.integrity != "ok"
    )
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
