"""The planner's inputs and outputs: plain, frozen dataclasses.

Nothing here knows the wire format or the database. Adapters build these values:
`optimizer.planner.market_view` (wire Offer/Vm → MarketOffer/OwnedVm) and the executor's
journal (InFlight). Money is Decimal; times are timezone-aware UTC.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from functools import cached_property
from typing import Literal

from optimizer.billing import CUTOVER_MARGIN as CUTOVER_MARGIN
from optimizer.billing import EPOCH_DEAL, BillingModel
from optimizer.config import Mode
from optimizer.fluence.models import Constraints, PriceUnit

DEFAULT_LEAD_TIME = timedelta(minutes=10)

Decision = Literal["stay", "migrate", "delete", "finalize", "replace", "busy"]
ActionKind = Literal["deploy", "migrate", "delete", "finalize", "replace_stuck"]


@dataclass(frozen=True)
class OwnedVm:
    """A VM the fleet owns (created by the daemon or adopted). Only these are ever acted on."""

    id: str
    name: str
    status: str
    price: Decimal | None
    next_billing_at: datetime | None = None
    created_at: datetime | None = None
    datacenter: str | None = None  # label "FR-PAR-1"
    country: str | None = None
    vcpu: int | None = None
    ram_gb: int | None = None
    reserved_balance: Decimal = Decimal(0)
    last_migrated_at: datetime | None = None
    offer_key: str | None = None  # the offer it runs on, when known (v3: the API does not say)
    #: what `price` is per; "hour" (a cloud VM: the VM alone) is made a whole price per
    #: epoch (`whole_price.priced_vms`) before the planner compares it with anything
    price_unit: PriceUnit = "epoch"
    cluster_id: str | None = None  # cloud: where it runs (its disk and IP are priced there)
    has_public_ip: bool = False  # cloud: it holds a public IP (billed on its own)


@dataclass(frozen=True)
class MarketOffer:
    """One offer as the planner sees it (see `market_view.offer_from_wire`).

    `price` is per `price_unit`; a cloud offer ("hour") also carries its cluster's price
    per GB of boot disk and per public IP in that unit. `whole_price.priced_market` turns
    each into a whole VM's price per epoch for a fleet before anything is compared."""

    offer_key: str
    configuration: str
    vcpu: int
    ram_gb: int
    country: str
    datacenter: str
    price: Decimal
    capacity: int
    tier: int | None = None
    certifications: tuple[str, ...] = ()
    cpu_manufacturer: str | None = None
    cpu_architecture: str | None = None
    memory_type: str | None = None
    memory_generation: str | None = None
    storage_type: str | None = None
    reliability: float | None = None
    listed_since: datetime | None = None
    storage_gib_price: Decimal | None = None  # additional storage, USD per GiB per epoch
    #: where a deploy must land to get this offer, on the cloud generation (else None)
    cluster_id: str | None = None
    configuration_id: str | None = None
    price_unit: PriceUnit = "epoch"
    disk_price_per_gb: Decimal | None = None
    public_ip_price: Decimal | None = None

    @property
    def hardware_key(self) -> tuple[str | None, ...]:
        return (
            self.cpu_manufacturer,
            self.cpu_architecture,
            self.memory_type,
            self.memory_generation,
            self.storage_type,
        )

    @property
    def group(self) -> tuple[object, ...]:
        """Offers in one group are indistinguishable to the deploy endpoint's filters (a
        cloud deploy names its cluster: each cluster is a group of its own)."""
        return (self.configuration, self.country, self.hardware_key, self.cluster_id)


@dataclass(frozen=True)
class MarketView:
    """The latest offers, as taken at `taken_at`."""

    offers: tuple[MarketOffer, ...]
    taken_at: datetime

    @cached_property
    def hourly(self) -> bool:
        """Whether any offer is priced per hour (the cloud generation)."""
        return any(o.price_unit == "hour" for o in self.offers)

    @cached_property
    def by_group(self) -> Mapping[tuple[object, ...], tuple[MarketOffer, ...]]:
        out: dict[tuple[object, ...], list[MarketOffer]] = {}
        for o in self.offers:
            out.setdefault(o.group, []).append(o)
        return {k: tuple(sorted(v, key=lambda o: (o.price, o.offer_key))) for k, v in out.items()}

    @cached_property
    def by_configuration(self) -> Mapping[str, tuple[MarketOffer, ...]]:
        """Offers per configuration slug, each tuple in the planner's default rank order
        (price, then longer-listed, then offer key)."""
        out: dict[str, list[MarketOffer]] = {}
        for o in self.offers:
            out.setdefault(o.configuration, []).append(o)
        return {k: tuple(sorted(v, key=_default_rank)) for k, v in out.items()}


def _default_rank(o: MarketOffer) -> tuple[object, ...]:
    score = o.reliability
    listed = o.listed_since.timestamp() if o.listed_since else float("inf")
    return (o.price, -(score if score is not None else 0.5), listed, o.offer_key)


@dataclass(frozen=True)
class Trends:
    """Optional analysis results. `reliability`: datacenter label → score in [0, 1]
    (terminations and offer longevity); `forecast`: (configuration, country) → expected
    price per epoch; `slope`: same key → USD per epoch per epoch; `levels`: see below."""

    reliability: Mapping[str, float] = field(default_factory=dict)
    forecast: Mapping[tuple[str, str], Decimal] = field(default_factory=dict)
    slope: Mapping[tuple[str, str], float] = field(default_factory=dict)
    #: offer key → (recent median price, half-width of its 90 % prediction interval),
    #: USD per epoch (`optimizer.analysis.levels`)
    levels: Mapping[str, tuple[Decimal, Decimal]] = field(default_factory=dict)
    #: offer key → median price over the last 7 days, USD per epoch: what a move off an
    #: offer no longer listed (a price no deploy can get again) is judged against
    week_levels: Mapping[str, Decimal] = field(default_factory=dict)


@dataclass(frozen=True)
class BudgetState:
    """`cap_per_epoch`: the most all VMs together may cost per epoch (None: no cap).
    `spend_per_epoch`: what the account's running VMs cost per epoch now, all fleets and
    foreign VMs included. `reserves_held`: reserve balances currently locked.
    `balance_usd`: the account's balance (None: unknown, the balance is not checked).
    `burn_per_epoch`: what everything the account holds costs per epoch now — VMs, disks
    and IPs, attached or not (None: `spend_per_epoch`). The two decide whether the plan
    may create VMs (`BillingModel.funds_to_start`: the deposits, or the balance floor)."""

    cap_per_epoch: Decimal | None = None
    spend_per_epoch: Decimal = Decimal(0)
    reserves_held: Decimal = Decimal(0)
    balance_usd: Decimal | None = None
    burn_per_epoch: Decimal | None = None


@dataclass(frozen=True)
class LaunchStats:
    """How long a deploy takes to become Active (learned from the store, else a default)."""

    lead_time: timedelta = DEFAULT_LEAD_TIME


@dataclass(frozen=True)
class InFlight:
    """What the executor is already doing for this fleet (from the journal).

    `busy`: VMs an unfinished action will change (a migration's old VM, a VM being
    deleted or finalized); they still count toward the size but get no new action.
    `new_vm_ids`: VMs created by unfinished actions (not counted yet, left alone).
    `scaling`: unfinished deploy/delete/replace actions; while any runs, size is not
    re-decided. `migrations`: unfinished migrations (each is one VM of surge).
    `recent_migrations`: start times of migrations (for the per-epoch limit).
    `avoid_datacenters`: where the datacenter itself recently failed a launch (try elsewhere)."""

    busy: frozenset[str] = frozenset()
    new_vm_ids: frozenset[str] = frozenset()
    scaling: int = 0
    migrations: int = 0
    recent_migrations: tuple[datetime, ...] = ()
    avoid_datacenters: frozenset[str] = frozenset()


@dataclass(frozen=True)
class Action:
    """One step the fleet should take. `vm_id` is the owned VM acted on (migrate, delete,
    finalize, replace_stuck); `constraints` are the exact filters to estimate and deploy
    with (deploy, migrate, replace_stuck), their `max_total_price_per_epoch_usd` = `cap`.
    `not_before`: do not start before; `cutover_at`: delete the old VM at this time (a
    billing-aligned migration); None: as soon as the new VM is Active."""

    kind: ActionKind
    fleet: str
    reason: str
    vm_id: str | None = None
    offer: MarketOffer | None = None
    constraints: Constraints | None = None
    cap: Decimal | None = None
    expected_price: Decimal | None = None
    old_price: Decimal | None = None
    saving_per_epoch: Decimal = Decimal(0)
    saving_over_horizon: Decimal = Decimal(0)
    not_before: datetime | None = None
    cutover_at: datetime | None = None

    @property
    def deploys(self) -> bool:
        return self.kind in ("deploy", "migrate", "replace_stuck")


@dataclass(frozen=True)
class VmVerdict:
    """Why a VM stays or moves, in plain words."""

    vm_id: str
    name: str
    decision: Decision
    reason: str


@dataclass(frozen=True)
class Plan:
    fleet: str
    mode: Mode
    now: datetime
    actions: tuple[Action, ...]
    verdicts: tuple[VmVerdict, ...]
    target_instances: int
    healthy_instances: int
    cost_per_epoch_now: Decimal
    cost_per_epoch_planned: Decimal
    deposits_needed: Decimal
    reserves_held: Decimal
    notes: tuple[str, ...] = ()
    budget_limited: bool = False
    #: how the plan's money was counted (and how to show it: per epoch or per hour)
    billing: BillingModel = EPOCH_DEAL

    @property
    def cash_needed(self) -> Decimal:
        """Cash the plan locks now: new VMs' deposits where the provider takes them (2 epochs
        each on epoch deals, none on per-second billing), on top of reserves."""
        return self.deposits_needed

    @property
    def saving_per_epoch(self) -> Decimal:
        return sum((a.saving_per_epoch for a in self.actions), Decimal(0))
