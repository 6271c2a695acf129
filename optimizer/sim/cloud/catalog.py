"""What the cloud generation sells, and at what price: clusters, configurations, prices.

One world, two faces: every datacenter of the v3 market (`Market.datacenters`, with its
provider, country, city and tier) is one cluster here. Each cluster prices a subset of
the configuration catalog, hourly, per (configuration, cluster); those prices follow the
same dynamics as the v3 market (`Dynamics`, `step_log_prices`, `step_segments`): a slow
drift, mean-reverting noise, rare jumps, and a factor shared by a configuration class in
one country. Storage (per GB-hour) and public IPv4 (per hour) prices are per cluster.

The path is a function of (seed, hour) only: `advance_to(h)` replays hours in order, so a
catalog created late in a run has the prices one created at the start would have. On top
of it, `MarketMoves` (moves.py, off by default) adds promotions and other tenants'
capacity churn, also a function of (seed, hour).
"""

from __future__ import annotations

import math
import random
import uuid
from dataclasses import dataclass, field
from decimal import Decimal

import numpy as np

from optimizer.sim.cloud.moves import MarketMoves, Moves
from optimizer.sim.market import (
    COUNTRIES,
    RAM_GB_PRICE,
    TIER_FACTOR,
    VCPU_PRICE,
    Dynamics,
    SimDatacenter,
    step_log_prices,
    step_segments,
)

#: the spec versions whose wire shapes the simulator speaks
SPEC_0_8 = "0.8.210"
SPEC_0_10 = "0.10.0"
SPECS = (SPEC_0_8, SPEC_0_10)

CPU_FAMILIES = ("AMD_ZEN2", "AMD_ZEN3", "AMD_ZEN5")
#: configuration class → (price factor, CPU families it runs on, dedicated, first spec with it)
CLASSES: dict[str, tuple[float, tuple[str, ...], bool, str]] = {
    "regular": (1.0, ("AMD_ZEN2", "AMD_ZEN3"), True, SPEC_0_8),
    "premium": (1.3, ("AMD_ZEN5",), True, SPEC_0_8),
    "shared": (0.55, ("AMD_ZEN2", "AMD_ZEN3"), False, SPEC_0_10),
}
#: (class, vcpu, ram GB): the slugs both specs enumerate (`VmConfigurationSlug`)
SIZES: tuple[tuple[str, int, int], ...] = (
    *(
        (cls, v, r)
        for cls in ("regular", "premium")
        for v, r in ((2, 4), (4, 8), (8, 16), (8, 32), (16, 32), (24, 48), (32, 64), (64, 128))
    ),
    ("shared", 2, 2),
    ("shared", 3, 4),
    ("shared", 4, 8),
    ("shared", 8, 16),
    ("shared", 16, 32),
)
CITY_NAMES = {
    "NYC": "New York", "DAL": "Dallas", "SJC": "San Jose", "ATL": "Atlanta",
    "FRA": "Frankfurt", "BER": "Berlin", "MUC": "Munich", "PAR": "Paris", "MRS": "Marseille",
    "AMS": "Amsterdam", "LON": "London", "MAN": "Manchester", "WAW": "Warsaw",
    "HEL": "Helsinki", "YUL": "Montreal", "YYZ": "Toronto", "SIN": "Singapore",
    "GRU": "Sao Paulo", "TYO": "Tokyo",
}  # fmt: skip
#: USD per GB-hour of NVMe storage (replicated costs twice as much) and per IPv4-hour
STORAGE_GB_HOUR = Decimal("0.00015")
PUBLIC_IP_HOUR = Decimal("0.005")
Q_PRICE = Decimal("0.000001")
#: share of the configurations a cluster's CPU families allow that it does not price
UNPRICED_SHARE = 0.25


#: the default OS images (`GET /v1/storages/default_images`), as the cloud lists them
DEFAULT_IMAGES: tuple[dict[str, str], ...] = (
    {
        "id": "6f1c2a9e0b8d4e51a3c7d9e2f4b6a801",
        "name": "22.04 (LTS) x64",
        "distribution": "Ubuntu",
        "slug": "ubuntu-22-04-x64",
        "downloadUrl": "https://cloud-images.ubuntu.com/releases/22.04/release/"
        "ubuntu-22.04-server-cloudimg-amd64.img",
        "username": "ubuntu",
    },
    {
        "id": "da1e99153be74618820a164eebcbdc66",
        "name": "24.04 (LTS) x64",
        "distribution": "Ubuntu",
        "slug": "ubuntu-24-04-x64",
        "downloadUrl": "https://cloud-images.ubuntu.com/releases/24.04/release/"
        "ubuntu-24.04-server-cloudimg-amd64.img",
        "username": "ubuntu",
    },
    {
        "id": "0c5b3e7a91d246f8b2a4c6e8d0f21357",
        "name": "12 x64",
        "distribution": "Debian",
        "slug": "debian-12-x64",
        "downloadUrl": "https://cloud.debian.org/images/cloud/bookworm/latest/"
        "debian-12-genericcloud-amd64.qcow2",
        "username": "debian",
    },
)


def seeded_uuid(rng: random.Random) -> str:
    """A version-4 UUID from a seeded generator (ids are reproducible for a seed)."""
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


@dataclass(frozen=True)
class Configuration:
    """One entry of `GET /v1/configurations/virtual_machines`."""

    id: str
    slug: str
    cls: str
    vcpu: int
    ram_gb: int

    @property
    def families(self) -> tuple[str, ...]:
        return CLASSES[self.cls][1]

    @property
    def dedicated(self) -> bool:
        return CLASSES[self.cls][2]

    @property
    def since(self) -> str:
        """The first spec version that lists this slug."""
        return CLASSES[self.cls][3]

    @property
    def preset(self) -> str:
        ratio = self.ram_gb / self.vcpu
        if ratio < 2:
            return "cpu_optimized"
        return "general" if ratio < 4 else "memory_optimized"

    @property
    def name(self) -> str:
        return f"{self.cls.capitalize()} {self.vcpu} vCPU / {self.ram_gb} GB"


@dataclass
class Cluster:
    """A cluster: one datacenter of one independent provider, with what it prices."""

    id: str
    datacenter_id: str
    datacenter: SimDatacenter
    families: tuple[str, ...]
    configurations: list[str] = field(default_factory=list)  # configuration ids priced here
    storage_gb_hour: Decimal = STORAGE_GB_HOUR
    public_ip_hour: Decimal = PUBLIC_IP_HOUR
    #: free instances per configuration id, public IPv4 addresses, NVMe GB
    capacity: dict[str, int] = field(default_factory=dict)
    free_ips: int = 50
    free_storage_gb: int = 20_000

    @property
    def name(self) -> str:
        dc = self.datacenter
        return f"{dc.provider} {dc.city}-{dc.index}"

    @property
    def slug(self) -> str:
        return self.datacenter.label.lower()

    @property
    def city_name(self) -> str:
        return CITY_NAMES.get(self.datacenter.city, self.datacenter.city)


class Catalog:
    """Configurations, clusters (one per market datacenter) and their hourly prices."""

    def __init__(
        self,
        seed: int,
        datacenters: list[SimDatacenter],
        dynamics: Dynamics | None = None,
        moves: MarketMoves | None = None,
    ) -> None:
        self.seed = seed
        self.dynamics = dynamics or Dynamics()
        self.moves = Moves(seed, moves or MarketMoves())
        rng = random.Random(f"{seed}:cloud:catalog")
        self.configurations: list[Configuration] = [
            Configuration(seeded_uuid(rng), f"cpu-{cls}-{v}vcpu-{r}gb", cls, v, r)
            for cls, v, r in SIZES
        ]
        self.config_by_id = {c.id: c for c in self.configurations}
        self.config_by_slug = {c.slug: c for c in self.configurations}
        self.clusters: list[Cluster] = []
        self._cluster_by_id: dict[str, Cluster] = {}
        self.hour = 0
        self._np = np.random.default_rng([seed, 11])
        self._np_seg = np.random.default_rng([seed, 12])
        self._price_cache: dict[tuple[str, str], Decimal] | None = None
        # one row per (cluster id, configuration id) price point, in creation order
        self._points: list[tuple[str, str]] = []
        self._index: dict[tuple[str, str], int] = {}
        self._base = np.zeros(0)
        self._x = np.zeros(0)
        self._drift = np.zeros(0)
        self._segidx = np.zeros(0, dtype=np.int64)
        self._segments: dict[tuple[str, str], int] = {}
        self._seg = np.zeros(0)
        self._pinned: dict[tuple[str, str], Decimal] = {}
        for dc in datacenters:
            self.add_cluster(dc, rng)

    # --- construction -------------------------------------------------------------------

    def add_cluster(
        self,
        dc: SimDatacenter,
        rng: random.Random | None = None,
        *,
        configurations: list[str] | None = None,
    ) -> Cluster:
        """A cluster in datacenter `dc`; its families follow the datacenter's CPU models."""
        rng = rng or random.Random(f"{self.seed}:cloud:cluster:{dc.id}")
        families = tuple(f for i, f in enumerate(CPU_FAMILIES) if i in dc.cpu_models) or (
            "AMD_ZEN3",
        )
        cl = Cluster(seeded_uuid(rng), seeded_uuid(rng), dc, families)
        if configurations is None:
            configurations = [
                c.id
                for c in self.configurations
                if set(c.families) & set(families) and rng.random() >= UNPRICED_SHARE
            ]
        cl.configurations = list(configurations)
        cl.capacity = {cid: rng.randint(2, 12) for cid in cl.configurations}
        cl.storage_gb_hour = (STORAGE_GB_HOUR * Decimal(str(rng.choice((0.9, 1.0, 1.2))))).quantize(
            Decimal("0.0000001")
        )
        cl.public_ip_hour = PUBLIC_IP_HOUR * Decimal(str(rng.choice((0.8, 1.0, 1.2))))
        self.clusters.append(cl)
        self._cluster_by_id[cl.id] = cl
        self._register_points(cl, rng)
        return cl

    def _register_points(self, cl: Cluster, rng: random.Random) -> None:
        """Add the price vectors for the new cluster's points (index order = creation)."""
        d = self.dynamics
        dc = cl.datacenter
        rows = []
        for cid in cl.configurations:
            c = self.config_by_id[cid]
            seg_key = (c.cls, dc.country)
            if seg_key not in self._segments:
                self._segments[seg_key] = len(self._segments)
                self._seg = np.append(self._seg, 0.0)
            base = (
                (c.vcpu * VCPU_PRICE + c.ram_gb * RAM_GB_PRICE)
                / 24.0
                * CLASSES[c.cls][0]
                * COUNTRIES.get(dc.country, (1.0, ()))[0]
                * TIER_FACTOR.get(dc.tier, 1.0)
                * math.exp(rng.gauss(0.0, 0.08))
            )
            self._index[(cl.id, cid)] = len(self._points)
            self._points.append((cl.id, cid))
            rows.append(
                (base, rng.gauss(0.0, 0.05), rng.gauss(0.0, d.drift_sigma_per_day), seg_key)
            )
        if rows:
            self._base = np.concatenate([self._base, [r[0] for r in rows]])
            self._x = np.concatenate([self._x, [r[1] for r in rows]])
            self._drift = np.concatenate([self._drift, [r[2] for r in rows]])
            idx = [self._segments[r[3]] for r in rows]
            self._segidx = np.concatenate([self._segidx, np.array(idx, dtype=np.int64)])
        self._price_cache = None

    # --- time -----------------------------------------------------------------------------

    def advance_to(self, hour: int) -> None:
        """Evolve every price point hour by hour up to `hour` (no-op if already there)."""
        d = self.dynamics
        while self.hour < hour:
            self.hour += 1
            n = len(self._x)
            z = self._np.standard_normal(n)
            jumps = self._np.random(n) < d.jump_prob
            jump_size = self._np.standard_normal(n) * d.jump_sigma
            self._x = step_log_prices(self._x, self._drift, self.hour, z, jumps, jump_size, d)
            self._seg = step_segments(self._seg, self._np_seg.standard_normal(len(self._seg)), d)
            self.moves.step(self.hour, self.clusters)
            self._price_cache = None

    # --- prices ---------------------------------------------------------------------------

    def vm_prices(self) -> dict[tuple[str, str], Decimal]:
        """{(cluster id, configuration id): hourly USD} for every priced point, now."""
        if self._price_cache is None:
            seg = self._seg[self._segidx] if len(self._segidx) else np.zeros(0)
            level = self._base * np.exp(self._x + seg)
            if self.moves.promotions:
                level = level * np.array([self.moves.factor(c) for c, _ in self._points])
            values = np.maximum(level, 0.0005).tolist()
            self._price_cache = {
                p: Decimal(f"{v:.6f}") for p, v in zip(self._points, values, strict=True)
            }
            self._price_cache.update(self._pinned)
        return self._price_cache

    def vm_price(self, cluster_id: str, configuration_id: str) -> Decimal | None:
        """The hourly price of this configuration in this cluster, or None if unpriced."""
        cl = self.cluster(cluster_id)
        if cl is None or configuration_id not in cl.configurations:
            return None
        return self.vm_prices().get((cluster_id, configuration_id))

    def pin(self, cluster_id: str, configuration_id: str, price: Decimal | None) -> None:
        """Fix a point's price from now on (None: back to its path)."""
        key = (cluster_id, configuration_id)
        if key not in self._index:
            raise KeyError(f"configuration {configuration_id} is not priced in {cluster_id}")
        if price is None:
            self._pinned.pop(key, None)
        else:
            self._pinned[key] = Decimal(str(price)).quantize(Q_PRICE)
        self._price_cache = None

    def unprice(self, cluster_id: str, configuration_id: str) -> None:
        """Stop selling a configuration in a cluster (creating one then answers 404)."""
        cl = self.cluster(cluster_id)
        if cl is None or configuration_id not in cl.configurations:
            raise KeyError(f"configuration {configuration_id} is not priced in {cluster_id}")
        cl.configurations.remove(configuration_id)

    # --- lookups --------------------------------------------------------------------------

    def cluster(self, cluster_id: str) -> Cluster | None:
        return self._cluster_by_id.get(cluster_id)

    def configuration(self, ref: str) -> Configuration | None:
        """By id or slug."""
        return self.config_by_id.get(ref) or self.config_by_slug.get(ref)

    def listed_configurations(self, spec: str) -> list[Configuration]:
        """The catalog as a server of spec version `spec` lists it."""
        return [c for c in self.configurations if spec == SPEC_0_10 or c.since == SPEC_0_8]
