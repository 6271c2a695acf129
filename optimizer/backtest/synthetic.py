"""A seeded synthetic price history (random walks with jumps and mean reversion), for
benchmarks and tests that need a large history without running the simulator."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd

from optimizer.backtest.prices import UNIT_SECONDS, PriceHistory, from_frame

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
    cols: dict[str, list[Any]] = {k: [] for k in names.split()}
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


#: the synthetic markets of `scenario_history` (issue 16: a policy must not lose money
#: where nothing can be won, and must still win where something can)
SCENARIOS = ("flat-dips", "lasting-drop", "noisy-trend")


def scenario_history(
    kind: str, *, seed: int = 1, days: int = 60, offers_per_config: int = 12
) -> PriceHistory:
    """A small hourly market of one-datacenter offers for two configurations (cpu-2 and
    cpu-4, countries cycling through `COUNTRIES`, capacity 10 each), shaped as `kind`:

    - "flat-dips": every offer at a constant price (spread 0.9–1.25 × the configuration's
      base), each dipping 2–8 % for 1–6 hours about once every 4 days;
    - "lasting-drop": constant prices, and at a third of the run one mid-priced offer per
      configuration (in DE/FR/NL/PL) drops to 25 % under the cheapest and stays there;
    - "noisy-trend": prices rise slowly (+8 % a month, each offer ±4 % a month around
      that) with 1.5 % hourly noise.
    """
    if kind not in SCENARIOS:
        raise ValueError(f"unknown scenario {kind!r} (known: {', '.join(SCENARIOS)})")
    rng = np.random.default_rng(seed)
    steps = days * 24 + 1
    confs = [c for c in CONFIGS if c[0].startswith(("cpu-2-", "cpu-4-"))]
    n = offers_per_config * len(confs)
    conf_i = np.repeat(np.arange(len(confs)), offers_per_config)
    base = np.array([confs[i][3] for i in conf_i]) * rng.uniform(0.9, 1.25, n)
    price = np.tile(base, (steps, 1))
    hours = np.arange(steps)[:, None]
    if kind == "flat-dips":
        for o in range(n):
            t = 0.0
            while True:
                t += rng.exponential(4 * 24)
                if t >= steps:
                    break
                a, length = int(t), int(rng.integers(1, 7))
                price[a : a + length, o] *= 1 - rng.uniform(0.02, 0.08)
    elif kind == "lasting-drop":
        eu = np.array([COUNTRIES[i % len(COUNTRIES)] in ("DE", "FR", "NL", "PL") for i in range(n)])
        for c in range(len(confs)):
            cols = np.flatnonzero(conf_i == c)
            pick = cols[eu[cols]]  # in a country every benchmark fleet allows
            dear = pick[np.argsort(base[pick])[len(pick) // 2]]
            price[steps // 3 :, dear] = base[cols].min() * 0.75
    else:
        trend = 0.08 / 30 + rng.normal(0, 0.04 / 30, n)  # per day
        price = price * (1 + trend * hours / 24) * (1 + rng.normal(0, 0.015, (steps, n)))
    price = np.round(price, 5)
    start = datetime(2026, 1, 1, tzinfo=UTC)
    ts = pd.date_range(start, periods=steps, freq=timedelta(hours=1))
    t_idx, o_idx = np.nonzero(np.ones((steps, n), dtype=bool))
    country = np.array([COUNTRIES[i % len(COUNTRIES)] for i in range(n)], dtype=object)
    frame = pd.DataFrame(
        {
            "ts": ts[t_idx],
            "offer_key": np.array([f"{kind}-{i:03d}" for i in range(n)], dtype=object)[o_idx],
            "configuration": np.array([confs[i][0] for i in conf_i], dtype=object)[o_idx],
            "country": country[o_idx],
            "datacenter": np.array([f"{country[i]}-SYN-{i}" for i in range(n)], dtype=object)[
                o_idx
            ],
            "vcpu": np.array([confs[i][1] for i in conf_i])[o_idx],
            "ram_gb": np.array([confs[i][2] for i in conf_i])[o_idx],
            "price_usd": price[t_idx, o_idx],
            "capacity": 10,
        }
    )
    return from_frame(frame, f"synthetic {kind} seed {seed}")


def hourly(history: PriceHistory) -> PriceHistory:
    """The same history as hourly price points, as the cloud API generation gives them:
    each per-epoch price divided by 24 (rounded half-even to a micro-dollar)."""
    if history.unit == "hour":
        return history
    k = UNIT_SECONDS["epoch"] // UNIT_SECONDS["hour"]
    frame = history.frame.copy()
    frame["price_micros"] = np.rint(frame["price_micros"].to_numpy() / k).astype("int64")
    return PriceHistory(frame, f"{history.source}, hourly", "hour")
