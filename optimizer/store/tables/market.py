"""Marketplace and VM history (migration 0001).

Storage is change-only so that months of 15-minute snapshots stay small:

- `snapshot`: one row per marketplace poll (ok or failed).
- `offer`: one row per derived offer key, with the offer's attributes as columns. An
  offer listed again in the next snapshot does not copy its metadata.
- `offer_price`: one row per *interval* during which an offer was listed at one price
  and capacity, in every ok snapshot with `from_snapshot_id <= id <= to_snapshot_id`.
  `to_snapshot_id` is NULL while the interval is open (the offer is still listed,
  unchanged, in the latest ok snapshot), so an unchanged offer costs no write at all.
  Failed snapshots in between do not break an interval (they carry no observations).
- `offer_epoch`: per-offer per-epoch (24 h UTC day) aggregates that raw intervals are
  rolled up into after `retention.raw_days`.
- `vm`, `vm_observation`: VMs from `GET /vms/v3`, observations change-only as
  `[from_at, to_at]` intervals of identical status/price/balances.

Money is integer micro-USD; timestamps are aware UTC.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Column, ForeignKey, Index, Integer, String, Text
from sqlmodel import Field, SQLModel

from optimizer.store.types import BigId, UtcDateTime

OUTCOME_OK = "ok"
OUTCOME_FAILED = "failed"


class Snapshot(SQLModel, table=True):
    """One marketplace poll."""

    __tablename__ = "snapshot"

    id: int | None = Field(default=None, sa_column=Column(BigId, primary_key=True))
    taken_at: datetime = Field(sa_column=Column(UtcDateTime, nullable=False, index=True))
    duration_ms: int = Field(sa_column=Column(Integer, nullable=False))
    offer_count: int = Field(sa_column=Column(Integer, nullable=False))
    outcome: str = Field(sa_column=Column(String(8), nullable=False))  # ok | failed
    error: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    # sha-256 (32 hex digits) of an ok snapshot's raw answer when it was stored whole (no
    # offer skipped, no duplicate keys): an identical next answer needs no parsing
    answer_digest: str | None = Field(default=None, sa_column=Column(String(32), nullable=True))


class OfferRecord(SQLModel, table=True):
    """One derived offer identity and its attributes (see `optimizer.fluence.models.offer_key`)."""

    __tablename__ = "offer"

    id: int | None = Field(default=None, sa_column=Column(BigId, primary_key=True))
    key: str = Field(sa_column=Column(String(40), nullable=False, unique=True))
    configuration: str = Field(sa_column=Column(String(80), nullable=False))
    vcpu: int | None = Field(default=None, sa_column=Column(Integer))
    ram_gb: int | None = Field(default=None, sa_column=Column(Integer))
    storage_gb: int | None = Field(default=None, sa_column=Column(Integer))
    storage_type: str | None = Field(default=None, sa_column=Column(String(16)))
    cpu_manufacturer: str | None = Field(default=None, sa_column=Column(String(40)))
    cpu_architecture: str | None = Field(default=None, sa_column=Column(String(40)))
    country: str = Field(sa_column=Column(String(8), nullable=False))
    city: str = Field(sa_column=Column(String(16), nullable=False))
    city_index: int = Field(sa_column=Column(Integer, nullable=False))
    datacenter: str = Field(sa_column=Column(String(40), nullable=False))  # "FR-PAR-1"
    tier: int | None = Field(default=None, sa_column=Column(Integer))
    certifications: str = Field(default="", sa_column=Column(Text, nullable=False))  # "; "-joined
    # what the price is per: "epoch" (24 h, marketplace-v3) or "hour" (cloud); migration 0008
    price_unit: str = Field(
        default="epoch",
        sa_column=Column(String(8), nullable=False, server_default="epoch"),
    )
    first_seen: datetime = Field(sa_column=Column(UtcDateTime, nullable=False))
    # written when the offer is inserted and when it stops being listed; while it is
    # listed (an open `offer_price` interval) it was last seen in the latest ok snapshot,
    # which `queries.offer_lifetimes` reads instead (so an unchanged offer costs no write)
    last_seen: datetime = Field(sa_column=Column(UtcDateTime, nullable=False))


class OfferPrice(SQLModel, table=True):
    """An interval of ok snapshots in which an offer was listed at one price and capacity."""

    __tablename__ = "offer_price"
    __table_args__ = (Index("ix_offer_price_to_snapshot", "to_snapshot_id"),)

    id: int | None = Field(default=None, sa_column=Column(BigId, primary_key=True))
    offer_id: int = Field(
        sa_column=Column(BigInteger, ForeignKey("offer.id", ondelete="CASCADE"), nullable=False)
    )
    price_micros: int = Field(sa_column=Column(BigInteger, nullable=False))
    capacity: int = Field(sa_column=Column(Integer, nullable=False))
    # Range bounds, not references: no foreign key, so retention can drop old snapshots
    # without SQLite scanning this table once per deleted snapshot.
    from_snapshot_id: int = Field(sa_column=Column(BigInteger, nullable=False))
    to_snapshot_id: int | None = Field(default=None, sa_column=Column(BigInteger, nullable=True))


class OfferEpoch(SQLModel, table=True):
    """Per-offer aggregates of one epoch (UTC day), kept `retention.epoch_days`.

    `epoch` is the day number since 1970-01-01 UTC; `first_seen_s`/`last_seen_s` are
    seconds into that day of the first and last snapshot listing the offer; `samples`
    is the number of snapshots that listed it. Prices are micro-USD.
    """

    __tablename__ = "offer_epoch"
    __table_args__ = {"sqlite_with_rowid": False}

    epoch: int = Field(sa_column=Column(Integer, primary_key=True, autoincrement=False))
    offer_id: int = Field(
        sa_column=Column(
            BigInteger,
            ForeignKey("offer.id", ondelete="CASCADE"),
            primary_key=True,
            autoincrement=False,
        )
    )
    price_min: int = Field(sa_column=Column(BigInteger, nullable=False))
    price_median: int = Field(sa_column=Column(BigInteger, nullable=False))
    price_max: int = Field(sa_column=Column(BigInteger, nullable=False))
    capacity_min: int = Field(sa_column=Column(Integer, nullable=False))
    capacity_max: int = Field(sa_column=Column(Integer, nullable=False))
    first_seen_s: int = Field(sa_column=Column(Integer, nullable=False))
    last_seen_s: int = Field(sa_column=Column(Integer, nullable=False))
    samples: int = Field(sa_column=Column(Integer, nullable=False))


class VmRecord(SQLModel, table=True):
    """A VM ever seen in `GET /vms/v3` (any owner: the account's VMs)."""

    __tablename__ = "vm"

    id: int | None = Field(default=None, sa_column=Column(BigId, primary_key=True))
    vm_id: str = Field(sa_column=Column(String(128), nullable=False, unique=True))
    name: str = Field(sa_column=Column(String(128), nullable=False))
    created_at: datetime | None = Field(default=None, sa_column=Column(UtcDateTime))
    datacenter: str | None = Field(default=None, sa_column=Column(String(40)))  # last known
    first_seen: datetime = Field(sa_column=Column(UtcDateTime, nullable=False))
    last_seen: datetime = Field(sa_column=Column(UtcDateTime, nullable=False))


class VmObservation(SQLModel, table=True):
    """An interval `[from_at, to_at]` of polls in which a VM looked the same."""

    __tablename__ = "vm_observation"
    __table_args__ = (Index("ix_vm_observation_vm", "vm_ref", "from_at"),)

    id: int | None = Field(default=None, sa_column=Column(BigId, primary_key=True))
    vm_ref: int = Field(
        sa_column=Column(BigInteger, ForeignKey("vm.id", ondelete="CASCADE"), nullable=False)
    )
    status: str = Field(sa_column=Column(String(32), nullable=False))
    price_micros: int | None = Field(default=None, sa_column=Column(BigInteger))
    reserved_micros: int | None = Field(default=None, sa_column=Column(BigInteger))
    spent_micros: int | None = Field(default=None, sa_column=Column(BigInteger))
    next_billing_at: datetime | None = Field(default=None, sa_column=Column(UtcDateTime))
    datacenter: str | None = Field(default=None, sa_column=Column(String(40)))
    from_at: datetime = Field(sa_column=Column(UtcDateTime, nullable=False))
    to_at: datetime = Field(sa_column=Column(UtcDateTime, nullable=False))
