"""Schema version 7: the objective an individual was ranked by (``--objective``: acc, nmi, ari or
silhouette). Older rows read None: ranked by ACC, as every run before objectives could be chosen.

Revision ID: 0007
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("individuals") as batch:
        batch.add_column(sa.Column("objective", sa.String(20), nullable=True))
    op.execute("UPDATE evonas_meta SET value = '7' WHERE key = 'schema_version'")


def downgrade() -> None:
    with op.batch_alter_table("individuals") as batch:
        batch.drop_column("objective")
    op.execute("UPDATE evonas_meta SET value = '6' WHERE key = 'schema_version'")
