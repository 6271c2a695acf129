"""Wall time of `fluence-optimizer demo` (the real daemon loop on the simulator).

    python tests/benchmarks/bench_demo.py [DAYS] [RUNS]     # default: 30 days, 3 runs

Prints each run and the median: simulated days, daemon ticks, wall seconds of the whole
command (the daemon's run and the counterfactual run without migrations) and of the
daemon's run alone. Figures, not pass/fail (the target is about a minute for 30 days).
"""

from __future__ import annotations

import io
import statistics
import sys
import tempfile
import time
from pathlib import Path

from rich.console import Console

from optimizer.daemon.demo import run_demo


def main() -> None:
    days = float(sys.argv[1]) if len(sys.argv) > 1 else 30.0
    runs = int(sys.argv[2]) if len(sys.argv) > 2 else 3
    walls = []
    for i in range(runs):
        t0 = time.monotonic()
        with tempfile.TemporaryDirectory() as tmp:
            s = run_demo(
                seed=7,
                days=days,
                workdir=Path(tmp),
                progress=False,
                console=Console(file=io.StringIO()),
            )
        total = time.monotonic() - t0
        walls.append(total)
        print(
            f"run {i + 1}: {days:g} days, {s.ticks} ticks, {total:.1f} s wall in all "
            f"({s.wall_seconds:.1f} s the daemon's run and its report, the rest the run "
            f"without migrations); cost {s.actual:.2f} vs {s.without_migrations:.2f} "
            "without migrations"
        )
    print(f"median: {statistics.median(walls):.1f} s wall for {days:g} simulated days")


if __name__ == "__main__":
    main()
