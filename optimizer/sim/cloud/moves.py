"""What moves the cloud market besides the price path: promotions and other tenants.

The catalog's price path (catalog.py) is the v3 market's: small swings around each
point's level and rare jumps, so the cheapest cluster of a configuration tends to stay
the cheapest and a fleet placed there has no reason to move. Two things the published
API allows and a real cloud has make moves worth it, and both are off unless a
`CloudConfig(moves=MarketMoves(...))` switches them on (the demo and the chaos test do):

- **promotions**: a cluster lowers every hourly price it lists by 15-40 % for one to four
  days (a provider filling idle hardware), then goes back to its path;
- **other tenants**: each hour, a (cluster, configuration) point gains or loses a free
  instance with some chance, so a cluster's availability comes and goes.

Both are functions of (seed, hour) only: `step(hour)` draws from a generator seeded by
the hour, so replaying hours gives the same market whatever the requests were.
"""

from __future__ import annotations

import random
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from optimizer.sim.cloud.catalog import Cluster

#: the most free instances other tenants' churn leaves at one point
MAX_FREE = 12


@dataclass(frozen=True)
class MarketMoves:
    """Knobs of the moves above; the defaults move nothing."""

    #: promotions per cluster per day (0: none)
    promotion_rate: float = 0.0
    #: a promotion's price cut, drawn uniformly (0.3: prices × 0.7)
    promotion_depth: tuple[float, float] = (0.15, 0.4)
    #: how long a promotion lasts, in hours, drawn uniformly
    promotion_hours: tuple[int, int] = (24, 96)
    #: chance per (cluster, configuration) point per hour that a free instance is taken
    #: or freed by another tenant (0: capacity only moves with this account's VMs)
    capacity_churn: float = 0.0

    def __post_init__(self) -> None:
        lo, hi = self.promotion_depth
        if not 0 <= lo <= hi < 1:
            raise ValueError("promotion_depth must be 0 <= low <= high < 1")
        if not 1 <= self.promotion_hours[0] <= self.promotion_hours[1]:
            raise ValueError("promotion_hours must be 1 <= low <= high")
        if self.promotion_rate < 0 or not 0 <= self.capacity_churn <= 1:
            raise ValueError("promotion_rate must be >= 0 and capacity_churn within [0, 1]")

    @property
    def active(self) -> bool:
        return self.promotion_rate > 0 or self.capacity_churn > 0


class Moves:
    """The state of `MarketMoves` over one catalog: running promotions per cluster."""

    def __init__(self, seed: int, knobs: MarketMoves) -> None:
        self.seed = seed
        self.knobs = knobs
        #: cluster id → (price factor, last hour of the promotion)
        self.promotions: dict[str, tuple[float, int]] = {}

    def step(self, hour: int, clusters: Iterable[Cluster]) -> bool:
        """Apply hour `hour`: end and start promotions, churn capacity. Returns whether a
        price factor changed (the caller's price cache is then stale)."""
        k = self.knobs
        if not k.active:
            return False
        rng = random.Random(f"{self.seed}:cloud:moves:{hour}")
        changed = False
        p_start = k.promotion_rate / 24.0
        for cl in clusters:
            running = self.promotions.get(cl.id)
            if running is not None and running[1] < hour:
                del self.promotions[cl.id]
                running, changed = None, True
            # draw every number for every cluster each hour: the path does not depend on
            # which clusters happen to be in a promotion
            start, depth = rng.random(), rng.uniform(*k.promotion_depth)
            length = rng.randint(*k.promotion_hours)
            if running is None and start < p_start:
                self.promotions[cl.id] = (1.0 - depth, hour + length - 1)
                changed = True
            for cid in cl.configurations:
                churn, up = rng.random(), rng.random() < 0.5
                if churn < k.capacity_churn:
                    free = cl.capacity.get(cid, 0)
                    cl.capacity[cid] = min(free + 1, MAX_FREE) if up else max(free - 1, 0)
        return changed

    def factor(self, cluster_id: str) -> float:
        """What the cluster's prices are multiplied by now (1.0 outside a promotion)."""
        promo = self.promotions.get(cluster_id)
        return promo[0] if promo is not None else 1.0
