"""Alert state, pending alert deliveries, plan cash needs.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from optimizer.store.types import BigId, UtcDateTime

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "alert_state",
        sa.Column("key", sa.String(200), primary_key=True),
        sa.Column("family", sa.String(64), nullable=False),
        sa.Column("fleet", sa.String(64)),
        sa.Column("severity", sa.String(16), nullable=False),
        sa.Column("title", sa.Text, nullable=False),
        sa.Column("level", sa.Float, nullable=False),
        sa.Column("event", sa.Boolean, nullable=False),
        sa.Column("payload", sa.Text, nullable=False),
        sa.Column("first_fired_at", UtcDateTime, nullable=False),
        sa.Column("last_seen_at", UtcDateTime, nullable=False),
        sa.Column("last_notified_at", UtcDateTime),
        sa.Column("resolved_at", UtcDateTime),
        sa.Column("notify_count", sa.Integer, nullable=False),
    )
    op.create_table(
        "alert_delivery",
        sa.Column("id", BigId, primary_key=True),
        sa.Column("alert_key", sa.String(200), nullable=False),
        sa.Column("sink", sa.String(64), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("payload", sa.Text, nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("created_at", UtcDateTime, nullable=False),
        sa.Column("next_attempt_at", UtcDateTime, nullable=False),
        sa.Column("delivered_at", UtcDateTime),
        sa.Column("last_error", sa.Text),
    )
    op.create_index(
        "ix_alert_delivery_state", "alert_delivery", ["state", "next_attempt_at"]
    )
    op.create_table(
        "plan_cash",
        sa.Column("fleet", sa.String(64), primary_key=True),
        sa.Column("deposit_micros", sa.BigInteger, nullable=False),
        sa.Column("savings_micros", sa.BigInteger, nullable=False),
        sa.Column("planned_at", UtcDateTime, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("plan_cash")
    op.drop_index("ix_alert_delivery_state", table_name="alert_delivery")
    op.drop_table("alert_delivery")
    op.drop_table("alert_state")
