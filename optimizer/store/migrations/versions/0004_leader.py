"""Leader lease / term row for leader election and fencing.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from optimizer.store.types import UtcDateTime

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    leader = op.create_table(
        "leader",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("term", sa.BigInteger, nullable=False),
        sa.Column("holder", sa.String(255), nullable=False),
        sa.Column("since", UtcDateTime),
        sa.Column("renewed_at", UtcDateTime),
    )
    # the single row exists from the start: term 0 = nobody has led yet
    op.bulk_insert(leader, [{"id": 1, "term": 0, "holder": ""}])


def downgrade() -> None:
    op.drop_table("leader")
