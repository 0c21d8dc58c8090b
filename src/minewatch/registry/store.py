"""The registry storage interface: one :class:`Registry` class over two backends.

Open one with :func:`open_registry`: a file path (GeoPackage, the default) or a
``postgresql://`` URL (PostGIS). All logic lives here and speaks SQLAlchemy
Core; the backend modules only supply the engine, write locking, error
translation and the index-backed bounding-box filter.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import shutil
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import shapely
import sqlalchemy as sa

from minewatch.errors import InputError, MinewatchError, RegistryError
from minewatch.registry import gpkg, migrate
from minewatch.registry.importer import prepare
from minewatch.registry.mapping import ColumnMapping, load_mapping
from minewatch.registry.report import ImportReport
from minewatch.registry.schema import (
    SPECS, TABLES, TRIAGE_STATES, VALID_STATUSES, TableSpec, spec_for,
)
from minewatch.registry.sources import read_source

Date = dt.date | str
BBox = tuple[float, float, float, float]
_GEOM_TOL = 1e-9  # degrees: geometries closer than this compare equal on re-import
_CHUNK = 500


def _to_date(d: Date | None) -> dt.date | None:
    if d is None or isinstance(d, dt.date) and not isinstance(d, dt.datetime):
        return d
    if isinstance(d, dt.datetime):
        return d.date()
    try:
        return dt.date.fromisoformat(str(d))
    except ValueError:
        raise InputError(f"{d!r} is not a date (YYYY-MM-DD)") from None


def _now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def _as_geom(g) -> shapely.Geometry | None:
    if g is None or isinstance(g, shapely.Geometry):
        return g
    if isinstance(g, dict):
        return shapely.geometry.shape(g)
    if isinstance(g, str):
        return shapely.from_wkt(g) if not g.lstrip().startswith("{") else shapely.from_geojson(g)
    raise InputError(f"not a geometry: {type(g).__name__}")


@dataclass
class Site:
    """A monitored area."""

    site_id: str
    name: str | None
    geometry: shapely.Geometry
    deposit_ids: list[str] = field(default_factory=list)
    licence_ids: list[str] = field(default_factory=list)
    receptor_ids: list[str] = field(default_factory=list)
    description: str | None = None

    @property
    def bbox(self) -> BBox:
        return tuple(float(v) for v in self.geometry.bounds)  # type: ignore[return-value]


def _split_ids(s: str | None) -> list[str]:
    return [x.strip() for x in (s or "").split(",") if x.strip()]


class Registry:
    """The cadastre and monitoring record (see ``docs/registry.md``)."""

    def __init__(self, backend, files_dir: str | Path | None = None):
        self.backend = backend
        self.engine = backend.make_engine()
        self.url = backend.display
        self._files_dir = Path(files_dir) if files_dir else None
        self._stmts: dict = {}

    # ------------------------------------------------------------------ plumbing
    @property
    def kind(self) -> str:
        """``geopackage`` or ``postgis``."""
        return self.backend.name

    def close(self) -> None:
        self.engine.dispose()

    def __enter__(self) -> Registry:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Registry({self.url!r}, {self.kind})"

    @contextmanager
    def _errors(self) -> Iterator[None]:
        try:
            yield
        except MinewatchError:
            raise
        except sa.exc.SQLAlchemyError as exc:
            mapped = self.backend.translate(exc)
            if mapped is not None:
                raise mapped from None
            raise RegistryError(f"registry {self.url}: {str(exc).splitlines()[0]}") from exc

    @contextmanager
    def read(self) -> Iterator[sa.Connection]:
        """A read transaction."""
        with self._errors(), self.engine.connect() as conn, conn.begin():
            yield conn

    @contextmanager
    def write(self) -> Iterator[sa.Connection]:
        """A write transaction: exclusive among writers, all or nothing."""
        with self._errors(), self.engine.connect() as conn:
            conn = conn.execution_options(**self.backend.write_options())
            with conn.begin():
                self.backend.lock_for_write(conn)
                yield conn

    def _migrate(self, create: bool) -> None:
        head = migrate.head_revision()
        with self.read() as conn:
            rev = migrate.current_revision(conn)
        if rev == head:
            return  # opening an up-to-date registry takes no write lock
        with self.write() as conn:
            rev = migrate.current_revision(conn)
            if rev is None and not create:
                raise RegistryError(
                    f"{self.url} is not a minewatch registry",
                    hint=f"create one with: minewatch registry init {self.url}",
                )
            if rev is not None and rev not in migrate.known_revisions():
                raise RegistryError(
                    f"registry {self.url} has schema {rev}, newer than this minewatch knows",
                    hint="upgrade minewatch",
                )
            if rev != head:
                migrate.upgrade(conn)

    def schema_revision(self) -> str | None:
        with self.read() as conn:
            return migrate.current_revision(conn)

    @property
    def files_dir(self) -> Path:
        """Where inspection photos are stored (content-addressed by SHA-256)."""
        if self._files_dir is not None:
            return self._files_dir
        if self.kind == "geopackage":
            return Path(str(self.backend.path) + ".files")
        env = os.environ.get("MINEWATCH_REGISTRY_FILES")
        if env:
            return Path(env)
        raise RegistryError(
            "no folder for registry files (photos) is configured for this PostGIS registry",
            hint="set MINEWATCH_REGISTRY_FILES or pass files_dir= to open_registry",
        )

    def integrity_check(self) -> str:
        """``ok`` when the storage is sound (sqlite ``PRAGMA integrity_check``)."""
        with self.read() as conn:
            return self.backend.integrity_check(conn)

    # ------------------------------------------------------------------ rows
    @staticmethod
    def _row(r) -> dict:
        d = dict(r._mapping)
        d.pop("fid", None)
        if "geom" in d:
            d["geometry"] = d.pop("geom")
        return d

    def _select(self, conn, table: sa.Table, *where, order=None, bbox: BBox | None = None):
        stmt = sa.select(table).where(*where)
        if bbox is not None:
            stmt = stmt.where(self.backend.bbox_clause(table, bbox))
        if order is not None:
            stmt = stmt.order_by(*order)
        return [self._row(r) for r in conn.execute(stmt)]

    def count(self, kind: str) -> int:
        t = TABLES[spec_for(kind).name]
        with self.read() as conn:
            return conn.execute(sa.select(sa.func.count()).select_from(t)).scalar_one()

    def rows(self, kind: str, *, bbox: BBox | None = None) -> list[dict]:
        """All rows of a kind (``licences``: every version), optionally within ``bbox``."""
        spec = spec_for(kind)
        t = TABLES[spec.name]
        order = [t.c[k] for k in spec.key]
        with self.read() as conn:
            rows = self._select(conn, t, order=order,
                                bbox=bbox if spec.geometry else None)
        if bbox is not None and spec.geometry:
            rows = _exact_bbox(rows, bbox)
        return rows

    def get(self, kind: str, ident: str) -> dict:
        """One record by its id (``licences``: the current version)."""
        spec = spec_for(kind)
        if spec.name == "licence_versions":
            hist = self.licence_history(ident)
            return hist[-1]
        t = TABLES[spec.name]
        with self.read() as conn:
            rows = self._select(conn, t, t.c[spec.key[0]] == ident)
        if not rows:
            raise InputError(f"no {kind} with id {ident!r} in {self.url}")
        return rows[0]

    # ------------------------------------------------------------------ import
    def import_file(
        self, path: str | Path, kind: str, *, mapping: str | Path | ColumnMapping | None = None,
        crs: str | None = None, layer: str | None = None, defaults: dict | None = None,
        progress: Callable[[str, int, int], None] | None = None,
    ) -> ImportReport:
        """Import one file (GeoJSON, GeoPackage, zipped Shapefile, KML, CSV) in one transaction.

        Parameters
        ----------
        path : file to read.
        kind : licences | deposits | operators | sites | parcels | receptors |
            sampling_points | samples.
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
        import pyproj

        from minewatch.registry.sources import SourceTable

        spec = spec_for(kind)
        recs = [dict(r) for r in records]
        geoms = np.empty(len(recs), dtype=object)
        for i, r in enumerate(recs):
            geoms[i] = _as_geom(r.pop("geometry", None))
        cols = sorted({k for r in recs for k in r})
        src = SourceTable(source, cols, recs, geoms, pyproj.CRS.from_user_input(crs), "api")
        rows, report = prepare(spec, src, ColumnMapping(), None, source_label=source)
        report.raise_if_errors()
        return self._apply(spec, rows, report)

    def _apply(self, spec: TableSpec, rows: list[dict], report: ImportReport,
               progress: Callable[[str, int, int], None] | None = None) -> ImportReport:
        import_id = uuid.uuid4().hex[:16]
        report.import_id = import_id
        for r in rows:
            r.pop("_feature_geom_ok", None)
        with self.write() as conn:
            if spec.name == "licence_versions":
                self._apply_licences(conn, rows, report, import_id, progress)
            else:
                self._apply_upsert(conn, spec, rows, report, progress)
                if spec.name == "sites":
                    self._check_site_links(conn, rows, report)
            report.raise_if_errors()  # conflicts found against stored data roll back
            conn.execute(TABLES["import_log"].insert().values(
                import_id=import_id, kind=spec.name, source=report.source, started_at=_now(),
                inserted=report.inserted, updated=report.updated, unchanged=report.unchanged,
                report=json.dumps(report.as_dict(), default=str)[:1_000_000],
            ))
        return report

    def _encode_geoms(self, geoms: Sequence) -> list:
        if self.kind == "geopackage":
            return gpkg.encode_many(list(geoms))
        arr = np.asarray(list(geoms), dtype=object)
        out = [None] * len(arr)
        present = np.array([g is not None for g in arr], dtype=bool)
        if present.any():
            hexes = shapely.to_wkb(shapely.set_srid(arr[present], 4326), hex=True,
                                   include_srid=True, output_dimension=2)
            for j, i in enumerate(np.flatnonzero(present)):
                out[i] = hexes[j]
        return out

    def _insert_many(self, conn, table: sa.Table, rows: list[dict],
                     progress: Callable[[str, int, int], None] | None = None) -> None:
        if not rows:
            return
        has_geom = "geom" in table.c
        cols = [c.name for c in table.c if c.name != "fid"]
        step = 2000
        if self.kind == "geopackage":
            # Straight to sqlite3 (same connection and transaction): SQLAlchemy's per-row
            # parameter handling costs more than the insert itself on bulk imports.
            procs = {c.name: c.type.bind_processor(conn.dialect) for c in table.c
                     if c.name not in ("fid", "geom")}
            sql = (f'INSERT INTO "{table.name}" ({", ".join(chr(34) + c + chr(34) for c in cols)})'
                   f' VALUES ({", ".join("?" for _ in cols)})')
            raw = conn.connection.driver_connection
            for s in range(0, len(rows), step):
                chunk = rows[s: s + step]
                enc = gpkg.encode_many([r.get("geom") for r in chunk]) if has_geom else None
                batch = []
                for j, r in enumerate(chunk):
                    vals = []
                    for c in cols:
                        if c == "geom":
                            vals.append(enc[j])
                            continue
                        v = r.get(c)
                        p = procs[c]
                        vals.append(p(v) if (p is not None and v is not None) else v)
                    batch.append(vals)
                raw.executemany(sql, batch)
                if progress:
                    progress("write", s + len(chunk), len(rows))
            return
        for s in range(0, len(rows), step):
            chunk = rows[s: s + step]
            if has_geom:
                enc = self._encode_geoms([r.get("geom") for r in chunk])
            batch = []
            for j, r in enumerate(chunk):
                b = {c: r.get(c) for c in cols}
                if has_geom:
                    b["geom"] = enc[j]
                batch.append(b)
            conn.execute(table.insert(), batch)
            if progress:
                progress("write", s + len(chunk), len(rows))

    @staticmethod
    def _same(spec: TableSpec, new: dict, old: dict, skip: set[str] = frozenset()) -> list[str]:
        """Names of fields that differ between an incoming row and a stored one."""
        diff = []
        for f in spec.fields:
            if f.name in skip:
                continue
            a, b = new.get(f.name), old.get(f.name)
            if f.type == "json":
                a = json.loads(a) if a else None
                b = json.loads(b) if b else None
            elif f.type == "float" and a is not None and b is not None:
                if abs(float(a) - float(b)) <= 1e-9 * max(1.0, abs(float(b))):
                    continue
            elif f.type == "datetime":
                continue  # bookkeeping timestamps
            if a != b:
                diff.append(f.name)
        if spec.geometry:
            ga, gb = new.get("geom"), old.get("geometry", old.get("geom"))
            if (ga is None) != (gb is None) or (
                ga is not None and not shapely.equals_exact(ga, gb, tolerance=_GEOM_TOL)
                and not ga.equals(gb)
            ):
                diff.append("geometry")
        return diff

    def _fetch_by(self, conn, table: sa.Table, col: str, values: Sequence) -> list[dict]:
        out = []
        vals = list(dict.fromkeys(values))
        for s in range(0, len(vals), _CHUNK):
            stmt = sa.select(table).where(table.c[col].in_(vals[s: s + _CHUNK]))
            out.extend(dict(r._mapping) for r in conn.execute(stmt))
        return out

    def _apply_upsert(self, conn, spec: TableSpec, rows: list[dict], report: ImportReport,
                      progress) -> None:
        t = TABLES[spec.name]
        k0 = spec.key[0]
        existing: dict[tuple, dict] = {}
        for r in self._fetch_by(conn, t, k0, [r[k0] for r in rows]):
            existing[tuple(r[k] for k in spec.key)] = r
        new, changed = [], []
        for r in rows:
            old = existing.get(tuple(r[k] for k in spec.key))
            if old is None:
                new.append(r)
            elif self._same(spec, r, old):
                r["_fid"] = old["fid"]
                changed.append(r)
            else:
                report.unchanged += 1
        self._insert_many(conn, t, new, progress)
        report.inserted += len(new)
        if changed:
            cols = [c.name for c in t.c if c.name not in ("fid",) + spec.key]
            enc = self._encode_geoms([r.get("geom") for r in changed]) if spec.geometry else None
            batch = []
            for j, r in enumerate(changed):
                b = {f"b_{c}": r.get(c) for c in cols}
                if enc is not None:
                    b["b_geom"] = enc[j]
                b["b_fid"] = r["_fid"]
                batch.append(b)
            stmt = t.update().where(t.c.fid == sa.bindparam("b_fid")).values(
                {c: sa.bindparam(f"b_{c}") for c in cols})
            conn.execute(stmt, batch)
            report.updated += len(changed)

    def _apply_licences(self, conn, rows: list[dict], report: ImportReport, import_id: str,
                        progress) -> None:
        spec = SPECS["licence_versions"]
        t = TABLES["licence_versions"]
        stored: dict[str, list[dict]] = {}
        for r in self._fetch_by(conn, t, "licence_id", [r["licence_id"] for r in rows]):
            stored.setdefault(r["licence_id"], []).append(r)
        now = _now()
        to_insert: list[dict] = []
        touched: set[str] = set()
        skip = {"version", "effective_to", "recorded_at", "import_id"}
        for r in rows:
            lid = r["licence_id"]
            olds = {o["effective_from"]: o for o in stored.get(lid, [])}
            old = olds.get(r["effective_from"])
            if old is not None:
                diff = self._same(spec, r, old, skip)
                if diff:
                    report.add(
                        "error",
                        f"differs from recorded version {old['version']} of {r['effective_from']}"
                        f" in {', '.join(diff)}; history is never overwritten",
                        feature=r["_feature"], feature_id=r["_key_hint"], field="effective_from",
                        code="history_conflict",
                    )
                    report.errors[-1].message += (
                        " (give the change its own effective_from date)")
                else:
                    report.unchanged += 1
                continue
            r["recorded_at"] = r.get("recorded_at") or now
            r["import_id"] = import_id
            to_insert.append(r)
            touched.add(lid)
        if report.errors:
            return
        # Version numbers and effective_to follow effective_from order.
        by_lid: dict[str, list[dict]] = {}
        for r in to_insert:
            by_lid.setdefault(r["licence_id"], []).append(r)
        updates = []
        for lid, news in by_lid.items():
            chain = sorted(stored.get(lid, []) + news, key=lambda v: v["effective_from"])
            for n, v in enumerate(chain):
                eto = chain[n + 1]["effective_from"] if n + 1 < len(chain) else None
                if "fid" in v:
                    if v["version"] != n + 1 or v["effective_to"] != eto:
                        updates.append({"b_fid": v["fid"], "b_version": n + 1, "b_eto": eto})
                else:
                    v["version"], v["effective_to"] = n + 1, eto
        if updates:
            conn.execute(
                t.update().where(t.c.fid == sa.bindparam("b_fid")).values(
                    version=sa.bindparam("b_version"), effective_to=sa.bindparam("b_eto")),
                updates,
            )
        self._insert_many(conn, t, to_insert, progress)
        report.inserted += len(to_insert)
        self._check_overlaps(conn, {r.get("deposit_id") for r in to_insert} - {None}, report)

    def _check_site_links(self, conn, rows: list[dict], report: ImportReport) -> None:
        """Warn about site links to deposits, licences or receptors the registry lacks."""
        for field_, table, col in (("deposit_ids", "deposits", "deposit_id"),
                                   ("licence_ids", "licence_versions", "licence_id"),
                                   ("receptor_ids", "receptors", "receptor_id")):
            wanted = {i for r in rows for i in _split_ids(r.get(field_))}
            if not wanted:
                continue
            t = TABLES[table]
            have = {x[col] for x in self._fetch_by(conn, t, col, sorted(wanted))}
            for r in rows:
                missing = [i for i in _split_ids(r.get(field_)) if i not in have]
                if missing:
                    report.add("warning", f"links to unknown {table.split('_')[0]} "
                               f"{', '.join(missing)} (import them too)",
                               feature=r["_feature"], feature_id=r["_key_hint"], field=field_,
                               code="unknown_link")

    def _check_overlaps(self, conn, deposit_ids: set[str], report: ImportReport) -> None:
        """Warn about active extraction licences on one deposit whose boundaries overlap."""
        if not deposit_ids:
            return
        t = TABLES["licence_versions"]
        cur = [self._row(r) for r in conn.execute(sa.select(t).where(
            t.c.deposit_id.in_(sorted(deposit_ids)), t.c.effective_to.is_(None),
            t.c.kind == "extraction", t.c.status == "active"))]
        by_dep: dict[str, list[dict]] = {}
        for r in cur:
            by_dep.setdefault(r["deposit_id"], []).append(r)
        for dep, lics in sorted(by_dep.items()):
            for i in range(len(lics)):
                for j in range(i + 1, len(lics)):
                    a, b = lics[i], lics[j]
                    if not _periods_overlap(a, b):
                        continue
                    inter = a["geometry"].intersection(b["geometry"])
                    if inter.area > 0:
                        report.add(
                            "warning",
                            f"active extraction licences {a['licence_id']} and {b['licence_id']}"
                            f" overlap on deposit {dep} ({_area_ha(inter):.2f} ha)",
                            feature_id=f"licence_id={a['licence_id']}", field="geometry",
                            code="overlap",
                        )

    def export(self, kind: str, path: str | Path, *, fmt: str | None = None,
               bbox: BBox | None = None) -> int:
        """Export a kind (``licences``: every version) to GeoJSON, GeoPackage, zipped
        Shapefile, KML or CSV, chosen by the suffix of ``path``; returns the feature count."""
        from minewatch.registry.exporter import export_rows

        return export_rows(self.rows(kind, bbox=bbox), kind, path, fmt)

    # ------------------------------------------------------------------ licence queries
    @staticmethod
    def _effective_at(t: sa.Table, d: dt.date):
        return sa.and_(t.c.effective_from <= d,
                       sa.or_(t.c.effective_to.is_(None), t.c.effective_to > d))

    @staticmethod
    def _valid_at(t: sa.Table, d: dt.date):
        return sa.and_(t.c.status.in_(VALID_STATUSES), t.c.valid_from <= d,
                       sa.or_(t.c.valid_to.is_(None), t.c.valid_to >= d))

    def licences_valid_at(self, date: Date, *, bbox: BBox | None = None,
                          kind: str | None = None) -> list[dict]:
        """Licences valid on ``date`` (status active, within validity), each with that day's
        boundary, holder and status. Optional ``bbox`` (lon/lat) and licence ``kind``."""
        d = _to_date(date)
        t = TABLES["licence_versions"]
        where = [self._effective_at(t, d), self._valid_at(t, d)]
        if kind:
            where.append(t.c.kind == kind)
        with self.read() as conn:
            rows = self._select(conn, t, *where, order=[t.c.licence_id], bbox=bbox)
        return _exact_bbox(rows, bbox) if bbox else rows

    def cover_query(self, geom, date: Date, *, valid_only: bool = True):
        """The SQL statement behind :meth:`licences_covering` (for EXPLAIN in benchmarks)."""
        g = _as_geom(geom)
        d = _to_date(date)
        t = TABLES["licence_versions"]
        where = [self._effective_at(t, d)]
        if valid_only:
            where.append(self._valid_at(t, d))
        return (sa.select(t).where(*where)
                .where(self.backend.bbox_clause(t, tuple(g.bounds))).order_by(t.c.licence_id))

    def _cover_stmt(self, valid_only: bool):
        """The cover query with bound parameters, built once per registry."""
        key = ("cover", valid_only)
        stmt = self._stmts.get(key)
        if stmt is None:
            t = TABLES["licence_versions"]
            d = sa.bindparam("d", type_=sa.Date())
            bb = tuple(sa.bindparam(n, type_=sa.Double()) for n in ("xmin", "ymin", "xmax",
                                                                      "ymax"))
            where = [self._effective_at(t, d)]
            if valid_only:
                where.append(self._valid_at(t, d))
            stmt = (sa.select(t).where(*where).where(self.backend.bbox_clause(t, bb))
                    .order_by(t.c.licence_id))
            self._stmts[key] = stmt
        return stmt

    def licences_covering(self, geom, date: Date, *, valid_only: bool = True) -> list[dict]:
        """Licences whose boundary on ``date`` covers a point or meets a polygon.

        Parameters
        ----------
        geom : shapely geometry, GeoJSON dict or WKT, in EPSG:4326.
        date : the day asked about.
        valid_only : only licences valid that day (else any version in effect, any status).

        Returns
        -------
        One dict per licence version in effect on ``date``, with ``overlap_fraction`` (share
        of ``geom``'s area inside the licence; 1.0 for a covered point).
        """
        g = _as_geom(geom)
        stmt = self._cover_stmt(valid_only)
        x0, y0, x1, y1 = (float(v) for v in g.bounds)
        params = {"d": _to_date(date), "xmin": x0, "ymin": y0, "xmax": x1, "ymax": y1}
        with self.read() as conn:
            rows = [self._row(r) for r in conn.execute(stmt, params)]
        out = []
        prepared = shapely.prepare(g) or g
        for r in rows:
            lg = r["geometry"]
            if not shapely.intersects(g, lg):
                continue
            if g.area > 0:
                r["overlap_fraction"] = float(g.intersection(lg).area / g.area)
            else:
                r["overlap_fraction"] = 1.0
            out.append(r)
        del prepared
        return out

    def explain_cover_query(self, geom, date: Date) -> tuple[str, bool]:
        """(query plan, whether it uses the spatial index) of :meth:`licences_covering`."""
        stmt = self.cover_query(geom, date)
        with self.read() as conn:
            plan = self.backend.explain(conn, stmt)
        return plan, self.backend.plan_uses_spatial_index(plan)

    def licence_history(self, licence_id: str) -> list[dict]:
        """Every version of a licence, oldest first, each with ``changes`` (fields changed)."""
        t = TABLES["licence_versions"]
        with self.read() as conn:
            rows = self._select(conn, t, t.c.licence_id == licence_id,
                                order=[t.c.effective_from])
        if not rows:
            raise InputError(f"no licence {licence_id!r} in {self.url}")
        spec = SPECS["licence_versions"]
        prev = None
        for r in rows:
            if prev is None:
                r["changes"] = ["created"]
            else:
                diff = self._same(spec, {**r, "geom": r["geometry"]}, prev,
                                  {"version", "effective_from", "effective_to", "recorded_at",
                                   "import_id", "source_document", "change_note", "extra"})
                r["changes"] = ["boundary" if x == "geometry" else x for x in diff]
            prev = r
        return rows

    def licences_for_analysis(self, site_id: str) -> list[dict]:
        """Licences linked to a site or meeting its area, with all their dated versions.

        Returns
        -------
        list of dict: ``licence_id, holder, commodity, kind, operator_id, deposit_id`` (as in
        the newest version) and ``versions``: ``[{version, valid_from, valid_to, status,
        geometry (shapely, EPSG:4326), effective_from, effective_to, holder,
        source_document}]`` oldest first, so compliance can be evaluated at any date.
        """
        site = self.site(site_id)
        t = TABLES["licence_versions"]
        with self.read() as conn:
            near = self._select(conn, t, bbox=site.bbox)
            ids = {r["licence_id"] for r in near if shapely.intersects(r["geometry"],
                                                                       site.geometry)}
            ids |= set(site.licence_ids)
            rows = self._fetch_by(conn, t, "licence_id", sorted(ids)) if ids else []
        by: dict[str, list[dict]] = {}
        for r in rows:
            r = self._row(r) if not isinstance(r, dict) else {
                **{k: v for k, v in r.items() if k not in ("fid", "geom")},
                "geometry": r.get("geom") if "geom" in r else r.get("geometry")}
            by.setdefault(r["licence_id"], []).append(r)
        out = []
        for lid in sorted(by):
            vs = sorted(by[lid], key=lambda v: v["effective_from"])
            last = vs[-1]
            out.append({
                "licence_id": lid, "holder": last["holder"], "commodity": last["commodities"],
                "kind": last["kind"], "operator_id": last["operator_id"],
                "deposit_id": last["deposit_id"],
                "versions": [{k: v[k] for k in (
                    "version", "valid_from", "valid_to", "status", "geometry", "effective_from",
                    "effective_to", "holder", "source_document")} for v in vs],
            })
        return out

    # ------------------------------------------------------------------ sites, receptors
    def site(self, site_id: str) -> Site:
        """A monitored site (raises InputError naming the registry if unknown)."""
        t = TABLES["sites"]
        with self.read() as conn:
            rows = self._select(conn, t, t.c.site_id == site_id)
        if not rows:
            raise InputError(f"no site {site_id!r} in registry {self.url}",
                             hint="list sites with: minewatch registry list --kind sites")
        r = rows[0]
        return Site(r["site_id"], r["name"], r["geometry"], _split_ids(r["deposit_ids"]),
                    _split_ids(r["licence_ids"]), _split_ids(r["receptor_ids"]),
                    r["description"])

    def sites_in_bbox(self, bbox: BBox) -> list[dict]:
        return self.rows("sites", bbox=bbox)

    def receptors_for_analysis(self, site_id: str, margin_m: float = 20_000.0) -> list[dict]:
        """Receptors linked to a site or within ``margin_m`` of its bounding box.

        Returns list of dict(receptor_id, kind, name, population, geometry (shapely, 4326)).
        """
        site = self.site(site_id)
        x0, y0, x1, y1 = site.bbox
        lat = max(abs(y0), abs(y1))
        dy = margin_m / 111_320.0
        dx = margin_m / (111_320.0 * max(np.cos(np.radians(min(lat, 89.0))), 1e-6))
        bb = (x0 - dx, y0 - dy, x1 + dx, y1 + dy)
        t = TABLES["receptors"]
        with self.read() as conn:
            rows = _exact_bbox(self._select(conn, t, bbox=bb), bb)
            have = {r["receptor_id"] for r in rows}
            missing = [i for i in site.receptor_ids if i not in have]
            if missing:
                rows += [self._row(r) for r in conn.execute(
                    sa.select(t).where(t.c.receptor_id.in_(missing)))]
        return [{k: r[k] for k in ("receptor_id", "kind", "name", "population", "geometry")}
                for r in sorted(rows, key=lambda r: r["receptor_id"])]

    # ------------------------------------------------------------------ runs and alerts
    def record_run(self, run: dict) -> str:
        """Record (or update) a monitoring run; returns its ``run_id``.

        Keys: ``run_id`` (assigned if absent), ``site_id``, ``started_at``, ``finished_at``,
        ``outcome`` (running | ok | failed | partial), ``code_version`` (defaults to this
        minewatch's version), ``inputs`` and ``parameters`` (JSON-able), ``message``; any other
        key goes to ``extra``.
        """
        from minewatch import __version__
        from minewatch.registry.importer import coerce

        spec = SPECS["monitoring_runs"]
        run = dict(run)
        run_id = str(run.pop("run_id", None) or uuid.uuid4().hex)
        row: dict = {"run_id": run_id}
        known = set(spec.field_names)
        extra = {k: v for k, v in run.items() if k not in known}
        for f in spec.fields:
            if f.name in ("run_id", "extra"):
                continue
            if f.name in run:
                try:
                    row[f.name] = coerce(run[f.name], f)
                except ValueError as exc:
                    raise InputError(f"run {run_id}, field '{f.name}': {exc}") from None
        row.setdefault("code_version", __version__)
        if extra:
            row["extra"] = json.dumps(extra, sort_keys=True, default=str)
        t = TABLES["monitoring_runs"]
        with self.write() as conn:
            fid = conn.execute(sa.select(t.c.fid).where(t.c.run_id == run_id)).scalar()
            if fid is None:
                row.setdefault("started_at", _now())
                row.setdefault("outcome", "running")
                conn.execute(t.insert().values(**row))
            else:
                conn.execute(t.update().where(t.c.fid == fid).values(**row))
        return run_id

    def run(self, run_id: str) -> dict:
        return self.get("monitoring_runs", run_id)

    def record_alerts(self, run_id: str, alerts: Sequence[dict]) -> dict[str, str]:
        """Record a run's alerts; returns ``{alert_id given: alert_id stored}``.

        Alert dicts: ``alert_id, onset_date, area_ha, licence_id (or None),
        licence_status_at_onset, geometry`` (GeoJSON dict or shapely, EPSG:4326), optional
        ``site_id`` (default: the run's); other keys go to ``extra``.

        Analysis alert ids are only unique within a run, so the registry matches alerts to
        the ones it already holds: an alert of the same site with the same onset date whose
        area overlaps a stored one by at least half (intersection over union >= 0.5) *is*
        that alert (re-detected): its geometry, figures and run are updated and its triage
        state and history are kept. Any other alert is stored as new (triage state ``new``)
        under the id ``<first 8 characters of run_id>-<alert_id>``. Recording the same run
        twice is idempotent.
        """
        from minewatch.registry.geometry import normalise, repair
        from minewatch.registry.importer import coerce

        spec = SPECS["alerts"]
        t, tt = TABLES["alerts"], TABLES["alert_triage"]
        now = _now()
        rows = []
        with self.read() as conn:
            run = conn.execute(sa.select(TABLES["monitoring_runs"].c.site_id).where(
                TABLES["monitoring_runs"].c.run_id == run_id)).first()
        if run is None:
            raise InputError(f"no monitoring run {run_id!r} in {self.url}",
                             hint="record the run first with record_run()")
        prefix = f"{run_id[:8]}-"
        for i, a in enumerate(alerts):
            a = dict(a)
            g = _as_geom(a.pop("geometry", None))
            if g is not None:
                if not g.is_valid:
                    g, _ = repair(g, "MULTIPOLYGON")
                if g is not None:
                    g, err = normalise(g, "MULTIPOLYGON")
                    if err:
                        raise InputError(f"alert {i + 1} ({a.get('alert_id')}): {err}")
            row = {"run_id": run_id, "site_id": a.pop("site_id", None) or run.site_id,
                   "geom": g}
            for f in spec.fields:
                if f.name in ("run_id", "site_id", "extra", "triage_state", "triage_by",
                              "triage_at", "triage_reason"):
                    continue
                try:
                    row[f.name] = coerce(a.pop(f.name, None), f)
                except ValueError as exc:
                    raise InputError(f"alert {i + 1} ({row.get('alert_id')}), field "
                                     f"'{f.name}': {exc}") from None
            if not row.get("alert_id"):
                raise InputError(f"alert {i + 1}: alert_id is missing")
            given = row["alert_id"]
            a["run_alert_id"] = given
            row["extra"] = json.dumps(a, sort_keys=True, default=str)
            row["_given"] = given
            if not given.startswith(prefix):
                row["alert_id"] = prefix + given
            rows.append(row)
        ids: dict[str, str] = {}
        with self.write() as conn:
            have = {r["alert_id"]: r["fid"] for r in self._fetch_by(
                conn, t, "alert_id", [r["alert_id"] for r in rows])}
            new, updates = [], []
            for r in rows:
                fid = have.get(r["alert_id"])
                if fid is None and r["geom"] is not None:
                    fid, stored_id = self._match_alert(conn, r)
                    if fid is not None:
                        r["alert_id"] = stored_id
                (new if fid is None else updates).append((r, fid))
                ids[r.pop("_given")] = r["alert_id"]
            new_rows = [r for r, _ in new]
            for r in new_rows:
                r.update(triage_state="new", triage_by=f"run {run_id}", triage_at=now,
                         triage_reason="detected")
            self._insert_many(conn, t, new_rows)
            if new_rows:
                conn.execute(tt.insert(), [
                    {"alert_id": r["alert_id"], "state": "new", "changed_by": f"run {run_id}",
                     "changed_at": now, "reason": "detected"} for r in new_rows])
            for r, fid in updates:
                vals = {k: v for k, v in r.items() if k != "alert_id"}
                vals["geom"] = self._encode_geoms([vals.get("geom")])[0]
                conn.execute(t.update().where(t.c.fid == fid).values(**vals))
        return ids

    def _match_alert(self, conn, r: dict) -> tuple[int | None, str | None]:
        """A stored alert that ``r`` re-detects (same site and onset, IoU >= 0.5)."""
        t = TABLES["alerts"]
        g = r["geom"]
        where = [t.c.onset_date == r.get("onset_date")]
        where.append(t.c.site_id == r["site_id"] if r.get("site_id") else t.c.site_id.is_(None))
        stmt = sa.select(t.c.fid, t.c.alert_id, t.c.geom).where(*where).where(
            self.backend.bbox_clause(t, tuple(g.bounds)))
        best, best_iou = (None, None), 0.0
        for fid, aid, other in conn.execute(stmt):
            if other is None or not other.intersects(g):
                continue
            union = other.union(g).area
            iou = other.intersection(g).area / union if union > 0 else 0.0
            if iou >= 0.5 and iou > best_iou:
                best, best_iou = (fid, aid), iou
        return best

    def set_triage(self, alert_id: str, state: str, *, by: str, reason: str,
                   at: dt.datetime | None = None) -> None:
        """Change an alert's triage state, recording who, when and why."""
        if state not in TRIAGE_STATES:
            raise InputError(f"triage state {state!r} is not one of {', '.join(TRIAGE_STATES)}")
        if not (by and by.strip()) or not (reason and reason.strip()):
            raise InputError("a triage change needs who (--by) and why (--reason)")
        at = at or _now()
        t, tt = TABLES["alerts"], TABLES["alert_triage"]
        with self.write() as conn:
            fid = conn.execute(sa.select(t.c.fid).where(t.c.alert_id == alert_id)).scalar()
            if fid is None:
                raise InputError(f"no alert {alert_id!r} in {self.url}")
            conn.execute(t.update().where(t.c.fid == fid).values(
                triage_state=state, triage_by=by, triage_at=at, triage_reason=reason))
            conn.execute(tt.insert().values(alert_id=alert_id, state=state, changed_by=by,
                                            changed_at=at, reason=reason))

    def triage_history(self, alert_id: str) -> list[dict]:
        tt = TABLES["alert_triage"]
        with self.read() as conn:
            return self._select(conn, tt, tt.c.alert_id == alert_id,
                                order=[tt.c.changed_at, tt.c.fid])

    def triage_queue(self, *, site_id: str | None = None,
                     states: Sequence[str] = ("new", "escalated")) -> list[dict]:
        """Alerts waiting for triage: escalated first, then new; oldest onset first."""
        t = TABLES["alerts"]
        where = [t.c.triage_state.in_(list(states))]
        if site_id:
            where.append(t.c.site_id == site_id)
        order = [sa.case((t.c.triage_state == "escalated", 0), else_=1), t.c.onset_date,
                 t.c.alert_id]
        with self.read() as conn:
            return self._select(conn, t, *where, order=order)

    def alerts_in_bbox(self, bbox: BBox, *, states: Sequence[str] | None = None) -> list[dict]:
        t = TABLES["alerts"]
        where = [t.c.triage_state.in_(list(states))] if states else []
        with self.read() as conn:
            rows = self._select(conn, t, *where, order=[t.c.alert_id], bbox=bbox)
        return _exact_bbox(rows, bbox)

    # ------------------------------------------------------------------ inspections
    def add_inspection(self, inspection_id: str, date: Date, *, team: str | None = None,
                       findings: str | None = None, site_id: str | None = None,
                       geometry=None, alert_ids: Sequence[str] = (),
                       photos: Sequence[str | Path] = ()) -> dict:
        """Record a field inspection; photos are copied to :attr:`files_dir` as
        ``photos/<sha256><suffix>`` and listed with their checksum and size."""
        d = _to_date(date)
        g = _as_geom(geometry)
        staged = []
        for p in photos:
            p = Path(p)
            if not p.is_file():
                raise InputError(f"photo {p} not found")
            h = hashlib.sha256()
            with open(p, "rb") as fh:
                for block in iter(lambda: fh.read(1 << 20), b""):
                    h.update(block)
            staged.append((p, h.hexdigest(), p.stat().st_size))
        stored = []
        if staged:
            root = self.files_dir / "photos"
            root.mkdir(parents=True, exist_ok=True)
            for p, digest, size in staged:
                rel = f"photos/{digest}{p.suffix.lower()}"
                dest = self.files_dir / rel
                if not dest.exists():
                    tmp = dest.with_name(dest.name + f".tmp{os.getpid()}")
                    shutil.copyfile(p, tmp)
                    os.replace(tmp, dest)
                stored.append({"inspection_id": inspection_id, "sha256": digest,
                               "filename": p.name, "stored_path": rel, "size_bytes": size})
        t, tp = TABLES["inspections"], TABLES["inspection_photos"]
        with self.write() as conn:
            if alert_ids:
                ta = TABLES["alerts"]
                have = {r[0] for r in conn.execute(sa.select(ta.c.alert_id).where(
                    ta.c.alert_id.in_(list(alert_ids))))}
                missing = [a for a in alert_ids if a not in have]
                if missing:
                    raise InputError(f"inspection {inspection_id}: unknown alert(s) "
                                     f"{', '.join(missing)}")
            conn.execute(t.insert().values(
                inspection_id=inspection_id, date=d, team=team, findings=findings,
                site_id=site_id, alert_ids=",".join(alert_ids) or None,
                geom=self._encode_geoms([g])[0]))
            if stored:
                conn.execute(tp.insert(), stored)
        return self.inspection(inspection_id)

    def inspection(self, inspection_id: str) -> dict:
        rec = self.get("inspections", inspection_id)
        tp = TABLES["inspection_photos"]
        with self.read() as conn:
            rec["photos"] = self._select(conn, tp, tp.c.inspection_id == inspection_id,
                                         order=[tp.c.fid])
        rec["alert_ids"] = _split_ids(rec.get("alert_ids"))
        return rec

    def verify_photos(self, inspection_id: str) -> list[str]:
        """Paths of an inspection's photos whose file is missing or whose checksum differs."""
        bad = []
        for ph in self.inspection(inspection_id)["photos"]:
            p = self.files_dir / ph["stored_path"]
            if not p.exists() or hashlib.sha256(p.read_bytes()).hexdigest() != ph["sha256"]:
                bad.append(str(p))
        return bad

    # ------------------------------------------------------------------ water
    def samples_at(self, point_id: str) -> list[dict]:
        t = TABLES["samples"]
        with self.read() as conn:
            return self._select(conn, t, t.c.point_id == point_id,
                                order=[t.c.sampled_at, t.c.parameter])


def _periods_overlap(a: dict, b: dict) -> bool:
    a0, a1 = a["valid_from"], a["valid_to"] or dt.date.max
    b0, b1 = b["valid_from"], b["valid_to"] or dt.date.max
    return a0 <= b1 and b0 <= a1


def _area_ha(g) -> float:
    from pyproj import Geod

    return abs(Geod(ellps="WGS84").geometry_area_perimeter(g)[0]) / 1e4


def _exact_bbox(rows: list[dict], bbox: BBox | None) -> list[dict]:
    if bbox is None:
        return rows
    box = shapely.box(*bbox)
    return [r for r in rows if r.get("geometry") is not None
            and shapely.intersects(r["geometry"], box)]


def _backend_for(url_or_path: str | Path, lock_timeout: float):
    s = str(url_or_path)
    if s.startswith(("postgresql://", "postgres://", "postgresql+psycopg://")):
        from minewatch.registry.backend_postgis import PostGISBackend

        return PostGISBackend(s, lock_timeout)
    if "://" in s and not s.startswith("file://"):
        raise InputError(f"unsupported registry URL {s!r}",
                         hint="use a .gpkg path or a postgresql:// URL")
    from minewatch.registry.backend_gpkg import GeoPackageBackend

    return GeoPackageBackend(s.removeprefix("file://"), lock_timeout)


def open_registry(url_or_path: str | Path, *, create: bool = False, lock_timeout: float = 30.0,
                  files_dir: str | Path | None = None) -> Registry:
    """Open a registry: a GeoPackage path (default backend) or a ``postgresql://`` URL.

    Parameters
    ----------
    url_or_path : ``registry.gpkg`` or ``postgresql://user@host:port/db``.
    create : create the registry if missing (``registry init``); else it must exist.
    lock_timeout : seconds a writer waits for another before RegistryLockedError.
    files_dir : folder for inspection photos (default ``<file>.gpkg.files`` beside a
        GeoPackage; ``$MINEWATCH_REGISTRY_FILES`` for PostGIS).

    The schema is migrated to the newest revision when it is behind.
    """
    backend = _backend_for(url_or_path, lock_timeout)
    if backend.name == "geopackage":
        if not backend.exists():
            if not create:
                raise RegistryError(
                    f"no registry at {backend.path}",
                    hint=f"create one with: minewatch registry init {backend.path}",
                )
            if not backend.path.parent.exists():
                raise RegistryError(f"folder {backend.path.parent} does not exist")
        else:
            backend.check_file()
    reg = Registry(backend, files_dir)
    try:
        reg._migrate(create)
    except BaseException:
        reg.close()
        raise
    return reg


def init_registry(url_or_path: str | Path, **kw) -> Registry:
    """Create (or upgrade) a registry and return it open."""
    return open_registry(url_or_path, create=True, **kw)
