"""The account's latest facts (balance, billed resources, charges) for the balance
runway shown by `budget` and alerted on.

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-27
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from optimizer.store.types import UtcDateTime

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "account_state",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("observed_at", UtcDateTime, nullable=False),
        sa.Column("payload", sa.Text, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("account_state")
