"""Schema version 6: the seconds an evaluation's clustering head took (issue 17: the head's cost
inside an evaluation stays visible). Older rows read None: not measured.

Revision ID: 0006
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("individuals") as batch:
        batch.add_column(sa.Column("head_seconds", sa.Float(), nullable=True))
    op.execute("UPDATE evonas_meta SET value = '6' WHERE key = 'schema_version'")


def downgrade() -> None:
    with op.batch_alter_table("individuals") as batch:
        batch.drop_column("head_seconds")
    op.execute("UPDATE evonas_meta SET value = '5' WHERE key = 'schema_version'")
