"""Initial registry schema (SPEC_V1) on GeoPackage or PostGIS.

Revision ID: 0001
Revises:
Create Date: 2026-11-22
"""

from __future__ import annotations

from alembic import op

from minewatch.registry.ddl import create_spec_tables
from minewatch.registry.schema import SPEC_V1

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    create_spec_tables(op.get_bind(), SPEC_V1)


def downgrade() -> None:
    raise NotImplementedError("the registry schema is never downgraded; restore a backup instead")
