"""Ownership remembers which VM it is about: its `createdAt` and how many VM lists in a row
have missed it, so a vanished VM is released and a reused id is never taken for it.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-27
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from optimizer.store.types import UtcDateTime

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("fleet_vm") as batch:
        batch.add_column(sa.Column("vm_created_at", UtcDateTime, nullable=True))
        batch.add_column(
            sa.Column("absent_ticks", sa.Integer, nullable=False, server_default="0")
        )
    # the VM's createdAt as first observed under its id (the `vm` table keeps the first
    # sighting of each id, so a later reuse of the id does not overwrite it)
    op.execute(
        "UPDATE fleet_vm SET vm_created_at = "
        "(SELECT vm.created_at FROM vm WHERE vm.vm_id = fleet_vm.vm_id)"
    )


def downgrade() -> None:
    with op.batch_alter_table("fleet_vm") as batch:
        batch.drop_column("absent_ticks")
        batch.drop_column("vm_created_at")
