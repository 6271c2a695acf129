"""A seeded synthetic marketplace: providers, datacenters, offers, prices that move.

Everything random comes from generators seeded by `seed` (never the global `random`), and
the market evolves in whole simulated hours from its start: hour h's prices, arrivals and
departures depend only on (seed, h), never on how the caller stepped time or on deploys.

Price model, per offer i and hour h (log space):
    x_i(h) = x_i(h-1) + θ·(μ_i(h) − x_i(h-1)) + σ·z + jump          (Ornstein–Uhlenbeck + jumps)
    price_i(h) = base_i · exp(x_i(h) + s_seg(h))
where μ_i(h) is a slow per-offer drift (clipped to ±25 %) and s_seg is a segment-wide
(configuration × country) mean-reverting factor, so segments show trends too.
Prices are per epoch (24 h), rendered as decimal strings with 5 decimals.
"""

from __future__ import annotations

import hashlib
import json
import math
import random
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import numpy as np

from optimizer.fluence.models import (
    AdditionalResource,
    Constraints,
    Datacenter,
    Resource,
    parse_slug,
)

Q5 = Decimal("0.00001")

#: (slug, vcpu, ram_gb, disk_gb) — the basic configurations the market lists.
CONFIGURATIONS: tuple[tuple[str, int, int, int], ...] = (
    ("cpu-2-ram-4gb-storage-25gb", 2, 4, 25),
    ("cpu-4-ram-8gb-storage-25gb", 4, 8, 25),
    ("cpu-4-ram-16gb-storage-25gb", 4, 16, 25),
    ("cpu-8-ram-16gb-storage-25gb", 8, 16, 25),
    ("cpu-8-ram-32gb-storage-25gb", 8, 32, 25),
    ("cpu-16-ram-32gb-storage-25gb", 16, 32, 25),
    ("cpu-32-ram-64gb-storage-25gb", 32, 64, 25),
)
#: relative share of offers per configuration (small ones are most common)
CONFIG_WEIGHTS = (30, 24, 8, 16, 6, 10, 6)
_CONFIG_CUM = tuple(sum(CONFIG_WEIGHTS[: i + 1]) for i in range(len(CONFIG_WEIGHTS)))

#: country → (price factor, cities)
COUNTRIES: dict[str, tuple[float, tuple[str, ...]]] = {
    "US": (1.00, ("NYC", "DAL", "SJC", "ATL")),
    "DE": (1.00, ("FRA", "BER", "MUC")),
    "FR": (1.02, ("PAR", "MRS")),
    "NL": (1.04, ("AMS",)),
    "GB": (1.08, ("LON", "MAN")),
    "PL": (0.90, ("WAW",)),
    "FI": (0.94, ("HEL",)),
    "CA": (1.03, ("YUL", "YYZ")),
    "SG": (1.15, ("SIN",)),
    "BR": (0.93, ("GRU",)),
    "JP": (1.12, ("TYO",)),
}
PROVIDERS = ("Nimbus Compute", "Halcyon DC", "Ferro Cloud", "Polaris Hosting", "Kestrel Networks",
             "Ostrava Systems")  # fmt: skip
CPU_MODELS: tuple[dict[str, str], ...] = (
    {"manufacturer": "AMD", "brand": "EPYC", "architecture": "Zen", "generation": "2"},
    {"manufacturer": "AMD", "brand": "EPYC", "architecture": "Zen", "generation": "3"},
    {"manufacturer": "AMD", "brand": "EPYC", "architecture": "Zen", "generation": "4"},
    {"manufacturer": "Intel", "brand": "Xeon", "architecture": "Cascade Lake", "generation": "2"},
    {"manufacturer": "Intel", "brand": "Xeon", "architecture": "Ice Lake", "generation": "3"},
    {
        "manufacturer": "Intel",
        "brand": "Xeon",
        "architecture": "Sapphire Rapids",
        "generation": "4",
    },
)
RAM_MODELS: tuple[dict[str, str], ...] = (
    {"type": "DDR", "generation": "4"},
    {"type": "DDR", "generation": "5"},
)
STORAGE_TYPES = ("HDD", "SSD", "NVMe")
STORAGE_FACTOR = {"HDD": 0.96, "SSD": 1.0, "NVMe": 1.04}
STORAGE_GIB_PRICE = {
    "HDD": Decimal("0.00010"),
    "SSD": Decimal("0.00025"),
    "NVMe": Decimal("0.00040"),
}
TIER_FACTOR = {1: 0.86, 2: 0.93, 3: 1.0, 4: 1.09}
CERTIFICATIONS = ("ISO/IEC 27001:2022", "SOC 2 Type II", "PCI DSS", "ISO 9001:2015", "HIPAA")
VCPU_PRICE = 0.125  # USD per vCPU per epoch at the reference point
RAM_GB_PRICE = 0.0125  # USD per GB RAM per epoch


@dataclass(frozen=True)
class Dynamics:
    """Price and offer dynamics, per simulated hour. The defaults give typical swings of
    about ±5 % around each offer's level, a jump every ~35 days per offer, drifts of a
    few % per month, and offers that live 40 days on average."""

    theta: float = 0.03  # mean reversion speed of an offer's log price
    sigma: float = 0.012  # hourly noise of an offer's log price
    jump_prob: float = 0.0012  # chance per offer per hour of a jump
    jump_sigma: float = 0.12  # size (sd, log) of a jump
    drift_sigma_per_day: float = 0.004  # sd of an offer's slow drift per day
    drift_clip: float = 0.25  # the drift never moves an offer's level more than this
    seg_theta: float = 0.01  # mean reversion of the configuration × country factor
    seg_sigma: float = 0.006  # hourly noise of that factor
    x_clip: float = 0.8  # bound on an offer's log deviation
    mean_lifetime_hours: float = 40 * 24  # offers vanish and arrive at this pace
    capacity_churn: float = 0.004  # chance per offer per hour that other tenants move one


MAX_FREE_PER_SERVER = 8


def step_log_prices(
    x: np.ndarray,
    drift: np.ndarray,
    hour: int,
    z: np.ndarray,
    jumps: np.ndarray,
    jump_size: np.ndarray,
    d: Dynamics,
) -> np.ndarray:
    """One hour of the log-price path (module docstring): mean reversion toward a slow,
    clipped drift, noise `z`, and a jump where `jumps` is set. Pure: the caller draws."""
    mu = np.clip(drift * (hour / 24.0), -d.drift_clip, d.drift_clip)
    jump = np.where(jumps, jump_size, 0)
    out: np.ndarray = x + d.theta * (mu - x) + d.sigma * z + jump
    np.clip(out, -d.x_clip, d.x_clip, out=out)
    return out


def step_segments(seg: np.ndarray, z: np.ndarray, d: Dynamics) -> np.ndarray:
    """One hour of the segment-wide mean-reverting factors, bounded to ±0.3."""
    out: np.ndarray = seg * (1 - d.seg_theta) + d.seg_sigma * z
    np.clip(out, -0.3, 0.3, out=out)
    return out


@dataclass
class SimDatacenter:
    """One datacenter of one provider."""

    id: int
    provider: str
    country: str
    city: str
    index: int
    tier: int
    certifications: list[str]
    cpu_models: list[int]
    ram_models: list[int]
    storage_types: list[str]
    #: relative hazard of provider terminations (lower tiers fail more)
    reliability: float = 1.0
    wire_cache: dict[str, Any] = field(default_factory=dict)

    @property
    def label(self) -> str:
        return f"{self.country}-{self.city}-{self.index}"

    def wire(self, *, with_id: bool = False) -> dict[str, Any]:
        dc = Datacenter(
            id=self.id if with_id else None,
            country_code=self.country,
            city_code=self.city,
            city_index=self.index,
            tier=self.tier,
            certifications=self.certifications,
        )
        return dc.wire()


@dataclass
class SimHost:
    available: int
    storage_free: int


@dataclass
class SimOffer:
    """One listing: a provider's identical servers in one datacenter at one price."""

    key: str
    slug: str
    vcpu: int
    ram_gb: int
    disk_gb: int
    datacenter: SimDatacenter
    cpu: dict[str, str]
    ram: dict[str, str]
    storage_type: str
    servers: list[SimHost]
    storage_gib_price: Decimal
    per_vm_limit: int | None
    appear_hour: int
    vanish_hour: int | None = None
    #: position in the market's price vectors; -1 for scripted offers (fixed price)
    vec: int = -1
    pinned: Decimal | None = None
    resources_wire: list[dict[str, Any]] = field(default_factory=list)
    datacenter_wire: dict[str, Any] = field(default_factory=dict)
    _json_cache: tuple[str, str, tuple[tuple[int, int], ...] | None, str] | None = field(
        default=None, repr=False, compare=False
    )

    @property
    def capacity(self) -> int:
        return sum(max(s.available, 0) for s in self.servers)

    def storage_wire(self, supply: int) -> dict[str, Any]:
        return {
            "type": "STORAGE",
            "metadata": {"type": self.storage_type},
            "price": str(self.storage_gib_price),
            "supply": supply,
            "perVmLimit": self.per_vm_limit,
        }

    def wire_json(self, price: str) -> str:
        """`json.dumps(self.wire(price))` (compact), from cached fragments: fast for big
        markets. Static parts are serialized once; servers only when capacity changed."""
        state = tuple((s.available, s.storage_free) for s in self.servers)
        if self._json_cache is None:
            d = self.wire("0")
            head = '{"configuration":{"slug":' + _compact(self.slug) + ',"price":"'
            mid = '"},"resources":' + _compact(d["resources"])
            mid += ',"datacenter":' + _compact(d["datacenter"]) + ',"servers":'
            self._json_cache = (head, mid, None, "")
        head, mid, cached_state, tail = self._json_cache
        if cached_state != state:
            d = self.wire("0")
            tail = _compact(d["servers"]) + ',"maxAdditionalSupply":'
            tail += _compact(d["maxAdditionalSupply"]) + "}"
            self._json_cache = (head, mid, state, tail)
        return head + price + mid + tail

    def wire(self, price: str) -> dict[str, Any]:
        """The documented offer JSON (see fluence-api.md) at the given price string."""
        servers = [
            {
                "availableBasicInstances": s.available,
                "additionalResources": [self.storage_wire(s.storage_free)],
            }
            for s in self.servers
            if s.available > 0
        ]
        most = max((s.storage_free for s in self.servers if s.available > 0), default=0)
        return {
            "configuration": {"slug": self.slug, "price": price},
            "resources": self.resources_wire,
            "datacenter": self.datacenter_wire,
            "servers": servers,
            "maxAdditionalSupply": [self.storage_wire(most)],
        }


class SelectionError(Exception):
    """No placement: `message` is the API's 422 text."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass
class Placement:
    """One instance placed on one server of one offer, at a total per-epoch price."""

    offer: SimOffer
    server: int
    price: Decimal
    extra_storage: int


def _eq(a: object, b: object) -> bool:
    return a is None or str(a).lower() == str(b).lower()


class SimMarket:
    """The seeded market. Not thread-safe on its own: the Simulator holds the lock."""

    def __init__(self, seed: int = 7, offers: int = 80, dynamics: Dynamics | None = None) -> None:
        if offers < 1:
            raise ValueError("a market needs at least one offer")
        self.seed = seed
        self.dynamics = dynamics or Dynamics()
        self.target_offers = offers
        self.hour = 0
        self.offers: list[SimOffer] = []
        self.by_key: dict[str, SimOffer] = {}
        self._rng = random.Random(f"{seed}:market")
        self._arrivals = random.Random(f"{seed}:arrivals")
        self._np = np.random.default_rng([seed, 1])
        self._np_seg = np.random.default_rng([seed, 2])
        self._np_cap = np.random.default_rng([seed, 3])
        self._res_cache: dict[tuple[int, int, str], tuple[list[dict[str, Any]], list[str]]] = {}
        self.datacenters = self._make_datacenters(max(24, offers // 10))
        self._segments: dict[tuple[str, str], int] = {}
        for slug, *_ in CONFIGURATIONS:
            for country in COUNTRIES:
                self._segments[(slug, country)] = len(self._segments)
        self._seg = np.zeros(len(self._segments))
        self._base = np.zeros(0)
        self._x = np.zeros(0)
        self._drift = np.zeros(0)
        self._segidx = np.zeros(0, dtype=np.int64)
        self._vec_offers: list[SimOffer] = []
        self._price_cache: list[str] | None = None
        pending: list[tuple[float, float, float, int]] = []
        for _ in range(offers):
            made = self._make_offer(self._rng, appear_hour=0)
            if made is not None:
                pending.append(made)
        self._append_vectors(pending)

    # --- construction ------------------------------------------------------------------

    def _make_datacenters(self, n: int) -> list[SimDatacenter]:
        rng = random.Random(f"{self.seed}:datacenters")
        countries = list(COUNTRIES)
        used: dict[tuple[str, str], int] = {}
        out: list[SimDatacenter] = []
        for i in range(n):
            country = countries[i % len(countries)] if i < len(countries) else rng.choice(countries)
            city = rng.choice(COUNTRIES[country][1])
            used[(country, city)] = used.get((country, city), 0) + 1
            tier = rng.choices((1, 2, 3, 4), weights=(1, 2, 4, 3))[0]
            certs = sorted(rng.sample(CERTIFICATIONS, k=min(len(CERTIFICATIONS), tier - 1)))
            out.append(
                SimDatacenter(
                    id=1000 + i,
                    provider=rng.choice(PROVIDERS),
                    country=country,
                    city=city,
                    index=used[(country, city)],
                    tier=tier,
                    certifications=certs,
                    cpu_models=sorted(rng.sample(range(len(CPU_MODELS)), k=rng.randint(2, 3))),
                    ram_models=sorted(rng.sample(range(len(RAM_MODELS)), k=rng.randint(1, 2))),
                    storage_types=sorted(rng.sample(STORAGE_TYPES, k=rng.randint(1, 2))),
                    reliability={1: 3.0, 2: 1.8, 3: 1.0, 4: 0.5}[tier] * rng.uniform(0.6, 1.6),
                )
            )
        return out

    def _resources_wire(self, cpu: int, ram: int, storage: str) -> list[dict[str, Any]]:
        """Offer `resources` JSON, built once per hardware combination through the models."""
        ident = (cpu, ram, storage)
        if ident not in self._res_cache:
            resources = [
                Resource(type="VCPU", metadata=CPU_MODELS[cpu], price=Decimal("0.12500")),
                Resource(type="RAM", metadata=RAM_MODELS[ram], price=Decimal("0.01250")),
                Resource(
                    type="STORAGE", metadata={"type": storage}, price=STORAGE_GIB_PRICE[storage]
                ),
                Resource(type="PUBLIC_IP", metadata={"version": "4"}, price=Decimal("0.00500")),
            ]
            wire = [r.wire() for r in resources]
            sorted_meta = sorted(
                json.dumps([r["type"], r["metadata"]], sort_keys=True, separators=(",", ":"))
                for r in wire
            )
            self._res_cache[ident] = (wire, sorted_meta)
        return self._res_cache[ident][0]

    def _key(self, slug: str, dc: SimDatacenter, cpu: int, ram: int, storage: str) -> str:
        """Same value as `offer_key(Offer)` for the offer built from these parts (tested),
        computed from cached JSON fragments so large markets stay fast."""
        self._resources_wire(cpu, ram, storage)
        metas = _compact(self._res_cache[(cpu, ram, storage)][1])
        where = _compact([dc.country, dc.city, dc.index])[1:-1]
        ident = "[" + _compact(slug) + "," + where + "," + metas + "]"
        return hashlib.sha256(ident.encode()).hexdigest()[:16]

    def _build(
        self,
        rng: random.Random,
        *,
        slug: str,
        dc: SimDatacenter,
        cpu: int,
        ram: int,
        storage: str,
        appear_hour: int,
        capacity: int | None = None,
    ) -> SimOffer:
        dims = parse_slug(slug)
        assert dims is not None
        n_servers = rng.randint(1, 3)
        if capacity is None:
            servers = [SimHost(rng.randint(0, 6), rng.choice((200, 500, 1000, 2000)))
                       for _ in range(n_servers)]  # fmt: skip
            if sum(s.available for s in servers) == 0:
                servers[0].available = rng.randint(1, 4)
        else:
            servers = [SimHost(capacity, 1000)]
        o = SimOffer(
            key="",
            slug=slug,
            vcpu=dims[0],
            ram_gb=dims[1],
            disk_gb=dims[2],
            datacenter=dc,
            cpu=dict(CPU_MODELS[cpu]),
            ram=dict(RAM_MODELS[ram]),
            storage_type=storage,
            servers=servers,
            storage_gib_price=STORAGE_GIB_PRICE[storage],
            per_vm_limit=rng.choice((None, 500, 1000)),
            appear_hour=appear_hour,
        )
        o.resources_wire = self._resources_wire(cpu, ram, storage)
        if not dc.wire_cache:
            dc.wire_cache = dc.wire()
        o.datacenter_wire = dc.wire_cache
        o.key = self._key(slug, dc, cpu, ram, storage)
        return o

    def _make_offer(
        self, rng: random.Random, appear_hour: int
    ) -> tuple[float, float, float, int] | None:
        """Draw one random offer; register it; return (base, x0, drift, segment) for vectors."""
        d = self.dynamics
        for _ in range(20):
            slug, vcpu, ram_gb, _disk = rng.choices(CONFIGURATIONS, cum_weights=_CONFIG_CUM)[0]
            dc = rng.choice(self.datacenters)
            cpu = rng.choice(dc.cpu_models)
            ram = rng.choice(dc.ram_models)
            storage = rng.choice(dc.storage_types)
            if self._key(slug, dc, cpu, ram, storage) in self.by_key:
                continue
            o = self._build(
                rng, slug=slug, dc=dc, cpu=cpu, ram=ram, storage=storage, appear_hour=appear_hour
            )
            if o.key in self.by_key:
                continue
            life = rng.expovariate(1.0 / d.mean_lifetime_hours)
            o.vanish_hour = appear_hour + max(1, int(life))
            base = (
                (vcpu * VCPU_PRICE + ram_gb * RAM_GB_PRICE)
                * COUNTRIES[dc.country][0]
                * TIER_FACTOR[dc.tier]
                * STORAGE_FACTOR[storage]
                * (1.0 + 0.02 * (int(CPU_MODELS[cpu]["generation"]) - 3))
                * math.exp(rng.gauss(0.0, 0.08))
            )
            x0 = rng.gauss(0.0, 0.05)
            drift = rng.gauss(0.0, d.drift_sigma_per_day)
            self._register(o)
            o.vec = len(self._vec_offers)
            self._vec_offers.append(o)
            return (base, x0, drift, self._segments[(slug, dc.country)])
        return None

    def _register(self, o: SimOffer) -> None:
        self.offers.append(o)
        self.by_key[o.key] = o
        self._price_cache = None

    def _append_vectors(self, rows: list[tuple[float, float, float, int]]) -> None:
        if not rows:
            return
        arr = np.array(rows, dtype=float)
        self._base = np.concatenate([self._base, arr[:, 0]])
        self._x = np.concatenate([self._x, arr[:, 1]])
        self._drift = np.concatenate([self._drift, arr[:, 2]])
        self._segidx = np.concatenate([self._segidx, arr[:, 3].astype(np.int64)])

    # --- time ------------------------------------------------------------------------------

    def advance_to(self, hour: int) -> None:
        """Evolve the market hour by hour up to `hour` (no-op if already there)."""
        d = self.dynamics
        while self.hour < hour:
            self.hour += 1
            h = self.hour
            n = len(self._x)
            z = self._np.standard_normal(n)
            jumps = self._np.random(n) < d.jump_prob
            jump_size = self._np.standard_normal(n) * d.jump_sigma
            self._x = step_log_prices(self._x, self._drift, h, z, jumps, jump_size, d)
            zs = self._np_seg.standard_normal(len(self._seg))
            self._seg = step_segments(self._seg, zs, d)
            # arrivals keep the number of live offers roughly steady
            k = _poisson(self._arrivals, self.target_offers / d.mean_lifetime_hours)
            rows = [r for _ in range(k) if (r := self._make_offer(self._arrivals, h)) is not None]
            self._append_vectors(rows)
            self._churn_capacity(n)
            self._price_cache = None

    def _churn_capacity(self, n: int) -> None:
        """Other tenants come and go: a few random offers gain or lose one free instance."""
        k = int(self._np_cap.poisson(n * self.dynamics.capacity_churn))
        if k == 0:
            return
        idx = self._np_cap.integers(0, n, size=k).tolist()
        signs = self._np_cap.integers(0, 2, size=k).tolist()
        for i, up in zip(idx, signs, strict=True):
            s = self._vec_offers[i].servers[0]
            if up and s.available < MAX_FREE_PER_SERVER:
                s.available += 1
            elif not up and s.available > 0:
                s.available -= 1

    # --- prices ----------------------------------------------------------------------------

    def _prices(self) -> list[str]:
        if self._price_cache is None:
            seg = self._seg[self._segidx] if len(self._segidx) else np.zeros(0)
            values = np.maximum(self._base * np.exp(self._x + seg), 0.01)
            self._price_cache = [f"{v:.5f}" for v in values.tolist()]
        return self._price_cache

    def price_str(self, o: SimOffer) -> str:
        if o.pinned is not None:
            return str(o.pinned)
        return self._prices()[o.vec]

    def price(self, o: SimOffer) -> Decimal:
        """The offer's current price per epoch of one basic instance."""
        return o.pinned if o.pinned is not None else Decimal(self._prices()[o.vec])

    def is_live(self, o: SimOffer) -> bool:
        return o.appear_hour <= self.hour and (o.vanish_hour is None or o.vanish_hour > self.hour)

    # --- queries -----------------------------------------------------------------------------

    def live(self) -> list[SimOffer]:
        """Offers on the market now (whether or not they have capacity)."""
        return [o for o in self.offers if self.is_live(o)]

    def listed(self) -> list[SimOffer]:
        """Offers the API lists now: live and with at least one free basic instance."""
        return [o for o in self.offers if self.is_live(o) and o.capacity > 0]

    def offers_wire(self, c: Constraints | None = None) -> list[dict[str, Any]]:
        """Given filters, return the JSON array `POST /marketplace/offers` answers."""
        if c is None or c == Constraints():
            return [o.wire(self.price_str(o)) for o in self.listed()]
        out = []
        for o in self.listed():
            fit = self._fit(o, c)
            if fit is not None:
                out.append(o.wire(self.price_str(o)))
        return out

    def offers_json(self, c: Constraints | None = None) -> bytes:
        """`offers_wire(c)` serialized (compact JSON), assembled from cached fragments."""
        if c is None or c == Constraints():
            chosen = self.listed()
        else:
            chosen = [o for o in self.listed() if self._fit(o, c) is not None]
        return ("[" + ",".join(o.wire_json(self.price_str(o)) for o in chosen) + "]").encode()

    def _fit(self, o: SimOffer, c: Constraints) -> tuple[Decimal, int] | None:  # noqa: C901
        """(per-instance total price, extra GiB) when `o` satisfies `c`, else None."""
        # the API's filter list, one constraint per branch, in the documented order
        if c.basic_configuration is not None and c.basic_configuration != o.slug:
            return None
        countries = c.datacenter.countries if c.datacenter is not None else []
        if countries and o.datacenter.country.upper() not in {x.upper() for x in countries}:
            return None
        hw = c.hardware
        if hw is not None:
            if hw.cpu and not any(
                _eq(s.manufacturer, o.cpu["manufacturer"])
                and _eq(s.architecture, o.cpu["architecture"])
                for s in hw.cpu
            ):
                return None
            if hw.memory and not any(
                _eq(s.type, o.ram["type"]) and _eq(s.generation, o.ram["generation"])
                for s in hw.memory
            ):
                return None
            if hw.storage and not any(_eq(s.type, o.storage_type) for s in hw.storage):
                return None
        extra = 0
        if c.additional_resources is not None:
            for req in c.additional_resources.storage:
                if not _eq(req.type, o.storage_type):
                    return None
                extra += req.supply
            if o.per_vm_limit is not None and extra > o.per_vm_limit:
                return None
            if not any(s.available > 0 and s.storage_free >= extra for s in o.servers):
                return None
        price = self.price(o) + o.storage_gib_price * extra
        cap = c.max_total_price_per_epoch_usd
        if cap is not None and price > cap:
            return None
        return price, extra

    def select(self, c: Constraints | None, instances: int) -> list[Placement]:
        """Place `instances` VMs on the cheapest matching offers (smallest configuration
        first, as the API does when the configuration is left open) without committing.

        Raise SelectionError("No suitable offer found") when nothing matches and
        SelectionError("Not enough offers found") when fewer than `instances` fit.
        """
        c = c or Constraints()
        candidates = []
        for o in self.listed():
            fit = self._fit(o, c)
            if fit is not None:
                candidates.append((o.vcpu, o.ram_gb, fit[0], o.key, o, fit[1]))
        if not candidates:
            raise SelectionError("No suitable offer found")
        candidates.sort(key=lambda t: t[:4])
        placements: list[Placement] = []
        for _v, _r, price, _k, o, extra in candidates:
            for i, s in enumerate(o.servers):
                free, storage = s.available, s.storage_free
                while free > 0 and storage >= extra and len(placements) < instances:
                    placements.append(Placement(o, i, price, extra))
                    free -= 1
                    storage -= extra
            if len(placements) >= instances:
                return placements
        raise SelectionError("Not enough offers found")

    def commit(self, placements: list[Placement]) -> None:
        """Consume the capacity the placements use."""
        for p in placements:
            s = p.offer.servers[p.server]
            s.available -= 1
            s.storage_free -= p.extra_storage

    def release(self, offer: SimOffer, server: int, extra_storage: int) -> None:
        """Give one basic instance back (a VM on it was deleted)."""
        s = offer.servers[server]
        s.available += 1
        s.storage_free += extra_storage

    # --- scripting -----------------------------------------------------------------------------

    def add_offer(
        self,
        *,
        configuration: str = "cpu-2-ram-4gb-storage-25gb",
        country: str = "DE",
        price: Decimal | str = "0.25000",
        capacity: int = 5,
        tier: int = 3,
        city: str | None = None,
        cpu: int = 1,
        storage: str = "SSD",
    ) -> SimOffer:
        """Put a scripted offer on the market now at a fixed price; return it."""
        if parse_slug(configuration) is None:
            raise ValueError(f"not a configuration slug: {configuration!r}")
        n = sum(1 for d in self.datacenters if d.provider == "Scripted") + 1
        dc = SimDatacenter(
            id=900000 + n,
            provider="Scripted",
            country=country,
            city=city or (COUNTRIES[country][1][0] if country in COUNTRIES else "XXX"),
            index=100 + n,
            tier=tier,
            certifications=list(CERTIFICATIONS[: tier - 1]),
            cpu_models=[cpu],
            ram_models=[1],
            storage_types=[storage],
        )
        self.datacenters.append(dc)
        o = self._build(
            random.Random(f"{self.seed}:scripted:{n}"),
            slug=configuration,
            dc=dc,
            cpu=cpu,
            ram=1,
            storage=storage,
            appear_hour=self.hour,
            capacity=capacity,
        )
        o.pinned = Decimal(str(price)).quantize(Q5)
        self._register(o)
        return o

    def set_price(self, key: str, price: Decimal | str | None) -> None:
        """Pin an offer's price (None: let a random offer follow its path again)."""
        o = self.by_key[key]
        if price is None:
            if o.vec < 0:
                raise ValueError("a scripted offer has no price path to return to")
            o.pinned = None
        else:
            o.pinned = Decimal(str(price)).quantize(Q5)

    def remove_offer(self, key: str) -> None:
        """Take an offer off the market from the current hour on."""
        self.by_key[key].vanish_hour = self.hour

    # --- discovery -------------------------------------------------------------------------

    def configurations(self) -> list[str]:
        return [slug for slug, *_ in CONFIGURATIONS]

    def countries(self) -> list[str]:
        return sorted({o.datacenter.country for o in self.listed()})

    def hardware(self) -> dict[str, Any]:
        cpu = sorted({(o.cpu["manufacturer"], o.cpu["architecture"]) for o in self.listed()})
        mem = sorted({(o.ram["type"], o.ram["generation"]) for o in self.listed()})
        sto = sorted({o.storage_type for o in self.listed()})
        return {
            "cpu": [{"manufacturer": m, "architecture": a} for m, a in cpu],
            "memory": [{"type": t, "generation": g} for t, g in mem],
            "storage": [{"type": t} for t in sto],
        }

    def datacenters_wire(self) -> list[dict[str, Any]]:
        seen = {id(o.datacenter): o.datacenter for o in self.live()}
        return [dc.wire(with_id=True) for dc in sorted(seen.values(), key=lambda d: d.id)]


def _compact(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"))


def storage_additional(o: SimOffer, supply: int) -> AdditionalResource:
    """The model form of an offer's storage line (used by tests to check shapes)."""
    return AdditionalResource.model_validate(o.storage_wire(supply))


def _poisson(rng: random.Random, lam: float) -> int:
    """Knuth's algorithm (lam is small here); deterministic for the generator's state."""
    if lam <= 0:
        return 0
    if lam > 30:
        return max(0, round(rng.gauss(lam, math.sqrt(lam))))
    limit, k, p = math.exp(-lam), 0, 1.0
    while True:
        p *= rng.random()
        if p <= limit:
            return k
        k += 1
