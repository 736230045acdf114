"""Alembic environment: runs on the connection the service hands over."""

from __future__ import annotations

from alembic import context

from s1adopt.adapters.db.tables import metadata

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("s1adopt runs its migrations through adapters.db.engine.upgrade_schema")
context.configure(connection=connection, target_metadata=metadata, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
