"""Notifications: subscriptions and the delivery ledger (NOTIFY_V1), on GeoPackage or PostGIS.

Adds two tables to a registry at 0001; existing tables and rows are untouched.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-01
"""

from __future__ import annotations

from alembic import op

from minewatch.registry.ddl import create_spec_tables
from minewatch.registry.schema import NOTIFY_V1

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    create_spec_tables(op.get_bind(), NOTIFY_V1)


def downgrade() -> None:
    raise NotImplementedError("the registry schema is never downgraded; restore a backup instead")
