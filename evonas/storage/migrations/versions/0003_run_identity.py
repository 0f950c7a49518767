"""Schema version 3: what a run knows about its data, a run identity unique across databases,
and the driver's heartbeat.

- ``runs.uid``: a random identity (32 hex digits), unique; kept weights are filed under it.
- ``runs.input_shape``, ``runs.data_fingerprint``: the image shape (C, H, W) and a digest of the
  images the search saw, so export and report need not load the dataset.
- ``runs.heartbeat_at``: refreshed by a live driver; a run whose heartbeat is fresh is alive.

Revision ID: 0003
"""

from __future__ import annotations

import uuid

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("runs") as batch:
        batch.add_column(sa.Column("uid", sa.String(32), nullable=True))
        batch.add_column(sa.Column("input_shape", sa.JSON(), nullable=True))
        batch.add_column(sa.Column("data_fingerprint", sa.String(64), nullable=True))
        batch.add_column(sa.Column("heartbeat_at", sa.DateTime(), nullable=True))
    conn = op.get_bind()
    runs = sa.table("runs", sa.column("id", sa.Integer), sa.column("uid", sa.String))
    for (run_id,) in conn.execute(sa.select(runs.c.id)).all():
        conn.execute(runs.update().where(runs.c.id == run_id).values(uid=uuid.uuid4().hex))
    op.create_index("ix_runs_uid", "runs", ["uid"], unique=True)
    op.execute("UPDATE evonas_meta SET value = '3' WHERE key = 'schema_version'")


def downgrade() -> None:
    op.drop_index("ix_runs_uid", "runs")
    with op.batch_alter_table("runs") as batch:
        for column in ("heartbeat_at", "data_fingerprint", "input_shape", "uid"):
            batch.drop_column(column)
    op.execute("UPDATE evonas_meta SET value = '2' WHERE key = 'schema_version'")
