"""Store benchmark: ingest speed, bytes per offer-snapshot, a year of history, and the
obvious approach side by side. Prints figures; asserts nothing.

    python tests/benchmarks/bench_store.py              # full run (~15 min on 2 cores)
    python tests/benchmarks/bench_store.py --days 2     # quick look

1. Ingest time of one snapshot of 1k/10k/50k offers (median of 5 steady-state
   snapshots, prices moved by the simulator between them), from parsed Offers (what
   the client hands over) and from the raw JSON bytes, vs. the naive approach
   (`pd.json_normalize` the answer and `DataFrame.to_sql` it whole).
2. A simulated `--days` (30) run at a 15-minute interval with 2,000 offers whose prices
   and capacities move as the simulator moves them, into both stores; bytes on disk per
   offer per snapshot after checkpoint + VACUUM, indexes included.
3. A year of history for 2,000 offers with retention (35 raw days + per-epoch
   aggregates): the 30-day run is rolled up for real to measure bytes per epoch row,
   then 330 days of epoch rows (and the offers that churn through a year) are inserted
   directly, and the file measured.
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import statistics
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

import pandas as pd
import sqlalchemy as sa

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from optimizer.sim import Simulator
from optimizer.store.engine import open_store
from optimizer.store.ingest import ingest_snapshot, parse_offers
from optimizer.store.maintenance import vacuum
from optimizer.store.retention import epoch_of, roll_up
from tests.benchmarks.naive_store import naive_write

STEP = timedelta(minutes=15)


def disk_bytes(path: Path) -> int:
    return sum(p.stat().st_size for p in (path, Path(f"{path}-wal")) if p.exists())


def compact(engine: sa.Engine, path: Path) -> int:
    vacuum(engine)
    return disk_bytes(path)


def naive_compact(engine: sa.Engine, path: Path) -> int:
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.exec_driver_sql("VACUUM")
    return disk_bytes(path)


def bench_ingest(tmp: Path, sizes: list[int], runs: int) -> None:
    print(f"\n== ingest one snapshot (median of {runs}, steady state, prices moving) ==")
    print("wall-clock seconds (CPU seconds of this process in brackets; the machine is shared)")
    print(f"{'offers':>7} {'parsed Offers':>17} {'raw JSON':>9} {'naive':>9} {'naive/ours':>11}")
    for n in sizes:
        sim = Simulator(seed=11, offers=n)
        url = tmp / f"ingest-{n}.db"
        engine = open_store(f"sqlite:///{url}")
        naive_engine = sa.create_engine(f"sqlite:///{tmp / f'naive-{n}.db'}")
        first = sim.offers(None)
        ingest_snapshot(engine, first, sim.now())
        naive_write(naive_engine, first, sim.now())
        ours, cpu, raw_t, naive = [], [], [], []
        for _ in range(runs):
            sim.advance(STEP * 4)  # one simulated hour: every price moves
            wire = sim.offers(None)
            parsed = parse_offers(wire)
            t, c = time.perf_counter(), time.process_time()
            ingest_snapshot(engine, parsed, sim.now())
            ours.append(time.perf_counter() - t)
            cpu.append(time.process_time() - c)
            sim.advance(STEP)
            blob = json.dumps(sim.offers(None)).encode()
            t = time.perf_counter()
            ingest_snapshot(engine, blob, sim.now())
            raw_t.append(time.perf_counter() - t)
            t = time.perf_counter()
            naive_write(naive_engine, json.loads(blob), sim.now())
            naive.append(time.perf_counter() - t)
        mo, mc, mr, mn = (statistics.median(x) for x in (ours, cpu, raw_t, naive))
        print(f"{n:>7} {mo:>7.3f}s ({mc:.3f}s) {mr:>8.3f}s {mn:>8.3f}s {mn / mo:>10.1f}×")
        engine.dispose()
        naive_engine.dispose()


def bench_month(
    tmp: Path, days: int, offers: int, naive_days: int
) -> tuple[Path, sa.Engine, float, int]:
    n_snaps = int(timedelta(days=days) / STEP)
    naive_snaps = int(timedelta(days=naive_days) / STEP)
    print(f"\n== {days} days × 15 min = {n_snaps} snapshots, {offers} offers (simulator) ==")
    sim = Simulator(seed=7, offers=offers)
    path = tmp / "month.db"
    naive_path = tmp / "month-naive.db"
    engine = open_store(f"sqlite:///{path}")
    naive_engine = sa.create_engine(f"sqlite:///{naive_path}")
    ours_t = naive_t = ours_at_naive = 0.0
    listed = changed = naive_listed = 0
    naive = ours_at = 0
    for i in range(n_snaps):
        body = sim.offers_json(None)  # the raw answer, as the daemon stores it
        wire = json.loads(body)
        t = time.perf_counter()
        s = ingest_snapshot(engine, body, sim.now())
        ours_t += time.perf_counter() - t
        listed += s.seen
        changed += s.changed
        if i < naive_snaps:
            t = time.perf_counter()
            naive_write(naive_engine, wire, sim.now())
            naive_t += time.perf_counter() - t
            naive_listed = listed
            if i == naive_snaps - 1:  # same span, both stores compacted
                ours_at_naive, ours_at = ours_t, compact(engine, path)
                naive = naive_compact(naive_engine, naive_path)
        sim.advance(STEP)
        if (i + 1) % 480 == 0:
            print(f"  day {(i + 1) // 96}: {listed:,} offer-snapshots so far", flush=True)
    ours = compact(engine, path)
    with engine.connect() as conn:
        intervals = conn.execute(sa.text("SELECT count(*) FROM offer_price")).scalar_one()
        n_offers = conn.execute(sa.text("SELECT count(*) FROM offer")).scalar_one()
    print(f"offer-snapshots stored: {listed:,} ({changed:,} price/capacity changes, "
          f"{intervals:,} intervals, {n_offers:,} distinct offers)")  # fmt: skip
    print(f"ours : {ours:>13,} bytes = {ours / listed:6.1f} bytes per offer-snapshot, "
          f"ingest total {ours_t:7.1f}s")  # fmt: skip
    if naive_listed:
        print(f"side by side over the first {naive_days} day(s), {naive_listed:,} "
              "offer-snapshots (the naive store grows linearly: no dedupe):")  # fmt: skip
        print(f"  ours : {ours_at:>13,} bytes = {ours_at / naive_listed:6.1f} B/offer-snapshot,"
              f" ingest {ours_at_naive:6.1f}s")  # fmt: skip
        print(f"  naive: {naive:>13,} bytes = {naive / naive_listed:6.1f} B/offer-snapshot,"
              f" write  {naive_t:6.1f}s")  # fmt: skip
        print(f"  ratio: naive is {naive / ours_at:.1f}× bigger and "
              f"{naive_t / ours_at_naive:.1f}× slower; after {days} days naive would be "
              f"≈{naive / naive_listed * listed / ours:.0f}× bigger")  # fmt: skip
    naive_engine.dispose()
    return path, engine, ours / listed, n_offers


def bench_year(
    tmp: Path, month: Path, engine: sa.Engine, days: int, per_snapshot: float, offers: int
) -> None:
    print("\n== a year of history, 2,000 offers, retention raw 35 d + epochs ==")
    # 1. roll the whole measured run up for real: bytes per epoch row
    rolled = tmp / "rolled.db"
    engine.dispose()
    shutil.copy(month, rolled)
    r_engine = open_store(f"sqlite:///{rolled}")
    with r_engine.connect() as conn:
        last = conn.execute(sa.text("SELECT max(taken_at) FROM snapshot")).scalar_one()
    last = pd.Timestamp(last, tz="UTC").to_pydatetime()
    before = compact(r_engine, rolled)
    t = time.perf_counter()
    s = roll_up(r_engine, last + timedelta(days=36), raw_days=35)
    took = time.perf_counter() - t
    after = compact(r_engine, rolled)
    with r_engine.connect() as conn:
        rows = conn.execute(sa.text("SELECT count(*) FROM offer_epoch")).scalar_one()
        offer_bytes_rows = conn.execute(sa.text("SELECT count(*) FROM offer")).scalar_one()
    print(f"roll-up of {days} raw days: {s.epoch_rows_written:,} epoch rows in {took:.1f}s; "
          f"file {before:,} → {after:,} bytes")  # fmt: skip
    # 2. extend to a year: 330 more days of epoch rows, and the offers that churn through
    per_day_new = max(offers - 2000, 0) / days
    year_offers = int(2000 + per_day_new * 365)
    rng = random.Random(1)
    with r_engine.begin() as conn:
        template = conn.execute(sa.text("SELECT * FROM offer LIMIT 1")).mappings().one()
        extra = [
            {**{k: v for k, v in template.items() if k != "id"}, "key": f"synthetic{i:08d}"}
            for i in range(max(year_offers - offer_bytes_rows, 0))
        ]
        if extra:
            conn.execute(sa.text(
                "INSERT INTO offer (key, configuration, vcpu, ram_gb, storage_gb, storage_type,"
                " cpu_manufacturer, cpu_architecture, country, city, city_index, datacenter,"
                " tier, certifications, first_seen, last_seen) VALUES (:key, :configuration,"
                " :vcpu, :ram_gb, :storage_gb, :storage_type, :cpu_manufacturer,"
                " :cpu_architecture, :country, :city, :city_index, :datacenter, :tier,"
                " :certifications, :first_seen, :last_seen)"), extra)  # fmt: skip
        ids = conn.execute(sa.text("SELECT id FROM offer ORDER BY id")).scalars().all()
        first_epoch = conn.execute(sa.text("SELECT min(epoch) FROM offer_epoch")).scalar_one()
        first_epoch = first_epoch or epoch_of(last)
        live_per_day = rows / max(days, 1)
        batch = []
        for d in range(1, 366 - 35 - days + 1):
            epoch = first_epoch - d
            start = int((len(ids) - live_per_day) * (1 - d / 365))
            for oid in ids[start : start + int(live_per_day)]:
                p = rng.randint(200_000, 3_000_000)
                batch.append({"epoch": epoch, "offer_id": oid, "price_min": p - 5000,
                              "price_median": p, "price_max": p + 7000,
                              "capacity_min": rng.randint(0, 8), "capacity_max": 8,
                              "first_seen_s": 0, "last_seen_s": 85500, "samples": 96})  # fmt: skip
        conn.execute(
            sa.text(
                "INSERT INTO offer_epoch VALUES (:epoch, :offer_id, :price_min, :price_median,"
                " :price_max, :capacity_min, :capacity_max, :first_seen_s, :last_seen_s,"
                " :samples)"
            ),
            batch,
        )
    epochs_only = compact(r_engine, rolled)
    with r_engine.connect() as conn:
        total_rows = conn.execute(sa.text("SELECT count(*) FROM offer_epoch")).scalar_one()
    raw_35 = per_snapshot * 2000 * 96 * 35
    print(f"{total_rows:,} epoch rows (~{live_per_day:,.0f} offers/day over 330 days), "
          f"{year_offers:,} offer keys: {epochs_only:,} bytes")  # fmt: skip
    print(f"+ 35 raw days at {per_snapshot:.1f} bytes/offer-snapshot: {raw_35:,.0f} bytes")
    print(
        f"= a year of history for 2,000 offers: {(epochs_only + raw_35) / 1e6:.0f} MB "
        "(steady state: it stops growing after retention.epoch_days)"
    )
    r_engine.dispose()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--days", type=int, default=30)
    ap.add_argument("--offers", type=int, default=2000)
    ap.add_argument("--naive-days", type=int, default=2, help="days the naive store runs too")
    ap.add_argument("--sizes", default="1000,10000,50000")
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--skip-ingest", action="store_true")
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="bench-store-"))
    try:
        if not args.skip_ingest:
            bench_ingest(tmp, [int(s) for s in args.sizes.split(",")], args.runs)
        path, engine, per_snapshot, n_offers = bench_month(
            tmp, args.days, args.offers, min(args.naive_days, args.days)
        )
        bench_year(tmp, path, engine, args.days, per_snapshot, n_offers)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
