"""Monitored sites and what lies around them: the site record, its links, nearby receptors."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import shapely
import sqlalchemy as sa

from minewatch.errors import InputError
from minewatch.registry import rows as R
from minewatch.registry.connection import Database
from minewatch.registry.report import ImportReport
from minewatch.registry.schema import TABLES


@dataclass
class Site:
    """A monitored area."""

    site_id: str
    name: str | None
    geometry: shapely.Geometry  # EPSG:4326
    deposit_ids: list[str] = field(default_factory=list)
    licence_ids: list[str] = field(default_factory=list)
    receptor_ids: list[str] = field(default_factory=list)
    description: str | None = None

    @property
    def bbox(self) -> R.BBox:
        """Bounds ``(west, south, east, north)`` of the site in WGS84 degrees."""
        return tuple(float(v) for v in self.geometry.bounds)  # type: ignore[return-value]


#: Site link column -> (linked table, its id column).
_LINKS = {"deposit_ids": ("deposits", "deposit_id"),
          "licence_ids": ("licence_versions", "licence_id"),
          "receptor_ids": ("receptors", "receptor_id")}


class Sites:
    """The monitored sites of one registry, and the receptors around them."""

    def __init__(self, db: Database):
        self.db = db

    def site(self, site_id: str) -> Site:
        """A monitored site (raises InputError naming the registry if unknown)."""
        t = TABLES["sites"]
        with self.db.read() as conn:
            rows = R.select(self.db, conn, t, t.c.site_id == site_id)
        if not rows:
            raise InputError(f"no site {site_id!r} in registry {self.db.url}",
                             hint="list sites with: minewatch registry list --kind sites")
        r = rows[0]
        return Site(r["site_id"], r["name"], r["geometry"], R.split_ids(r["deposit_ids"]),
                    R.split_ids(r["licence_ids"]), R.split_ids(r["receptor_ids"]),
                    r["description"])

    def in_bbox(self, bbox: R.BBox) -> list[dict]:
        """Sites meeting ``bbox`` (lon/lat)."""
        t = TABLES["sites"]
        with self.db.read() as conn:
            rows = R.select(self.db, conn, t, order=[t.c.site_id], bbox=bbox)
        return R.exact_bbox(rows, bbox)

    def receptors_for_analysis(self, site: Site, margin_m: float = 20_000.0) -> list[dict]:
        """Receptors linked to ``site`` or within ``margin_m`` of its bounding box.

        Returns list of dict(receptor_id, kind, name, population, geometry (shapely, 4326)).
        """
        x0, y0, x1, y1 = site.bbox
        lat = max(abs(y0), abs(y1))
        dy = margin_m / 111_320.0
        dx = margin_m / (111_320.0 * max(np.cos(np.radians(min(lat, 89.0))), 1e-6))
        bb = (x0 - dx, y0 - dy, x1 + dx, y1 + dy)
        t = TABLES["receptors"]
        with self.db.read() as conn:
            rows = R.exact_bbox(R.select(self.db, conn, t, bbox=bb), bb)
            have = {r["receptor_id"] for r in rows}
            missing = [i for i in site.receptor_ids if i not in have]
            if missing:
                rows += R.select(self.db, conn, t, t.c.receptor_id.in_(missing))
        return [{k: r[k] for k in ("receptor_id", "kind", "name", "population", "geometry")}
                for r in sorted(rows, key=lambda r: r["receptor_id"])]

    def check_links(self, conn: sa.Connection, rows: list[dict], report: ImportReport) -> None:
        """Warn about imported site links to deposits, licences or receptors the registry
        lacks (inside the import's transaction, so links within one import count)."""
        for field_, (table, col) in _LINKS.items():
            wanted = {i for r in rows for i in R.split_ids(r.get(field_))}
            if not wanted:
                continue
            have = {x[col] for x in R.fetch_by(conn, TABLES[table], col, sorted(wanted))}
            for r in rows:
                missing = [i for i in R.split_ids(r.get(field_)) if i not in have]
                if missing:
                    report.add("warning", f"links to unknown {table.split('_')[0]} "
                               f"{', '.join(missing)} (import them too)",
                               feature=r["_feature"], feature_id=r["_key_hint"], field=field_,
                               code="unknown_link")
