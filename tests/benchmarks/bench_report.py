"""Benchmark: a year of hourly snapshots of 500 offers (~4.4 M observations) in the real
store → analysis → the HTML report. Prints figures; asserts nothing.

    python tests/benchmarks/bench_report.py [--runs 3] [--offers 500] [--days 365]
                                            [--workdir /tmp/bench-report]

The history is generated synthetically (optimizer.analysis.synthetic, a piecewise-constant
random walk per offer, with offers vanishing and coming back) and bulk-written into the
store's change-only tables exactly as ingest would leave them. Two stores are measured:

- raw:    every snapshot still raw (no retention roll-up): the worst case, the report
          expands all 4.4 M observations from the price intervals;
- rolled: the default retention (raw_days = 35): older epochs rolled up into offer_epoch
          by optimizer.store.retention.roll_up, as a long-running daemon's store looks.

Each measured run is a fresh process (so its peak RSS is its own): open the store, load
the window's per-epoch history (optimizer.store.analysis_queries.market_history), analyze,
render the HTML report, write it. Figures are the median of --runs runs. Targets from the
issue: under 15 s wall and under 1.5 GiB peak RSS.
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import statistics
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd

START = datetime(2025, 1, 1, tzinfo=UTC)


def build_store(url: str, offers: int, days: int) -> dict[str, float]:
    """Generate the history and bulk-write it into a fresh store at `url`."""
    import sqlalchemy as sa

    from optimizer.analysis.synthetic import synthetic_observations
    from optimizer.store.engine import open_store
    from optimizer.store.tables.market import offer_price_table, offer_table, snapshot_table

    t0 = time.perf_counter()
    n_snap = days * 24
    obs = synthetic_observations(start=START, snapshots=n_snap, offers=offers, seed=7)
    t_gen = time.perf_counter() - t0

    t1 = time.perf_counter()
    snap_ts = pd.date_range(START, periods=n_snap, freq="1h").as_unit("ns")
    snap_idx = np.searchsorted(
        snap_ts.asi8, obs["ts"].to_numpy(dtype="datetime64[ns]").astype("int64")
    )
    codes, keys = pd.factorize(obs["offer_key"])
    order = np.lexsort((snap_idx, codes))
    o, s = codes[order], snap_idx[order]
    price = np.rint(obs["price_usd"].to_numpy()[order] * 1e6).astype("int64")
    cap = obs["capacity"].to_numpy()[order]
    new = np.ones(o.size, dtype=bool)
    new[1:] = (
        (o[1:] != o[:-1])
        | (s[1:] - s[:-1] != 1)
        | (price[1:] != price[:-1])
        | (cap[1:] != cap[:-1])
    )
    starts = np.flatnonzero(new)
    ends = np.append(starts[1:] - 1, o.size - 1)
    to_ids = s[ends] + 1
    intervals = [
        {"offer_id": int(oid) + 1, "price_micros": int(p), "capacity": int(c),
         "from_snapshot_id": int(f) + 1, "to_snapshot_id": None if t == n_snap else int(t)}
        for oid, p, c, f, t in zip(o[starts], price[starts], cap[starts], s[starts], to_ids,
                                   strict=True)
    ]  # fmt: skip
    first = obs.groupby("offer_key", sort=False)["ts"].agg(["min", "max"])
    attrs = obs.drop_duplicates("offer_key").set_index("offer_key")
    offer_rows = []
    for i, key in enumerate(keys):
        a = attrs.loc[key]
        offer_rows.append(
            {"id": i + 1, "key": key, "configuration": a["configuration"],
             "vcpu": int(a["vcpu"]), "ram_gb": int(a["ram_gb"]), "storage_gb": 25,
             "country": a["country"], "city": a["city"], "city_index": 1,
             "datacenter": a["datacenter"], "tier": 3, "certifications": "",
             "first_seen": first.loc[key, "min"].to_pydatetime(),
             "last_seen": first.loc[key, "max"].to_pydatetime()}
        )  # fmt: skip
    listed = np.bincount(snap_idx, minlength=n_snap)
    snap_rows = [
        {"id": i + 1, "taken_at": ts.to_pydatetime(), "duration_ms": 150,
         "offer_count": int(listed[i]), "outcome": "ok", "error": None}
        for i, ts in enumerate(snap_ts)
    ]  # fmt: skip
    engine = open_store(url)
    with engine.begin() as conn:
        conn.execute(sa.insert(snapshot_table), snap_rows)
        conn.execute(sa.insert(offer_table), offer_rows)
        for i in range(0, len(intervals), 50_000):
            conn.execute(sa.insert(offer_price_table), intervals[i : i + 50_000])
    engine.dispose()
    return {
        "observations": float(len(obs)),
        "intervals": float(len(intervals)),
        "generate_s": t_gen,
        "write_s": time.perf_counter() - t1,
    }


def peak_rss_kib() -> int:
    """This process's peak RSS. VmHWM belongs to the address space created by exec, while
    ru_maxrss would carry over the parent's peak from before the fork."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def measured_run(url: str, days: int, out: Path) -> None:
    """One measured report run; prints a JSON line of figures (child process)."""
    t0 = time.perf_counter()
    from optimizer.analysis import analyze_history
    from optimizer.report import render_html
    from optimizer.store.analysis_queries import market_history
    from optimizer.store.engine import open_store

    t_import = time.perf_counter() - t0
    now = START + timedelta(days=days) - timedelta(minutes=30)
    engine = open_store(url)
    t1 = time.perf_counter()
    history = market_history(engine, now - timedelta(days=days), now)
    t2 = time.perf_counter()
    analysis = analyze_history(history, now=now)
    t3 = time.perf_counter()
    html = render_html(analysis, generated_at=now)
    out.write_text(html, encoding="utf-8")
    t4 = time.perf_counter()
    engine.dispose()
    rss_kib = peak_rss_kib()
    print(json.dumps({
        "wall_s": t4 - t0, "import_s": t_import, "load_s": t2 - t1, "analyze_s": t3 - t2,
        "render_s": t4 - t3, "peak_rss_mib": rss_kib / 1024,
        "offer_epochs": len(history.offer_epochs), "html_kib": len(html) / 1024,
    }))  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--offers", type=int, default=500)
    ap.add_argument("--days", type=int, default=365)
    ap.add_argument("--workdir", type=Path, default=Path("/tmp/bench-report"))
    ap.add_argument("--reuse", action="store_true", help="reuse stores built by a former run")
    ap.add_argument("--child", nargs=2, metavar=("URL", "OUT"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        measured_run(args.child[0], args.days, Path(args.child[1]))
        return

    from optimizer.store.engine import open_store
    from optimizer.store.retention import roll_up

    work = args.workdir
    raw_db, rolled_db = work / "raw.db", work / "rolled.db"
    if args.reuse and raw_db.exists() and rolled_db.exists():
        print(f"reusing {raw_db} and {rolled_db}")
        measure(args, work, raw_db, rolled_db)
        return
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    print(f"building: {args.days} days of hourly snapshots of {args.offers} offers ...")
    built = build_store(f"sqlite:///{raw_db}", args.offers, args.days)
    print(f"  {built['observations']:,.0f} observations stored as {built['intervals']:,.0f} "
          f"price intervals (generate {built['generate_s']:.1f} s, write "
          f"{built['write_s']:.1f} s); {raw_db.stat().st_size / 2**20:.0f} MiB")  # fmt: skip
    shutil.copy(raw_db, rolled_db)
    t = time.perf_counter()
    engine = open_store(f"sqlite:///{rolled_db}")
    now = START + timedelta(days=args.days) - timedelta(minutes=30)
    summary = roll_up(engine, now, raw_days=35)
    engine.dispose()
    print(f"  roll-up to raw_days=35: {summary.epochs_rolled} epochs, "
          f"{summary.epoch_rows_written:,} offer-epoch rows in "
          f"{time.perf_counter() - t:.1f} s")  # fmt: skip
    measure(args, work, raw_db, rolled_db)


def measure(args: argparse.Namespace, work: Path, raw_db: Path, rolled_db: Path) -> None:
    for name, db in (("raw", raw_db), ("rolled", rolled_db)):
        runs = []
        for i in range(args.runs):
            res = subprocess.run(
                [sys.executable, __file__, "--days", str(args.days), "--child",
                 f"sqlite:///{db}", str(work / f"report-{name}-{i}.html")],
                capture_output=True, text=True, check=True,
            )  # fmt: skip
            runs.append(json.loads(res.stdout.strip().splitlines()[-1]))
        med = {k: statistics.median(r[k] for r in runs) for k in runs[0]}
        print(
            f"{name:>6}: wall {med['wall_s']:.2f} s (load {med['load_s']:.2f}, analyze "
            f"{med['analyze_s']:.2f}, render {med['render_s']:.2f}, imports "
            f"{med['import_s']:.2f}); peak RSS {med['peak_rss_mib']:.0f} MiB; "
            f"{med['offer_epochs']:,.0f} offer-epochs; report {med['html_kib']:.0f} KiB "
            f"(median of {args.runs})"
        )
    print("targets: wall < 15 s, peak RSS < 1536 MiB")


if __name__ == "__main__":
    main()
