"""Why a journal action failed, so only a datacenter's own failures make the planner avoid it.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("journal_action") as batch:
        batch.add_column(sa.Column("failure_cause", sa.String(16), nullable=True))
    # before 0005 every failure with a created VM made the planner avoid the datacenter;
    # keep that reading for old rows (they age out of the one-epoch window anyway)
    op.execute(
        "UPDATE journal_action SET failure_cause = 'launch' "
        "WHERE state = 'failed' AND new_vm_ids <> ''"
    )


def downgrade() -> None:
    with op.batch_alter_table("journal_action") as batch:
        batch.drop_column("failure_cause")
