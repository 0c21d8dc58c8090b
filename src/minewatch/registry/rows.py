"""Rows in and out of registry tables, on either backend, inside a caller's transaction.

Every geometry write goes through :func:`insert_many` or :func:`update_many`, which note
the table for the extent upkeep of :meth:`~minewatch.registry.connection.Database.write`.
Records come back as dicts with the geometry (shapely, EPSG:4326) under ``geometry``.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Sequence

import numpy as np
import shapely
import sqlalchemy as sa

from minewatch.errors import InputError
from minewatch.registry import gpkg
from minewatch.registry.connection import Database, mark_written
from minewatch.registry.schema import TableSpec

BBox = tuple[float, float, float, float]
Date = dt.date | str
Progress = Callable[[str, int, int], None]
_GEOM_TOL = 1e-9  # degrees: geometries closer than this compare equal on re-import
_CHUNK = 500  # values per IN (...) list
_BATCH = 2000  # rows per executemany


def to_date(d: Date | None) -> dt.date | None:
    """A date from a date, datetime or ISO string (InputError otherwise)."""
    if d is None or isinstance(d, dt.date) and not isinstance(d, dt.datetime):
        return d
    if isinstance(d, dt.datetime):
        return d.date()
    try:
        return dt.date.fromisoformat(str(d))
    except ValueError:
        raise InputError(f"{d!r} is not a date (YYYY-MM-DD)") from None


def now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def split_ids(s: str | None) -> list[str]:
    """``"a, b"`` -> ``["a", "b"]`` (the comma-separated link columns)."""
    return [x.strip() for x in (s or "").split(",") if x.strip()]


def record(r) -> dict:
    """A result row as a dict: ``fid`` dropped, ``geom`` renamed ``geometry``."""
    d = dict(r._mapping)
    d.pop("fid", None)
    if "geom" in d:
        d["geometry"] = d.pop("geom")
    return d


def select(db: Database, conn: sa.Connection, table: sa.Table, *where, order=None,
           bbox: BBox | None = None) -> list[dict]:
    """Records of ``table`` matching ``where`` (and whose index envelope meets ``bbox``)."""
    stmt = sa.select(table).where(*where)
    if bbox is not None:
        stmt = stmt.where(db.backend.bbox_clause(table, bbox))
    if order is not None:
        stmt = stmt.order_by(*order)
    return [record(r) for r in conn.execute(stmt)]


def exact_bbox(rows: list[dict], bbox: BBox | None) -> list[dict]:
    """The records whose geometry really meets ``bbox`` (after an index-envelope filter)."""
    if bbox is None:
        return rows
    box = shapely.box(*bbox)
    return [r for r in rows if r.get("geometry") is not None
            and shapely.intersects(r["geometry"], box)]


def fetch_by(conn: sa.Connection, table: sa.Table, col: str, values: Sequence) -> list[dict]:
    """Raw rows (``fid`` and ``geom`` kept) whose ``col`` is one of ``values``."""
    out = []
    vals = list(dict.fromkeys(values))
    for s in range(0, len(vals), _CHUNK):
        stmt = sa.select(table).where(table.c[col].in_(vals[s: s + _CHUNK]))
        out.extend(dict(r._mapping) for r in conn.execute(stmt))
    return out


def encode_geoms(db: Database, geoms: Sequence) -> list:
    """Geometries as the backend stores them (GeoPackage blobs, EWKB hex for PostGIS)."""
    if db.kind == "geopackage":
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


def insert_many(db: Database, conn: sa.Connection, table: sa.Table, rows: list[dict],
                progress: Progress | None = None) -> None:
    """Insert ``rows`` (geometry under ``geom``) in batches."""
    if not rows:
        return
    mark_written(conn, table)
    has_geom = "geom" in table.c
    cols = [c.name for c in table.c if c.name != "fid"]
    if db.kind == "geopackage":
        # Straight to sqlite3 (same connection and transaction): SQLAlchemy's per-row
        # parameter handling costs more than the insert itself on bulk imports.
        procs = {c.name: c.type.bind_processor(conn.dialect) for c in table.c
                 if c.name not in ("fid", "geom")}
        sql = (f'INSERT INTO "{table.name}" ({", ".join(chr(34) + c + chr(34) for c in cols)})'
               f' VALUES ({", ".join("?" for _ in cols)})')
        raw = conn.connection.driver_connection
        for s in range(0, len(rows), _BATCH):
            chunk = rows[s: s + _BATCH]
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
    for s in range(0, len(rows), _BATCH):
        chunk = rows[s: s + _BATCH]
        enc = encode_geoms(db, [r.get("geom") for r in chunk]) if has_geom else None
        batch = []
        for j, r in enumerate(chunk):
            b = {c: r.get(c) for c in cols}
            if has_geom:
                b["geom"] = enc[j]
            batch.append(b)
        conn.execute(table.insert(), batch)
        if progress:
            progress("write", s + len(chunk), len(rows))


def update_many(db: Database, conn: sa.Connection, table: sa.Table,
                changes: list[tuple[int, dict]]) -> None:
    """Update rows by ``fid``: ``changes`` is ``[(fid, {column: value})]``, the same columns
    in every entry (a geometry under ``geom``)."""
    if not changes:
        return
    cols = list(changes[0][1])
    if "geom" in cols:
        mark_written(conn, table)
        enc = encode_geoms(db, [vals["geom"] for _, vals in changes])
    batch = []
    for j, (fid, vals) in enumerate(changes):
        b = {f"b_{c}": vals[c] for c in cols}
        if "geom" in cols:
            b["b_geom"] = enc[j]
        b["b_fid"] = fid
        batch.append(b)
    stmt = table.update().where(table.c.fid == sa.bindparam("b_fid")).values(
        {c: sa.bindparam(f"b_{c}") for c in cols})
    conn.execute(stmt, batch)


def differing_fields(spec: TableSpec, new: dict, old: dict,
                     skip: set[str] = frozenset()) -> list[str]:
    """Names of the fields (and ``geometry``) that differ between an incoming row
    (geometry under ``geom``) and a stored one."""
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
