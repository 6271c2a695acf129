"""How the provider charges for a VM: the one billing model the planner, executor, budget
and backtest share (issue 15, item 1).

The optimizer keeps ONE money unit inside: USD per epoch, an epoch being 24 h (the
`*_per_epoch` names, thresholds and budget caps all mean "per 24 h"). What differs
between API generations is how that money is charged, and that is a `BillingModel`:

- `epoch-deal` (the seeds' marketplace-v3 API): a VM is charged a whole epoch up front at
  deploy and at each boundary of its own billing period (`nextBillingAt`), keeps its deal
  price, and a deploy locks a deposit of `DEPOSIT_EPOCHS` epochs. Nothing is refunded, so
  a migration wastes the old VM's paid remainder after cutover plus the new VM's paid time
  before it, and the cutover is best aligned just before the old VM's next charge.
- `per-second` (the cloud API): every resource (VM, boot disk, public IP) is billed per
  second while it exists at its hourly price; no reserve, no refund, no boundary. A
  migration costs the time both VMs exist (the new one's price × the lead time), and the
  cutover is as soon as the new VM is up. Creating anything needs a balance of at least
  `FLOOR` (6 h) of every resource of the account, the new ones included.

The API edge picks the model (`FluenceApi.billing`); the backtest picks it by its price
model (`billing_model(name)`). Nothing else asks which generation it is. Pure: no I/O.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Final, Literal, Protocol

from optimizer.clock import EPOCH, EPOCH_HOURS, EPOCH_SECONDS, utc

if TYPE_CHECKING:  # config imports pydantic: not at module load
    from optimizer.config import PriceModel

#: an epoch-deal deploy locks this many epochs of its price (the estimate endpoint's
#: `depositAmountUsdc`); the API's fact, the simulator uses it too
DEPOSIT_EPOCHS: Final = 2
#: per-second billing: creating anything needs a balance covering this long of every
#: resource of the account, the new ones included
FLOOR: Final = timedelta(hours=6)
#: the aligned cutover happens this long before the old VM's next charge
CUTOVER_MARGIN: Final = timedelta(minutes=5)

BillingName = Literal["epoch-deal", "per-second"]

_Q = Decimal("0.000001")
_EPOCH_S = Decimal(EPOCH_SECONDS)
_HOURS = Decimal(EPOCH_HOURS)


def _frac(delta: timedelta) -> Decimal:
    """A duration as a fraction of an epoch, clipped to [0, 1]."""
    f = Decimal(int(delta.total_seconds())) / _EPOCH_S
    return min(max(f, Decimal(0)), Decimal(1))


def _plain(d: Decimal) -> str:
    """`d` to the micro-dollar, without trailing zeros past the cents, never in exponent
    notation ("0.05", "12.00", "0.041667")."""
    whole, _, frac = f"{d.quantize(_Q):f}".partition(".")
    return f"{whole}.{frac.rstrip('0').ljust(2, '0')}"


@dataclass(frozen=True)
class Timing:
    """`aligned`: the cutover is a deadline just before the old VM's next charge. Otherwise
    `cutover_at` only estimates when the new VM will be up (for the overlap cost and the
    maintenance-window check): the executor cuts over as soon as it sees the VM Active
    (or has seen it Active for the fleet's `cutover_health_wait`)."""

    start_at: datetime  # deploy the new VM (not before)
    cutover_at: datetime  # delete the old VM
    aligned: bool = False


class BillingModel(Protocol):
    """How VMs are charged. Prices in and out are USD per epoch (24 h); `price`, `rate`
    and `span` turn them into the words the user's generation bills in."""

    @property
    def name(self) -> BillingName:
        """ "epoch-deal" or "per-second"."""
        ...

    @property
    def unit(self) -> str:
        """The unit VM prices are quoted in on this generation: "epoch" or "h"."""
        ...

    @property
    def day(self) -> str:
        """How a per-24-h amount (a threshold, a budget cap) is named: "epoch" or "24 h"."""
        ...

    @property
    def reserves(self) -> bool:
        """Creating a VM locks a reserve (and DELETE releases it)."""
        ...

    def market_priced(self, configured: PriceModel) -> bool:
        """Does a running VM pay its offer's price of the moment (so moves are judged on
        price levels, and no dip is chased)? `configured` is the fleet's
        `policy.price_model`, which only a billing with a price to keep can honour."""
        ...

    def schedule(
        self, now: datetime, next_billing_at: datetime | None, lead_time: timedelta, align: bool
    ) -> Timing:
        """When to start the new VM of a migration and when to cut over."""
        ...

    def overlap_cost(
        self,
        old_price: Decimal,
        new_price: Decimal,
        timing: Timing,
        next_billing_at: datetime | None,
    ) -> Decimal:
        """Money a migration spends on time nobody uses (on top of what staying costs)."""
        ...

    def deposit(self, price: Decimal) -> Decimal:
        """Cash a new VM at `price` per epoch locks at creation (0: nothing is locked)."""
        ...

    def funds_to_start(self, new: Decimal, running: Decimal) -> Decimal:
        """The balance needed to create VMs costing `new` per epoch in total while the
        account's resources cost `running` per epoch: the deposits, or the floor."""
        ...

    def funds_words(self, balance: Decimal, need: Decimal) -> str:
        """Why a balance short of `funds_to_start`'s `need` cannot create the VMs."""
        ...

    def cost_between(
        self,
        price: Decimal,
        start: datetime,
        end: datetime,
        next_billing_at: datetime | None = None,
    ) -> Decimal:
        """What a resource at `price` per epoch is charged in (`start`, `end`)."""
        ...

    def price(self, per_epoch: Decimal, places: int | None = None) -> str:
        """A per-epoch amount in this generation's unit, "$0.05" (`places`: fixed decimals
        for the epoch unit; the hourly unit shows two more)."""
        ...

    def rate(self, per_epoch: Decimal, places: int | None = None) -> str:
        """`price` with its unit: "$1.20/epoch", "$0.05/h"."""
        ...

    def price_shown(self, per_epoch: Decimal, places: int = 2) -> str:
        """`price` for humans, rounded and grouped as `fmt_usd` writes it: "$1,234.50",
        "$0.0500" (the hourly unit shows two more decimals)."""
        ...

    def rate_shown(self, per_epoch: Decimal, places: int = 2) -> str:
        """`price_shown` with its unit: "$1,234.50/epoch", "$0.0500/h"."""
        ...

    def span(self, epochs: Decimal) -> str:
        """A duration given in epochs, in this generation's words: "1.50 epochs", "36.0 h"."""
        ...


@dataclass(frozen=True)
class EpochDeal:
    """The seeds' API: a 24 h epoch charged up front at deploy and at each boundary of the
    VM's own period; the deal price holds; `DEPOSIT_EPOCHS` locked at deploy."""

    name: BillingName = "epoch-deal"
    unit: str = "epoch"
    day: str = "epoch"
    reserves: bool = True

    def market_priced(self, configured: PriceModel) -> bool:
        """As the fleet says: the seeds' API documents deal prices, a provider may not."""
        return configured == "market"

    def schedule(
        self, now: datetime, next_billing_at: datetime | None, lead_time: timedelta, align: bool
    ) -> Timing:
        """Aligned: cutover just before the old VM's next charge (`CUTOVER_MARGIN` early),
        the new VM started `lead_time` before that; when that start is already past, the
        charge after. Not aligned (or billing time unknown): start now, cut over once up."""
        if align and next_billing_at is not None:
            cutover = next_billing_at - CUTOVER_MARGIN
            while cutover - lead_time < now:
                cutover += EPOCH
            return Timing(start_at=cutover - lead_time, cutover_at=cutover, aligned=True)
        return Timing(start_at=now, cutover_at=now + lead_time)

    def overlap_cost(
        self,
        old_price: Decimal,
        new_price: Decimal,
        timing: Timing,
        next_billing_at: datetime | None,
    ) -> Decimal:
        """The old VM's paid epoch left at cutover (half an epoch when its billing time is
        unknown) plus the new VM's paid time before cutover."""
        if next_billing_at is not None:
            billing = next_billing_at
            while billing < timing.cutover_at:
                billing += EPOCH
            old_left = old_price * _frac(billing - timing.cutover_at)
        else:
            old_left = old_price / 2
        new_early = new_price * _frac(timing.cutover_at - timing.start_at)
        return (old_left + new_early).quantize(_Q)

    def deposit(self, price: Decimal) -> Decimal:
        return price * DEPOSIT_EPOCHS

    def funds_to_start(self, new: Decimal, running: Decimal) -> Decimal:
        """The new VMs' deposits; running VMs' reserves are locked already."""
        return self.deposit(new)

    def funds_words(self, balance: Decimal, need: Decimal) -> str:
        return (
            f"the balance ${balance} does not cover the deposits of the new VMs "
            f"(${need}: {DEPOSIT_EPOCHS} epochs of each)"
        )

    def cost_between(
        self,
        price: Decimal,
        start: datetime,
        end: datetime,
        next_billing_at: datetime | None = None,
    ) -> Decimal:
        """`price` per billing time (`next_billing_at` + k epochs) in (`start`, `end`);
        nothing when the billing time is unknown."""
        return price * billings_between(next_billing_at, start, end)

    def price(self, per_epoch: Decimal, places: int | None = None) -> str:
        return f"${per_epoch}" if places is None else f"${per_epoch:.{places}f}"

    def rate(self, per_epoch: Decimal, places: int | None = None) -> str:
        return f"{self.price(per_epoch, places)}/epoch"

    def price_shown(self, per_epoch: Decimal, places: int = 2) -> str:
        from optimizer.money import fmt_usd  # money imports pydantic: not at module load

        return fmt_usd(per_epoch, places)

    def rate_shown(self, per_epoch: Decimal, places: int = 2) -> str:
        return f"{self.price_shown(per_epoch, places)}/epoch"

    def span(self, epochs: Decimal) -> str:
        return f"{epochs} epochs"


@dataclass(frozen=True)
class PerSecond:
    """The cloud API: each resource billed per second from creation to deletion at its
    hourly price; no reserve, no refund, no billing boundary; a `FLOOR` of balance."""

    name: BillingName = "per-second"
    unit: str = "h"
    day: str = "24 h"
    reserves: bool = False

    def market_priced(self, configured: PriceModel) -> bool:
        """Always: nothing holds a price here, every second is billed at the price of the
        moment, so a "deal" setting would judge moves on prices that do not last."""
        return True

    def schedule(
        self, now: datetime, next_billing_at: datetime | None, lead_time: timedelta, align: bool
    ) -> Timing:
        """Start now, cut over once the new VM is up: there is no charge to wait for."""
        return Timing(start_at=now, cutover_at=now + lead_time)

    def overlap_cost(
        self,
        old_price: Decimal,
        new_price: Decimal,
        timing: Timing,
        next_billing_at: datetime | None,
    ) -> Decimal:
        """The new VM (disk and IP included in its price) billed while the old one still
        runs: staying would have paid for the old one anyway."""
        secs = max(Decimal(int((timing.cutover_at - timing.start_at).total_seconds())), Decimal(0))
        return (new_price * secs / _EPOCH_S).quantize(_Q)

    def deposit(self, price: Decimal) -> Decimal:
        return Decimal(0)

    def funds_to_start(self, new: Decimal, running: Decimal) -> Decimal:
        """`FLOOR` of everything the account runs, the new resources included."""
        return ((new + running) * Decimal(int(FLOOR.total_seconds())) / _EPOCH_S).quantize(_Q)

    def funds_words(self, balance: Decimal, need: Decimal) -> str:
        hours = int(FLOOR.total_seconds() // 3600)
        return (
            f"the balance ${balance} would not cover {hours} h of all the account's "
            f"resources with the new VM (${need}); Fluence refuses to create anything below that"
        )

    def cost_between(
        self,
        price: Decimal,
        start: datetime,
        end: datetime,
        next_billing_at: datetime | None = None,
    ) -> Decimal:
        secs = Decimal(max(int((end - start).total_seconds()), 0))
        return (price * secs / _EPOCH_S).quantize(_Q)

    def price(self, per_epoch: Decimal, places: int | None = None) -> str:
        hourly = per_epoch / _HOURS
        return f"${_plain(hourly)}" if places is None else f"${hourly:.{places + 2}f}"

    def rate(self, per_epoch: Decimal, places: int | None = None) -> str:
        return f"{self.price(per_epoch, places)}/h"

    def price_shown(self, per_epoch: Decimal, places: int = 2) -> str:
        from optimizer.money import fmt_usd  # money imports pydantic: not at module load

        return fmt_usd(per_epoch / _HOURS, places + 2)

    def rate_shown(self, per_epoch: Decimal, places: int = 2) -> str:
        return f"{self.price_shown(per_epoch, places)}/h"

    def span(self, epochs: Decimal) -> str:
        return f"{epochs * _HOURS:.1f} h"


EPOCH_DEAL: Final[BillingModel] = EpochDeal()
PER_SECOND: Final[BillingModel] = PerSecond()
MODELS: Final[dict[str, BillingModel]] = {m.name: m for m in (EPOCH_DEAL, PER_SECOND)}


def billing_model(name: str) -> BillingModel:
    """The model called `name` ("epoch-deal" or "per-second"); ValueError otherwise."""
    try:
        return MODELS[name]
    except KeyError:
        raise ValueError(
            f"unknown billing model {name!r} (known: {', '.join(sorted(MODELS))})"
        ) from None


def billings_between(next_billing_at: datetime | None, after: datetime, before: datetime) -> int:
    """How many billing times `next_billing_at + k·epoch` (k any integer) lie in (after, before)."""
    if next_billing_at is None or before <= after:
        return 0
    nb = utc(next_billing_at)
    # first billing time strictly after `after`
    k = (after - nb) // EPOCH + 1
    first = nb + k * EPOCH
    if first >= before:
        return 0
    return int((before - first - timedelta(microseconds=1)) // EPOCH) + 1
