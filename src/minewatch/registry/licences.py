"""Licences and their dated versions: storing history, queries at a date, cover queries.

A licence is a chain of versions (one row each in ``licence_versions``) that is never
overwritten; the registry keeps only ``version`` and ``effective_to`` in step with
``effective_from`` order. See docs/registry.md, "Licences keep their history".
"""

from __future__ import annotations

import datetime as dt

import shapely
import sqlalchemy as sa

from minewatch.errors import NotFoundError
from minewatch.registry import rows as R
from minewatch.registry.connection import Database
from minewatch.registry.geometry import area_ha, as_geometry
from minewatch.registry.report import ImportReport
from minewatch.registry.schema import SPECS, TABLES, VALID_STATUSES

SPEC = SPECS["licence_versions"]
TABLE = TABLES["licence_versions"]
#: Bookkeeping fields left out when telling what a version changed.
_NOT_CHANGES = {"version", "effective_from", "effective_to", "recorded_at", "import_id",
                "source_document", "change_note", "extra"}


def _effective_at(d):
    t = TABLE
    return sa.and_(t.c.effective_from <= d, sa.or_(t.c.effective_to.is_(None),
                                                   t.c.effective_to > d))


def _valid_at(d):
    t = TABLE
    return sa.and_(t.c.status.in_(VALID_STATUSES), t.c.valid_from <= d,
                   sa.or_(t.c.valid_to.is_(None), t.c.valid_to >= d))


def _periods_overlap(a: dict, b: dict) -> bool:
    a0, a1 = a["valid_from"], a["valid_to"] or dt.date.max
    b0, b1 = b["valid_from"], b["valid_to"] or dt.date.max
    return a0 <= b1 and b0 <= a1


class Licences:
    """The licences of one registry."""

    def __init__(self, db: Database):
        self.db = db
        self._cover_stmts: dict[bool, sa.Select] = {}

    # ------------------------------------------------------------------ writing
    def store_versions(self, conn: sa.Connection, rows: list[dict], report: ImportReport,
                       import_id: str, progress: R.Progress | None = None) -> None:
        """Store imported versions inside ``conn``'s transaction: new ones appended (or slotted
        in by ``effective_from``), identical ones counted unchanged, a different one at a
        recorded ``effective_from`` refused (history is never overwritten)."""
        stored: dict[str, list[dict]] = {}
        for r in R.fetch_by(conn, TABLE, "licence_id", [r["licence_id"] for r in rows]):
            stored.setdefault(r["licence_id"], []).append(r)
        now = R.now()
        to_insert: list[dict] = []
        skip = {"version", "effective_to", "recorded_at", "import_id"}
        for r in rows:
            olds = {o["effective_from"]: o for o in stored.get(r["licence_id"], [])}
            old = olds.get(r["effective_from"])
            if old is not None:
                diff = R.differing_fields(SPEC, r, old, skip)
                if diff:
                    report.add(
                        "error",
                        f"differs from recorded version {old['version']} of {r['effective_from']}"
                        f" in {', '.join(diff)}; history is never overwritten (give the change "
                        "its own effective_from date)",
                        feature=r["_feature"], feature_id=r["_key_hint"], field="effective_from",
                        code="history_conflict",
                    )
                else:
                    report.unchanged += 1
                continue
            r["recorded_at"] = r.get("recorded_at") or now
            r["import_id"] = import_id
            to_insert.append(r)
        if report.errors:
            return
        # Version numbers and effective_to follow effective_from order.
        by_lid: dict[str, list[dict]] = {}
        for r in to_insert:
            by_lid.setdefault(r["licence_id"], []).append(r)
        renumbered = []
        for lid, news in by_lid.items():
            chain = sorted(stored.get(lid, []) + news, key=lambda v: v["effective_from"])
            for n, v in enumerate(chain):
                eto = chain[n + 1]["effective_from"] if n + 1 < len(chain) else None
                if "fid" in v:
                    if v["version"] != n + 1 or v["effective_to"] != eto:
                        renumbered.append((v["fid"], {"version": n + 1, "effective_to": eto}))
                else:
                    v["version"], v["effective_to"] = n + 1, eto
        R.update_many(self.db, conn, TABLE, renumbered)
        R.insert_many(self.db, conn, TABLE, to_insert, progress)
        report.inserted += len(to_insert)
        self._check_overlaps(conn, {r.get("deposit_id") for r in to_insert} - {None}, report)

    def _check_overlaps(self, conn: sa.Connection, deposit_ids: set[str],
                        report: ImportReport) -> None:
        """Warn about active extraction licences on one deposit whose boundaries overlap."""
        if not deposit_ids:
            return
        t = TABLE
        cur = R.select(self.db, conn, t, t.c.deposit_id.in_(sorted(deposit_ids)),
                       t.c.effective_to.is_(None), t.c.kind == "extraction",
                       t.c.status == "active")
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
                            f" overlap on deposit {dep} ({area_ha(inter):.2f} ha)",
                            feature_id=f"licence_id={a['licence_id']}", field="geometry",
                            code="overlap",
                        )

    # ------------------------------------------------------------------ queries
    def valid_at(self, date: R.Date, *, bbox: R.BBox | None = None,
                 kind: str | None = None) -> list[dict]:
        """Licences valid on ``date`` (status active or expired, within validity), each with
        that day's boundary, holder and status. Optional ``bbox`` (lon/lat) and licence
        ``kind``."""
        d = R.to_date(date)
        t = TABLE
        where = [_effective_at(d), _valid_at(d)]
        if kind:
            where.append(t.c.kind == kind)
        with self.db.read() as conn:
            rows = R.select(self.db, conn, t, *where, order=[t.c.licence_id], bbox=bbox)
        return R.exact_bbox(rows, bbox)

    def cover_query(self, geom, date: R.Date, *, valid_only: bool = True) -> sa.Select:
        """The SQL statement behind :meth:`covering`, with literal values (for EXPLAIN)."""
        g = as_geometry(geom)
        d = R.to_date(date)
        where = [_effective_at(d)]
        if valid_only:
            where.append(_valid_at(d))
        return (sa.select(TABLE).where(*where)
                .where(self.db.backend.bbox_clause(TABLE, tuple(g.bounds)))
                .order_by(TABLE.c.licence_id))

    def _cover_stmt(self, valid_only: bool) -> sa.Select:
        """The cover query with bound parameters, built once per registry."""
        stmt = self._cover_stmts.get(valid_only)
        if stmt is None:
            d = sa.bindparam("d", type_=sa.Date())
            bb = tuple(sa.bindparam(n, type_=sa.Double())
                       for n in ("xmin", "ymin", "xmax", "ymax"))
            where = [_effective_at(d)]
            if valid_only:
                where.append(_valid_at(d))
            stmt = (sa.select(TABLE).where(*where)
                    .where(self.db.backend.bbox_clause(TABLE, bb)).order_by(TABLE.c.licence_id))
            self._cover_stmts[valid_only] = stmt
        return stmt

    def covering(self, geom, date: R.Date, *, valid_only: bool = True) -> list[dict]:
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
        g = as_geometry(geom)
        x0, y0, x1, y1 = (float(v) for v in g.bounds)
        params = {"d": R.to_date(date), "xmin": x0, "ymin": y0, "xmax": x1, "ymax": y1}
        with self.db.read() as conn:
            rows = [R.record(r) for r in conn.execute(self._cover_stmt(valid_only), params)]
        out = []
        for r in rows:
            lg = r["geometry"]
            if not shapely.intersects(g, lg):
                continue
            r["overlap_fraction"] = float(g.intersection(lg).area / g.area) if g.area > 0 \
                else 1.0
            out.append(r)
        return out

    def explain_cover_query(self, geom, date: R.Date) -> tuple[str, bool]:
        """(query plan, whether it uses the spatial index) of :meth:`covering`."""
        stmt = self.cover_query(geom, date)
        with self.db.read() as conn:
            plan = self.db.backend.explain(conn, stmt)
        return plan, self.db.backend.plan_uses_spatial_index(plan)

    def history(self, licence_id: str) -> list[dict]:
        """Every version of a licence, oldest first, each with ``changes`` (fields changed)."""
        t = TABLE
        with self.db.read() as conn:
            rows = R.select(self.db, conn, t, t.c.licence_id == licence_id,
                            order=[t.c.effective_from])
        if not rows:
            raise NotFoundError(f"no licence {licence_id!r} in {self.db.url}")
        prev = None
        for r in rows:
            if prev is None:
                r["changes"] = ["created"]
            else:
                diff = R.differing_fields(SPEC, {**r, "geom": r["geometry"]}, prev, _NOT_CHANGES)
                r["changes"] = ["boundary" if x == "geometry" else x for x in diff]
            prev = r
        return rows

    def current(self, licence_id: str) -> dict:
        """The newest version of a licence (with its ``changes``)."""
        return self.history(licence_id)[-1]

    def for_analysis(self, geometry: shapely.Geometry, linked_ids: list[str]) -> list[dict]:
        """Licences meeting ``geometry`` (a site's area) or listed in ``linked_ids``, with all
        their dated versions.

        Returns
        -------
        list of dict: ``licence_id, holder, commodity, kind, operator_id, deposit_id`` (as in
        the newest version) and ``versions``: ``[{version, valid_from, valid_to, status,
        geometry (shapely, EPSG:4326), effective_from, effective_to, holder,
        source_document}]`` oldest first, so compliance can be evaluated at any date.
        """
        t = TABLE
        with self.db.read() as conn:
            near = R.select(self.db, conn, t, bbox=tuple(float(v) for v in geometry.bounds))
            ids = {r["licence_id"] for r in near if shapely.intersects(r["geometry"], geometry)}
            ids |= set(linked_ids)
            rows = R.select(self.db, conn, t, t.c.licence_id.in_(sorted(ids))) if ids else []
        by: dict[str, list[dict]] = {}
        for r in rows:
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
