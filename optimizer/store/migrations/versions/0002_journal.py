"""Executor journal, fleet ownership, savings ledger.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from optimizer.store.types import BigId, UtcDateTime

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "journal_action",
        sa.Column("id", BigId, primary_key=True),
        sa.Column("fleet", sa.String(64), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("token", sa.String(32), nullable=False, unique=True),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("constraints_json", sa.Text),
        sa.Column("cap_micros", sa.BigInteger),
        sa.Column("expected_price_micros", sa.BigInteger),
        sa.Column("old_price_micros", sa.BigInteger),
        sa.Column("new_price_micros", sa.BigInteger),
        sa.Column("target_datacenter", sa.String(40)),
        sa.Column("old_vm_id", sa.String(128)),
        sa.Column("new_vm_ids", sa.Text, nullable=False),
        sa.Column("not_before", UtcDateTime),
        sa.Column("cutover_at", UtcDateTime),
        sa.Column("created_at", UtcDateTime, nullable=False),
        sa.Column("updated_at", UtcDateTime, nullable=False),
        sa.Column("deploy_started_at", UtcDateTime),
        sa.Column("finished_at", UtcDateTime),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("error", sa.Text),
        sa.Column("fencing_token", sa.BigInteger),
    )
    op.create_index("ix_journal_action_fleet_state", "journal_action", ["fleet", "state"])
    op.create_table(
        "fleet_vm",
        sa.Column("vm_id", sa.String(128), primary_key=True),
        sa.Column("fleet", sa.String(64), nullable=False),
        sa.Column("source", sa.String(16), nullable=False),
        sa.Column("vm_name", sa.String(128), nullable=False),
        sa.Column("action_id", sa.BigInteger),
        sa.Column("owned_at", UtcDateTime, nullable=False),
        sa.Column("last_migrated_at", UtcDateTime),
        sa.Column("released_at", UtcDateTime),
    )
    op.create_index("ix_fleet_vm_fleet", "fleet_vm", ["fleet"])
    op.create_table(
        "savings_ledger",
        sa.Column("id", BigId, primary_key=True),
        sa.Column("fleet", sa.String(64), nullable=False),
        sa.Column("action_id", sa.BigInteger, nullable=False),
        sa.Column("old_vm_id", sa.String(128), nullable=False),
        sa.Column("new_vm_id", sa.String(128), nullable=False),
        sa.Column("old_price_micros", sa.BigInteger, nullable=False),
        sa.Column("new_price_micros", sa.BigInteger, nullable=False),
        sa.Column("completed_at", UtcDateTime, nullable=False),
        sa.Column("ended_at", UtcDateTime),
    )
    op.create_index("ix_savings_ledger_fleet", "savings_ledger", ["fleet"])


def downgrade() -> None:
    op.drop_table("savings_ledger")
    op.drop_table("fleet_vm")
    op.drop_index("ix_journal_action_fleet_state", table_name="journal_action")
    op.drop_table("journal_action")
