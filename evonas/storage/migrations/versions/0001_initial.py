"""Schema version 1: runs, generations, individuals and the evaluation journal.

Revision ID: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "evonas_meta",
        sa.Column("key", sa.String(64), primary_key=True),
        sa.Column("value", sa.Text(), nullable=False),
    )
    op.create_table(
        "runs",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("name", sa.String(200), nullable=False, unique=True),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("seed", sa.Integer(), nullable=False),
        sa.Column("config", sa.JSON(), nullable=False),
        sa.Column("evonas_version", sa.String(40), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.Column("finished_at", sa.DateTime(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("owner", sa.String(200), nullable=True),
        sa.Column("eval_key", sa.String(64), nullable=False),
        sa.Column("progress", sa.JSON(), nullable=True),
    )
    op.create_index("ix_runs_eval_key", "runs", ["eval_key"])
    op.create_table(
        "generations",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("run_id", sa.Integer(), sa.ForeignKey("runs.id", ondelete="CASCADE"), nullable=False),
        sa.Column("index", sa.Integer(), nullable=False),
        sa.Column("population", sa.JSON(), nullable=False),
        sa.Column("seconds", sa.Float(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.UniqueConstraint("run_id", "index"),
    )
    op.create_index("ix_generations_run_id", "generations", ["run_id"])
    op.create_table(
        "individuals",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column(
            "generation_id", sa.Integer(), sa.ForeignKey("generations.id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column("run_id", sa.Integer(), sa.ForeignKey("runs.id", ondelete="CASCADE"), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("hash", sa.String(64), nullable=False),
        sa.Column("genome", sa.Text(), nullable=False),
        sa.Column("parents", sa.JSON(), nullable=False),
        sa.Column("operator", sa.String(80), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("seed", sa.Integer(), nullable=False),
        sa.Column("acc", sa.Float(), nullable=True),
        sa.Column("nmi", sa.Float(), nullable=True),
        sa.Column("ari", sa.Float(), nullable=True),
        sa.Column("recon_loss", sa.Float(), nullable=True),
        sa.Column("baseline_loss", sa.Float(), nullable=True),
        sa.Column("params", sa.Integer(), nullable=True),
        sa.Column("seconds", sa.Float(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("node", sa.String(80), nullable=True),
        sa.Column("device", sa.String(20), nullable=True),
    )
    op.create_index("ix_individuals_generation_id", "individuals", ["generation_id"])
    op.create_index("ix_individuals_hash", "individuals", ["hash"])
    op.create_index("ix_individuals_run_id", "individuals", ["run_id"])
    op.create_table(
        "evaluation_journal",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("run_id", sa.Integer(), sa.ForeignKey("runs.id", ondelete="CASCADE"), nullable=False),
        sa.Column("generation", sa.Integer(), nullable=False),
        sa.Column("hash", sa.String(64), nullable=False),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.UniqueConstraint("run_id", "generation", "hash"),
    )
    op.create_index("ix_evaluation_journal_run_id", "evaluation_journal", ["run_id"])
    meta = sa.table("evonas_meta", sa.column("key", sa.String), sa.column("value", sa.Text))
    op.bulk_insert(meta, [{"key": "schema_version", "value": "1"}])


def downgrade() -> None:
    for table in ("evaluation_journal", "individuals", "generations", "runs", "evonas_meta"):
        op.drop_table(table)
