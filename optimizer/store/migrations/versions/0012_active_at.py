"""When the executor first saw a migration's new VM healthy, so the fleet's
`cutover_health_wait` runs from that moment across restarts. NULL for older rows: an
open migration in cutover gets it on its next tick.

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-27
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from optimizer.store.types import UtcDateTime

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("journal_action") as batch:
        batch.add_column(sa.Column("active_at", UtcDateTime, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("journal_action") as batch:
        batch.drop_column("active_at")
