"""Any kind's records: all of them (optionally within a bounding box), one by id, the count."""

from __future__ import annotations

import sqlalchemy as sa

from minewatch.errors import NotFoundError
from minewatch.registry import rows as R
from minewatch.registry.connection import Database
from minewatch.registry.schema import TABLES, spec_for


class Records:
    """Kind-independent reading of one registry's tables."""

    def __init__(self, db: Database):
        self.db = db

    def count(self, kind: str) -> int:
        """Number of records of a kind (``licences``: versions)."""
        t = TABLES[spec_for(kind).name]
        with self.db.read() as conn:
            return conn.execute(sa.select(sa.func.count()).select_from(t)).scalar_one()

    def rows(self, kind: str, *, bbox: R.BBox | None = None) -> list[dict]:
        """All records of a kind (``licences``: every version) in key order, optionally those
        meeting ``bbox`` (lon/lat; ignored for kinds without geometry)."""
        spec = spec_for(kind)
        t = TABLES[spec.name]
        bbox = bbox if spec.geometry else None
        with self.db.read() as conn:
            rows = R.select(self.db, conn, t, order=[t.c[k] for k in spec.key], bbox=bbox)
        return R.exact_bbox(rows, bbox)

    def get(self, kind: str, ident: str) -> dict:
        """One record by the first column of its key."""
        spec = spec_for(kind)
        t = TABLES[spec.name]
        with self.db.read() as conn:
            rows = R.select(self.db, conn, t, t.c[spec.key[0]] == ident)
        if not rows:
            raise NotFoundError(f"no {kind} with id {ident!r} in {self.db.url}")
        return rows[0]
