"""Alert levels: ``level``, ``first_seen``, ``confirmed_on`` and ``retracted`` on ``alerts``.

Adds four nullable columns to the alerts of a registry at 0002, on GeoPackage or PostGIS;
existing rows keep their values (the new columns are empty for alerts recorded before).

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from minewatch.registry.schema import ALERT_LEVEL_FIELDS, column_type

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    for f in ALERT_LEVEL_FIELDS:
        op.add_column("alerts", sa.Column(f.name, column_type(f), nullable=True))


def downgrade() -> None:
    raise NotImplementedError("the registry schema is never downgraded; restore a backup instead")
