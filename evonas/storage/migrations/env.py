"""Alembic's entry point for evonas: always run from :mod:`evonas.storage.schema`, on the
connection (and inside the transaction) it passes in ``config.attributes["connection"]``."""

from __future__ import annotations

from alembic import context

from evonas.storage.sql import Base

connection = context.config.attributes["connection"]
context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    render_as_batch=True,  # SQLite alters most tables only by copying them: batch mode does that
)
with context.begin_transaction():
    context.run_migrations()
