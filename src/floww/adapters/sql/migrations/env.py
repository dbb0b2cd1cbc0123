"""Alembic environment: runs on the connection ``migrate`` hands over, never from a URL."""

from __future__ import annotations

from alembic import context

from floww.adapters.sql.schema import metadata

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError(
        "floww migrations run through floww.adapters.sql.migrate(engine), not the alembic CLI"
    )
context.configure(
    connection=connection,
    target_metadata=metadata,
    render_as_batch=connection.dialect.name == "sqlite",
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
