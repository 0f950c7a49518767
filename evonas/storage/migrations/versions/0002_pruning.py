"""Schema version 2: pruning checkpoints, second-seed evaluations and the label-free score.

Revision ID: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("individuals") as batch:
        batch.add_column(sa.Column("silhouette", sa.Float(), nullable=True))
        batch.add_column(sa.Column("rung_acc", sa.Float(), nullable=True))
        batch.add_column(sa.Column("pruned_at", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("evaluations", sa.JSON(), nullable=True))
    op.execute("UPDATE evonas_meta SET value = '2' WHERE key = 'schema_version'")


def downgrade() -> None:
    with op.batch_alter_table("individuals") as batch:
        for column in ("evaluations", "pruned_at", "rung_acc", "silhouette"):
            batch.drop_column(column)
    op.execute("UPDATE evonas_meta SET value = '1' WHERE key = 'schema_version'")
