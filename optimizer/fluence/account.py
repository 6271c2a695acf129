"""Neutral facts about the account, whatever API generation answers them: its balance,
what everything it holds costs per hour, and what it was charged.

    facts = api.account(since=date(2026, 3, 1), today=date(2026, 3, 17))
    facts.balance            # USD available now, or None when the API does not say
    facts.burn_per_hour      # USD per hour of every billed VM, disk and IP, or None

An API that cannot answer a part leaves it None (the seeds' generation has no balance
and no charges: every part is None and nothing is asked). Money is Decimal USD.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from optimizer.clock import EPOCH_HOURS

ZERO = Decimal(0)

#: kinds of billed resources
VM, DISK, IP = "vm", "disk", "ip"


@dataclass(frozen=True)
class BilledResource:
    """One resource the meter runs for now (a VM, a disk or a public IP)."""

    id: str
    name: str
    kind: str  # VM, DISK or IP
    per_hour: Decimal | None  # None: no price known for it
    #: disks and IPs: whether a VM holds it (None for VMs, or when the API does not say)
    attached: bool | None = None


@dataclass(frozen=True)
class ResourceCharge:
    """What one resource was charged over a range of days."""

    resource_id: str | None
    name: str | None
    kind: str | None  # VM, DISK, IP, or the API's own word for anything else
    cost: Decimal


@dataclass(frozen=True)
class AccountFacts:
    """The account as the API reports it now.

    `charges_since` (a UTC day) to the day the facts were asked: `charged` per resource
    over those days, `charged_today` per resource on the last one. Both None when the
    API does not report charges."""

    balance: Decimal | None = None
    resources: tuple[BilledResource, ...] | None = None
    charges_since: date | None = None
    charged: tuple[ResourceCharge, ...] | None = None
    charged_today: tuple[ResourceCharge, ...] | None = None
    notes: tuple[str, ...] = field(default=())  # parts the API could not answer, and why

    @property
    def known(self) -> bool:
        """Whether the API reported anything at all."""
        return self.balance is not None or self.resources is not None or self.charged is not None

    @property
    def burn_per_hour(self) -> Decimal | None:
        """What every billed resource costs per hour now; None when the resources are
        unknown or any of them has no known price (a low guess would overstate the
        runway)."""
        if self.resources is None or any(r.per_hour is None for r in self.resources):
            return None
        return sum((r.per_hour for r in self.resources if r.per_hour is not None), ZERO)

    @property
    def burn_per_epoch(self) -> Decimal | None:
        """`burn_per_hour` in the planner's unit (USD per 24 h)."""
        burn = self.burn_per_hour
        return None if burn is None else burn * EPOCH_HOURS

    @property
    def spent_since(self) -> Decimal | None:
        return _total(self.charged)

    @property
    def spent_today(self) -> Decimal | None:
        return _total(self.charged_today)


def _total(charges: Iterable[ResourceCharge] | None) -> Decimal | None:
    return None if charges is None else sum((c.cost for c in charges), ZERO)


#: what an API without account facts answers
UNKNOWN = AccountFacts()
