"""Schema version 5: each pruning checkpoint's score (successive halving has several rungs).

Revision ID: 0005
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("individuals") as batch:
        batch.add_column(sa.Column("rung_scores", sa.JSON(), nullable=True))
    op.execute("UPDATE evonas_meta SET value = '5' WHERE key = 'schema_version'")


def downgrade() -> None:
    with op.batch_alter_table("individuals") as batch:
        batch.drop_column("rung_scores")
    op.execute("UPDATE evonas_meta SET value = '4' WHERE key = 'schema_version'")
