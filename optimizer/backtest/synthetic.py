"""A seeded synthetic price history (random walks with jumps and mean reversion), for
benchmarks and tests that need a large history without running the simulator."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd

from optimizer.backtest.prices import PriceHistory, from_frame

CONFIGS = (
    ("cpu-2-ram-4gb-storage-25gb", 2, 4, 0.30),
    ("cpu-4-ram-8gb-storage-25gb", 4, 8, 0.58),
    ("cpu-8-ram-16gb-storage-25gb", 8, 16, 1.10),
    ("cpu-16-ram-32gb-storage-25gb", 16, 32, 2.15),
)
COUNTRIES = ("DE", "FR", "NL", "US", "GB", "PL", "SG", "CA")


def synthetic_history(
    *,
    offers: int = 200,
    days: int = 90,
    interval: timedelta = timedelta(hours=1),
    seed: int = 7,
    start: datetime = datetime(2026, 1, 1, tzinfo=UTC),
    capacity: bool = True,
) -> PriceHistory:
    """`offers` offers observed every `interval` for `days`; prices drift, jump and revert
    toward each offer's base; about 5 % of the offers are listed only part of the time."""
    rng = np.random.default_rng(seed)
    steps = int(timedelta(days=days) / interval)
    conf_i = rng.integers(0, len(CONFIGS), offers)
    base = np.array([CONFIGS[i][3] for i in conf_i]) * rng.uniform(0.8, 1.3, offers)
    # mean-reverting log price with occasional jumps
    x = np.zeros((steps, offers))
    shocks = rng.normal(0, 0.01, (steps, offers))
    jumps = (rng.random((steps, offers)) < 0.002) * rng.normal(0, 0.15, (steps, offers))
    for t in range(1, steps):
        x[t] = 0.995 * x[t - 1] + shocks[t] + jumps[t]
    price = np.round(base * np.exp(x), 5)
    listed = np.ones((steps, offers), dtype=bool)
    partial = rng.random(offers) < 0.05
    for o in np.flatnonzero(partial):
        a, b = sorted(rng.integers(0, steps, 2))
        listed[:a, o] = False
        listed[b:, o] = False
    ts = pd.date_range(start, periods=steps, freq=interval)
    t_idx, o_idx = np.nonzero(listed)
    keys = np.array([f"offer-{i:05d}" for i in range(offers)], dtype=object)
    frame = pd.DataFrame(
        {
            "ts": ts[t_idx],
            "offer_key": keys[o_idx],
            "configuration": np.array([CONFIGS[i][0] for i in conf_i], dtype=object)[o_idx],
            "country": np.array(COUNTRIES, dtype=object)[o_idx % len(COUNTRIES)],
            "datacenter": np.array(
                [f"{COUNTRIES[i % len(COUNTRIES)]}-DC-{i % 3 + 1}" for i in range(offers)],
                dtype=object,
            )[o_idx],
            "vcpu": np.array([CONFIGS[i][1] for i in conf_i])[o_idx],
            "ram_gb": np.array([CONFIGS[i][2] for i in conf_i])[o_idx],
            "price_usd": price[t_idx, o_idx],
            "capacity": rng.integers(0, 30, len(t_idx)) if capacity else -1,
        }
    )
    return from_frame(frame, "synthetic")


def simulator_history(
    *, seed: int = 7, offers: int = 80, days: int = 90, interval_hours: int = 1
) -> PriceHistory:
    """The simulator's market (optimizer.sim, same seed and size as `Simulator(seed)`)
    observed every `interval_hours` for `days`: the offers the API would list (live, with
    free capacity), their prices and capacities. Reads the market model directly — the
    same numbers `POST /marketplace/offers` returns — so 90 days take seconds."""
    from optimizer.sim.market import SimMarket

    m = SimMarket(seed, offers)
    start = datetime(2026, 1, 1, tzinfo=UTC)
    names = "ts offer_key configuration country datacenter vcpu ram_gb tier price_usd capacity"
    cols: dict[str, list] = {k: [] for k in names.split()}
    for h in range(0, days * 24 + 1, interval_hours):
        m.advance_to(h)
        ts = start + timedelta(hours=h)
        for o in m.listed():
            cols["ts"].append(ts)
            cols["offer_key"].append(o.key)
            cols["configuration"].append(o.slug)
            cols["country"].append(o.datacenter.country)
            cols["datacenter"].append(o.datacenter.label)
            cols["vcpu"].append(o.vcpu)
            cols["ram_gb"].append(o.ram_gb)
            cols["tier"].append(o.datacenter.tier)
            cols["price_usd"].append(float(m.price_str(o)))
            cols["capacity"].append(o.capacity)
    return from_frame(pd.DataFrame(cols), f"simulator seed {seed}")
