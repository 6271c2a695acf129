"""A cloud price point's extras: its cluster's price per GB of boot disk and per public
IP (in the offer's price unit), so a VM's whole price can be told from the history too.
NULL for marketplace-v3 offers, whose price covers the whole VM.

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-27
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

# exact on both backends: NUMERIC on PostgreSQL, text on SQLite (optimizer.store.types)
EXACT = sa.Numeric(24, 12).with_variant(sa.String(40), "sqlite")


def upgrade() -> None:
    with op.batch_alter_table("offer") as batch:
        batch.add_column(sa.Column("disk_price_per_gb", EXACT, nullable=True))
        batch.add_column(sa.Column("public_ip_price", EXACT, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("offer") as batch:
        batch.drop_column("public_ip_price")
        batch.drop_column("disk_price_per_gb")
