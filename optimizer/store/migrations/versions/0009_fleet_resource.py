"""The disks and public IPs the optimizer creates with its VMs on the cloud generation:
billed until deleted, even after their VM is gone, so each is journaled until the reaper
has deleted it.

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-27
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from optimizer.store.types import UtcDateTime

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "fleet_resource",
        sa.Column("resource_id", sa.String(128), primary_key=True),
        sa.Column("kind", sa.String(8), nullable=False),
        sa.Column("fleet", sa.String(64), nullable=False),
        sa.Column("name", sa.String(128), nullable=False),
        sa.Column("vm_id", sa.String(128)),
        sa.Column("action_id", sa.BigInteger),
        sa.Column("created_at", UtcDateTime, nullable=False),
        sa.Column("vm_gone_at", UtcDateTime),
        sa.Column("deleted_at", UtcDateTime),
    )
    op.create_index("ix_fleet_resource_fleet", "fleet_resource", ["fleet"])


def downgrade() -> None:
    op.drop_index("ix_fleet_resource_fleet", table_name="fleet_resource")
    op.drop_table("fleet_resource")
