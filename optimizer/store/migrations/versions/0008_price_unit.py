"""What an offer's price is per: "epoch" (24 h, marketplace-v3) or "hour" (the cloud
generation's price points), so history, analysis and reports compare like with like.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-27
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # every offer stored before 0008 came from marketplace-v3: priced per epoch
    with op.batch_alter_table("offer") as batch:
        batch.add_column(
            sa.Column("price_unit", sa.String(8), nullable=False, server_default="epoch")
        )


def downgrade() -> None:
    with op.batch_alter_table("offer") as batch:
        batch.drop_column("price_unit")
