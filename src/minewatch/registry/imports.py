"""Import files and records into the registry (all or nothing), and export them again.

Validation happens before any write (:mod:`minewatch.registry.importer`); one import is
one write transaction, logged in ``import_log``. Licences go through their version
history (:meth:`Licences.store_versions`); other kinds are updated in place.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable
from pathlib import Path

import numpy as np
import pyproj
import sqlalchemy as sa

from minewatch.errors import InputError
from minewatch.registry import rows as R
from minewatch.registry.connection import Database
from minewatch.registry.geometry import as_geometry
from minewatch.registry.importer import prepare
from minewatch.registry.licences import Licences
from minewatch.registry.mapping import ColumnMapping, load_mapping
from minewatch.registry.records import Records
from minewatch.registry.report import ImportReport
from minewatch.registry.schema import TABLES, TableSpec, spec_for
from minewatch.registry.sites import Sites
from minewatch.registry.sources import SourceTable, read_source


class Imports:
    """Import into and export from one registry."""

    def __init__(self, db: Database, records: Records, licences: Licences, sites: Sites):
        self.db = db
        self.records = records
        self.licences = licences
        self.sites = sites

    def import_file(
        self, path: str | Path, kind: str | None, *,
        mapping: str | Path | ColumnMapping | None = None, crs: str | None = None,
        layer: str | None = None, defaults: dict | None = None,
        progress: R.Progress | None = None,
    ) -> ImportReport:
        """Import one file (GeoJSON, GeoPackage, zipped Shapefile, KML, CSV) in one transaction.

        Parameters
        ----------
        path : file to read.
        kind : licences | deposits | operators | sites | parcels | receptors |
            sampling_points | samples (``None``: the mapping file's kind).
        mapping : column-mapping file (or parsed mapping) for foreign headers and codes.
        crs : CRS of the source when it declares none (or declares a wrong one).
        layer : layer name for multi-layer sources.
        defaults : values for fields the source lacks, e.g. ``{"kind": "extraction"}``.
        progress : optional ``progress(step, done, total)`` callback ("validate", "write").

        Returns
        -------
        ImportReport with counts, repairs and warnings. Raises
        :class:`~minewatch.errors.ValidationError` (nothing written) on any error.
        """
        m = mapping if isinstance(mapping, ColumnMapping) else load_mapping(mapping)
        if m.kind and kind is None:
            kind = m.kind
        if kind is None:
            raise InputError("say what the file holds (kind, e.g. licences)")
        spec = spec_for(kind)
        if not spec.importable:
            raise InputError(f"{kind} records are written by minewatch itself, not imported")
        prefer = tuple(dict.fromkeys((kind, spec.name)))
        src = read_source(path, layer=layer, crs=crs, mapping=m, prefer_layers=prefer)
        rows, report = prepare(spec, src, m, defaults, source_label=str(path), progress=progress)
        report.raise_if_errors()
        return self._apply(spec, rows, report, progress=progress)

    def import_records(self, kind: str, records: Iterable[dict], *, source: str = "api",
                       crs: str = "EPSG:4326") -> ImportReport:
        """Import records given as dicts (``geometry``: shapely, GeoJSON dict or WKT)."""
        spec = spec_for(kind)
        recs = [dict(r) for r in records]
        geoms = np.empty(len(recs), dtype=object)
        for i, r in enumerate(recs):
            geoms[i] = as_geometry(r.pop("geometry", None))
        cols = sorted({k for r in recs for k in r})
        src = SourceTable(source, cols, recs, geoms, pyproj.CRS.from_user_input(crs), "api")
        rows, report = prepare(spec, src, ColumnMapping(), None, source_label=source)
        report.raise_if_errors()
        return self._apply(spec, rows, report)

    def _apply(self, spec: TableSpec, rows: list[dict], report: ImportReport,
               progress: R.Progress | None = None) -> ImportReport:
        import_id = uuid.uuid4().hex[:16]
        report.import_id = import_id
        with self.db.write() as conn:
            if spec.name == "licence_versions":
                self.licences.store_versions(conn, rows, report, import_id, progress)
            else:
                self._upsert(conn, spec, rows, report, progress)
                if spec.name == "sites":
                    self.sites.check_links(conn, rows, report)
            report.raise_if_errors()  # conflicts found against stored data roll back
            conn.execute(TABLES["import_log"].insert().values(
                import_id=import_id, kind=spec.name, source=report.source, started_at=R.now(),
                inserted=report.inserted, updated=report.updated, unchanged=report.unchanged,
                report=json.dumps(report.as_dict(), default=str)[:1_000_000],
            ))
        return report

    def _upsert(self, conn: sa.Connection, spec: TableSpec, rows: list[dict],
                report: ImportReport, progress: R.Progress | None) -> None:
        """Insert new records, update changed ones in place, count the unchanged."""
        t = TABLES[spec.name]
        existing: dict[tuple, dict] = {}
        for r in R.fetch_by(conn, t, spec.key[0], [r[spec.key[0]] for r in rows]):
            existing[tuple(r[k] for k in spec.key)] = r
        new, changed = [], []
        cols = [c.name for c in t.c if c.name not in ("fid",) + spec.key]
        for r in rows:
            old = existing.get(tuple(r[k] for k in spec.key))
            if old is None:
                new.append(r)
            elif R.differing_fields(spec, r, old):
                changed.append((old["fid"], {c: r.get(c) for c in cols}))
            else:
                report.unchanged += 1
        R.insert_many(self.db, conn, t, new, progress)
        report.inserted += len(new)
        R.update_many(self.db, conn, t, changed)
        report.updated += len(changed)

    def export(self, kind: str, path: str | Path, *, fmt: str | None = None,
               bbox: R.BBox | None = None) -> int:
        """Export a kind (``licences``: every version) to GeoJSON, GeoPackage, zipped
        Shapefile, KML or CSV, chosen by the suffix of ``path``; returns the feature count."""
        from minewatch.registry.exporter import export_rows

        return export_rows(self.records.rows(kind, bbox=bbox), kind, path, fmt)
