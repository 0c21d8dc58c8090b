"""Alembic environment of the registry: always run programmatically on one open connection.

:func:`minewatch.registry.migrate.upgrade` passes the connection in
``config.attributes["connection"]``; both backends share the same migrations.
"""

from __future__ import annotations

from alembic import context

from minewatch.registry.migrate import VERSION_TABLE

connection = context.config.attributes["connection"]
context.configure(
    connection=connection,
    target_metadata=None,
    version_table=VERSION_TABLE,
    transactional_ddl=True,
)
with context.begin_transaction():
    context.run_migrations()
