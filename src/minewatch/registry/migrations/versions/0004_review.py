"""Access and review: users, API tokens, sessions, the audit log, alert reviews (ACCESS_V1).

Adds six tables; existing tables and rows are untouched. An alert without a review row is
``new`` and unpublished.

Revision ID: 0004
Revises: 0002 (until 0003_alert_levels is merged; then 0003)
Create Date: 2026-12-03
"""

from __future__ import annotations

from alembic import op

from minewatch.registry.ddl import create_spec_tables
from minewatch.registry.schema import ACCESS_V1

revision = "0004"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    create_spec_tables(op.get_bind(), ACCESS_V1)


def downgrade() -> None:
    raise NotImplementedError("the registry schema is never downgraded; restore a backup instead")
