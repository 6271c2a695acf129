"""A synthetic price history in the exact shape of `price_observations`, for tests,
benchmarks and report previews when no recorded history is at hand. Deterministic for a
seed; vectorized (a year of hourly snapshots of 500 offers takes about a second)."""

from __future__ import annotations

from datetime import datetime, timedelta

import numpy as np
import pandas as pd

CONFIGURATIONS = (
    ("cpu-2-ram-4gb-storage-25gb", 2, 4, 0.30),
    ("cpu-4-ram-8gb-storage-25gb", 4, 8, 0.58),
    ("cpu-8-ram-16gb-storage-25gb", 8, 16, 1.10),
    ("cpu-16-ram-32gb-storage-25gb", 16, 32, 2.15),
)
DATACENTERS = (
    ("FR", "PAR", 1),
    ("FR", "PAR", 2),
    ("DE", "FRA", 1),
    ("DE", "BER", 1),
    ("NL", "AMS", 1),
    ("US", "NYC", 1),
    ("US", "SJC", 1),
    ("PL", "WAW", 1),
    ("GB", "LON", 1),
    ("SG", "SIN", 1),
)


def synthetic_observations(
    *,
    start: datetime,
    snapshots: int,
    offers: int = 60,
    interval: timedelta = timedelta(hours=1),
    seed: int = 7,
    vanish_rate: float = 0.002,
) -> pd.DataFrame:
    """`snapshots` snapshots, `interval` apart from `start`, of `offers` offers.

    Prices follow a slow random walk (a few percent per day, changing in a minority of
    snapshots) around a per-configuration base scaled by a per-datacenter factor, and
    capacity a small random walk; each
    offer vanishes from a snapshot run with probability `vanish_rate` per snapshot and
    comes back after a few hours. Columns and dtypes follow the price_observations contract.
    """
    rng = np.random.default_rng(seed)
    cfg_idx = rng.integers(0, len(CONFIGURATIONS), offers)
    dc_idx = rng.integers(0, len(DATACENTERS), offers)
    base = np.array([c[3] for c in CONFIGURATIONS])[cfg_idx]
    dc_factor = np.linspace(0.85, 1.25, len(DATACENTERS))[dc_idx]
    offer_factor = rng.uniform(0.9, 1.1, offers)
    level = base * dc_factor * offer_factor

    # piecewise-constant random walk: ~5% of snapshots change the price by ~±1%
    moves = rng.normal(0.0, 0.01, (snapshots, offers)) * (rng.random((snapshots, offers)) < 0.05)
    prices = level * np.exp(np.cumsum(moves, axis=0))
    prices = np.round(prices, 5)
    # capacity: piecewise constant too (a few % of snapshots rent or free an instance)
    steps = rng.choice([-1, 0, 1], p=[0.02, 0.96, 0.02], size=(snapshots, offers))
    capacity = np.clip(rng.integers(3, 30, offers) + np.cumsum(steps, axis=0), 0, None)

    # listing spells: an offer disappears and reappears 1..12 snapshots later
    gone = rng.random((snapshots, offers)) < vanish_rate
    absent = np.zeros((snapshots, offers), dtype=bool)
    rows, cols = np.nonzero(gone)
    spans = rng.integers(1, 13, rows.size)
    for span in range(1, 13):  # vectorized per span length: at most 12 passes
        sel = spans >= span
        r = np.minimum(rows[sel] + span - 1, snapshots - 1)
        absent[r, cols[sel]] = True
    present = ~absent

    t_idx, o_idx = np.nonzero(present)
    ts = pd.to_datetime(pd.Timestamp(start).value + t_idx * pd.Timedelta(interval).value, utc=True)
    cfg = np.array([c[0] for c in CONFIGURATIONS], dtype=object)[cfg_idx]
    vcpu = np.array([c[1] for c in CONFIGURATIONS])[cfg_idx]
    ram = np.array([c[2] for c in CONFIGURATIONS])[cfg_idx]
    country = np.array([d[0] for d in DATACENTERS], dtype=object)[dc_idx]
    city = np.array([d[1] for d in DATACENTERS], dtype=object)[dc_idx]
    dc_label = np.array([f"{d[0]}-{d[1]}-{d[2]}" for d in DATACENTERS], dtype=object)[dc_idx]
    keys = np.array([f"{i:016x}" for i in range(offers)], dtype=object)
    return pd.DataFrame(
        {
            "ts": ts.as_unit("ns"),
            "offer_key": pd.array(keys[o_idx], dtype="str"),
            "configuration": pd.array(cfg[o_idx], dtype="str"),
            "country": pd.array(country[o_idx], dtype="str"),
            "city": pd.array(city[o_idx], dtype="str"),
            "datacenter": pd.array(dc_label[o_idx], dtype="str"),
            "vcpu": vcpu[o_idx].astype("int64"),
            "ram_gb": ram[o_idx].astype("int64"),
            "price_usd": prices[t_idx, o_idx].astype("float64"),
            "capacity": capacity[t_idx, o_idx].astype("int64"),
        }
    )
