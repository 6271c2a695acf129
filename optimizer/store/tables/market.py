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

These are SQLAlchemy Core tables, not SQLModel classes: nothing reads them through the
ORM, and the snapshot path (the most frequent command and daemon stage) then needs
neither SQLModel nor the ORM, about 0.3 s of imports. `optimizer.store.tables.metadata()`
adds them to the metadata that knows every table (Alembic, `db copy`, the schema tests).
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Column,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
)

from optimizer.store.types import BigId, ExactDecimal, UtcDateTime

OUTCOME_OK = "ok"
OUTCOME_FAILED = "failed"

METADATA = MetaData()

snapshot_table = Table(
    "snapshot",  # one marketplace poll
    METADATA,
    Column("id", BigId, primary_key=True),
    Column("taken_at", UtcDateTime, nullable=False, index=True),
    Column("duration_ms", Integer, nullable=False),
    Column("offer_count", Integer, nullable=False),
    Column("outcome", String(8), nullable=False),  # ok | failed
    Column("error", Text, nullable=True),
    # sha-256 (32 hex digits) of an ok snapshot's raw answer when it was stored whole (no
    # offer skipped, no duplicate keys): an identical next answer needs no parsing
    Column("answer_digest", String(32), nullable=True),
)

offer_table = Table(
    "offer",  # one derived offer identity and its attributes (`fluence.models.offer_key`)
    METADATA,
    Column("id", BigId, primary_key=True),
    Column("key", String(40), nullable=False, unique=True),
    Column("configuration", String(80), nullable=False),
    Column("vcpu", Integer),
    Column("ram_gb", Integer),
    Column("storage_gb", Integer),
    Column("storage_type", String(16)),
    Column("cpu_manufacturer", String(40)),
    Column("cpu_architecture", String(40)),
    Column("country", String(8), nullable=False),
    Column("city", String(16), nullable=False),
    Column("city_index", Integer, nullable=False),
    Column("datacenter", String(40), nullable=False),  # "FR-PAR-1"
    Column("tier", Integer),
    Column("certifications", Text, nullable=False),  # "; "-joined
    # what the price is per: "epoch" (24 h, marketplace-v3) or "hour" (cloud); migration 0008
    Column("price_unit", String(8), nullable=False, server_default="epoch"),
    # cloud price points: the cluster's price per GB of boot disk and per public IP, in
    # `price_unit` (NULL on marketplace-v3); kept current like tier; migration 0011
    Column("disk_price_per_gb", ExactDecimal, nullable=True),
    Column("public_ip_price", ExactDecimal, nullable=True),
    Column("first_seen", UtcDateTime, nullable=False),
    # written when the offer is inserted and when it stops being listed; while it is
    # listed (an open `offer_price` interval) it was last seen in the latest ok snapshot,
    # which `queries.offer_lifetimes` reads instead (so an unchanged offer costs no write)
    Column("last_seen", UtcDateTime, nullable=False),
)

offer_price_table = Table(
    "offer_price",  # an interval of ok snapshots with one price and capacity of an offer
    METADATA,
    Column("id", BigId, primary_key=True),
    Column("offer_id", BigInteger, ForeignKey("offer.id", ondelete="CASCADE"), nullable=False),
    Column("price_micros", BigInteger, nullable=False),
    Column("capacity", Integer, nullable=False),
    # Range bounds, not references: no foreign key, so retention can drop old snapshots
    # without SQLite scanning this table once per deleted snapshot.
    Column("from_snapshot_id", BigInteger, nullable=False),
    Column("to_snapshot_id", BigInteger, nullable=True),
    Index("ix_offer_price_to_snapshot", "to_snapshot_id"),
)

# Per-offer aggregates of one epoch (UTC day), kept `retention.epoch_days`. `epoch` is
# the day number since 1970-01-01 UTC; `first_seen_s`/`last_seen_s` are seconds into
# that day of the first and last snapshot listing the offer; `samples` is the number of
# snapshots that listed it. Prices are micro-USD.
offer_epoch_table = Table(
    "offer_epoch",
    METADATA,
    Column("epoch", Integer, primary_key=True, autoincrement=False),
    Column(
        "offer_id",
        BigInteger,
        ForeignKey("offer.id", ondelete="CASCADE"),
        primary_key=True,
        autoincrement=False,
    ),
    Column("price_min", BigInteger, nullable=False),
    Column("price_median", BigInteger, nullable=False),
    Column("price_max", BigInteger, nullable=False),
    Column("capacity_min", Integer, nullable=False),
    Column("capacity_max", Integer, nullable=False),
    Column("first_seen_s", Integer, nullable=False),
    Column("last_seen_s", Integer, nullable=False),
    Column("samples", Integer, nullable=False),
    sqlite_with_rowid=False,
)

vm_table = Table(
    "vm",  # a VM ever seen in `GET /vms/v3` (any owner: the account's VMs)
    METADATA,
    Column("id", BigId, primary_key=True),
    Column("vm_id", String(128), nullable=False, unique=True),
    Column("name", String(128), nullable=False),
    Column("created_at", UtcDateTime),
    Column("datacenter", String(40)),  # last known
    Column("first_seen", UtcDateTime, nullable=False),
    Column("last_seen", UtcDateTime, nullable=False),
)

vm_observation_table = Table(
    "vm_observation",  # an interval `[from_at, to_at]` of polls in which a VM looked the same
    METADATA,
    Column("id", BigId, primary_key=True),
    Column("vm_ref", BigInteger, ForeignKey("vm.id", ondelete="CASCADE"), nullable=False),
    Column("status", String(32), nullable=False),
    Column("price_micros", BigInteger),
    Column("reserved_micros", BigInteger),
    Column("spent_micros", BigInteger),
    Column("next_billing_at", UtcDateTime),
    Column("datacenter", String(40)),
    Column("from_at", UtcDateTime, nullable=False),
    Column("to_at", UtcDateTime, nullable=False),
    Index("ix_vm_observation_vm", "vm_ref", "from_at"),
)
