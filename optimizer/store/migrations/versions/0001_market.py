"""Market history: snapshots, offers, change-only price intervals, epoch aggregates, VMs.

Revision ID: 0001
Revises:
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from optimizer.store.types import BigId, UtcDateTime

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "snapshot",
        sa.Column("id", BigId, primary_key=True),
        sa.Column("taken_at", UtcDateTime, nullable=False),
        sa.Column("duration_ms", sa.Integer, nullable=False),
        sa.Column("offer_count", sa.Integer, nullable=False),
        sa.Column("outcome", sa.String(8), nullable=False),
        sa.Column("error", sa.Text, nullable=True),
    )
    op.create_index("ix_snapshot_taken_at", "snapshot", ["taken_at"])
    op.create_table(
        "offer",
        sa.Column("id", BigId, primary_key=True),
        sa.Column("key", sa.String(40), nullable=False, unique=True),
        sa.Column("configuration", sa.String(80), nullable=False),
        sa.Column("vcpu", sa.Integer),
        sa.Column("ram_gb", sa.Integer),
        sa.Column("storage_gb", sa.Integer),
        sa.Column("storage_type", sa.String(16)),
        sa.Column("cpu_manufacturer", sa.String(40)),
        sa.Column("cpu_architecture", sa.String(40)),
        sa.Column("country", sa.String(8), nullable=False),
        sa.Column("city", sa.String(16), nullable=False),
        sa.Column("city_index", sa.Integer, nullable=False),
        sa.Column("datacenter", sa.String(40), nullable=False),
        sa.Column("tier", sa.Integer),
        sa.Column("certifications", sa.Text, nullable=False),
        sa.Column("first_seen", UtcDateTime, nullable=False),
        sa.Column("last_seen", UtcDateTime, nullable=False),
    )
    op.create_table(
        "offer_price",
        sa.Column("id", BigId, primary_key=True),
        sa.Column(
            "offer_id", sa.BigInteger, sa.ForeignKey("offer.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("price_micros", sa.BigInteger, nullable=False),
        sa.Column("capacity", sa.Integer, nullable=False),
        sa.Column("from_snapshot_id", sa.BigInteger, nullable=False),
        sa.Column("to_snapshot_id", sa.BigInteger, nullable=True),
    )
    op.create_index("ix_offer_price_to_snapshot", "offer_price", ["to_snapshot_id"])
    op.create_table(
        "offer_epoch",
        sa.Column("epoch", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column(
            "offer_id", sa.BigInteger, sa.ForeignKey("offer.id", ondelete="CASCADE"),
            primary_key=True, autoincrement=False,
        ),
        sa.Column("price_min", sa.BigInteger, nullable=False),
        sa.Column("price_median", sa.BigInteger, nullable=False),
        sa.Column("price_max", sa.BigInteger, nullable=False),
        sa.Column("capacity_min", sa.Integer, nullable=False),
        sa.Column("capacity_max", sa.Integer, nullable=False),
        sa.Column("first_seen_s", sa.Integer, nullable=False),
        sa.Column("last_seen_s", sa.Integer, nullable=False),
        sa.Column("samples", sa.Integer, nullable=False),
        sqlite_with_rowid=False,
    )
    op.create_table(
        "vm",
        sa.Column("id", BigId, primary_key=True),
        sa.Column("vm_id", sa.String(128), nullable=False, unique=True),
        sa.Column("name", sa.String(128), nullable=False),
        sa.Column("created_at", UtcDateTime),
        sa.Column("datacenter", sa.String(40)),
        sa.Column("first_seen", UtcDateTime, nullable=False),
        sa.Column("last_seen", UtcDateTime, nullable=False),
    )
    op.create_table(
        "vm_observation",
        sa.Column("id", BigId, primary_key=True),
        sa.Column(
            "vm_ref", sa.BigInteger, sa.ForeignKey("vm.id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column("status", sa.String(32), nullable=False),
        sa.Column("price_micros", sa.BigInteger),
        sa.Column("reserved_micros", sa.BigInteger),
        sa.Column("spent_micros", sa.BigInteger),
        sa.Column("next_billing_at", UtcDateTime),
        sa.Column("datacenter", sa.String(40)),
        sa.Column("from_at", UtcDateTime, nullable=False),
        sa.Column("to_at", UtcDateTime, nullable=False),
    )
    op.create_index("ix_vm_observation_vm", "vm_observation", ["vm_ref", "from_at"])


def downgrade() -> None:
    op.drop_index("ix_vm_observation_vm", table_name="vm_observation")
    op.drop_table("vm_observation")
    op.drop_table("vm")
    op.drop_table("offer_epoch")
    op.drop_index("ix_offer_price_to_snapshot", table_name="offer_price")
    op.drop_table("offer_price")
    op.drop_table("offer")
    op.drop_index("ix_snapshot_taken_at", table_name="snapshot")
    op.drop_table("snapshot")
