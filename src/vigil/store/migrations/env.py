"""Alembic environment: migrations run on the connection Vigil hands over (see ``database``)."""

from __future__ import annotations

from alembic import context

from vigil.store.tables import Base

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("Vigil's migrations run through vigil.store.database.open_database")
context.configure(connection=connection, target_metadata=Base.metadata, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
