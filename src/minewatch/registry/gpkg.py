"""OGC GeoPackage plumbing: geometry blobs, SQL functions, metadata tables, R-tree index.

The registry writes a real GeoPackage (OGC 12-128r18, version 1.4) with plain
``sqlite3``: no SpatiaLite is needed. Geometries are stored as *GeoPackage
binary* blobs (a small header with the SRS id and the envelope, then ISO WKB),
every feature table is listed in ``gpkg_contents`` and ``gpkg_geometry_columns``,
and has an R-tree ``rtree_<table>_<column>`` kept in sync by the standard
triggers of the ``gpkg_rtree_index`` extension. Those triggers call
``ST_MinX``/``ST_MaxX``/``ST_MinY``/``ST_MaxY``/``ST_IsEmpty``, which GDAL and QGIS
provide on their side and :func:`register_functions` provides on ours.
"""

from __future__ import annotations

import math
import sqlite3
import struct
from collections.abc import Sequence

import numpy as np
import shapely

GPKG_APPLICATION_ID = 0x47504B47  # "GPKG"
GPKG_USER_VERSION = 10400  # GeoPackage 1.4.0

_WGS84_WKT = (
    'GEOGCS["WGS 84",DATUM["WGS_1984",SPHEROID["WGS 84",6378137,298.257223563,'
    'AUTHORITY["EPSG","7030"]],AUTHORITY["EPSG","6326"]],PRIMEM["Greenwich",0,'
    'AUTHORITY["EPSG","8901"]],UNIT["degree",0.0174532925199433,AUTHORITY["EPSG","9122"]],'
    'AXIS["Latitude",NORTH],AXIS["Longitude",EAST],AUTHORITY["EPSG","4326"]]'
)

_ENVELOPE_BYTES = {0: 0, 1: 32, 2: 48, 3: 48, 4: 64}


# --------------------------------------------------------------------------- blobs


def encode(geom: shapely.Geometry | None, srs_id: int = 4326) -> bytes | None:
    """Encode one shapely geometry as a GeoPackage binary blob (little endian, XY envelope)."""
    if geom is None:
        return None
    return encode_many([geom], srs_id)[0]


def encode_many(geoms: Sequence[shapely.Geometry | None], srs_id: int = 4326) -> list[bytes | None]:
    """Encode many geometries at once (vectorised WKB and bounds)."""
    arr = np.asarray(geoms, dtype=object)
    out: list[bytes | None] = [None] * len(arr)
    if len(arr) == 0:
        return out
    present = np.array([g is not None for g in arr], dtype=bool)
    if not present.any():
        return out
    sub = arr[present]
    wkbs = shapely.to_wkb(sub, byte_order=1, output_dimension=2, flavor="iso")
    bounds = shapely.bounds(sub)
    empties = shapely.is_empty(sub)
    idx = np.flatnonzero(present)
    head_env = b"GP\x00\x03" + struct.pack("<i", srs_id)
    head_empty = b"GP\x00\x11" + struct.pack("<i", srs_id)
    for j, i in enumerate(idx):
        if empties[j]:
            out[i] = head_empty + wkbs[j]
        else:
            b = bounds[j]
            out[i] = head_env + struct.pack("<dddd", b[0], b[2], b[1], b[3]) + wkbs[j]
    return out


def _wkb_offset(blob: bytes) -> tuple[int, int, bool]:
    if len(blob) < 8 or blob[0:2] != b"GP":
        raise ValueError("not a GeoPackage geometry blob (missing 'GP' magic)")
    flags = blob[3]
    env = (flags >> 1) & 0x07
    if env not in _ENVELOPE_BYTES:
        raise ValueError(f"invalid GeoPackage envelope indicator {env}")
    little = bool(flags & 0x01)
    srs_id = struct.unpack("<i" if little else ">i", blob[4:8])[0]
    return 8 + _ENVELOPE_BYTES[env], srs_id, bool(flags & 0x10)


def decode(blob: bytes | None) -> shapely.Geometry | None:
    """Decode a GeoPackage binary blob into a shapely geometry (``None`` stays ``None``)."""
    if blob is None:
        return None
    off, _srs, _empty = _wkb_offset(bytes(blob))
    return shapely.from_wkb(bytes(blob[off:]))


def decode_many(blobs: Sequence[bytes | None]) -> list[shapely.Geometry | None]:
    """Decode many blobs at once."""
    wkbs = []
    for b in blobs:
        if b is None:
            wkbs.append(None)
        else:
            off = _wkb_offset(bytes(b))[0]
            wkbs.append(bytes(b[off:]))
    return list(shapely.from_wkb(np.asarray(wkbs, dtype=object)))


def blob_envelope(blob: bytes) -> tuple[float, float, float, float] | None:
    """(minx, maxx, miny, maxy) of a blob, from its header when present, else from its WKB."""
    flags = blob[3]
    env = (flags >> 1) & 0x07
    if flags & 0x10:
        return None
    if env >= 1:
        fmt = "<dddd" if flags & 0x01 else ">dddd"
        return struct.unpack(fmt, blob[8:40])
    g = decode(blob)
    if g is None or g.is_empty:
        return None
    x0, y0, x1, y1 = g.bounds
    return (x0, x1, y0, y1)


# --------------------------------------------------------------------------- SQL functions


def _st_isempty(blob):
    if blob is None:
        return None
    return 1 if (blob[3] & 0x10) else 0


def _mk(i):
    def f(blob):
        if blob is None:
            return None
        env = blob_envelope(bytes(blob))
        if env is None:
            return None
        v = env[i]
        return None if math.isnan(v) else v

    return f


def register_functions(conn: sqlite3.Connection) -> None:
    """Register the ST_* functions the GeoPackage R-tree triggers call."""
    conn.create_function("ST_IsEmpty", 1, _st_isempty, deterministic=True)
    conn.create_function("ST_MinX", 1, _mk(0), deterministic=True)
    conn.create_function("ST_MaxX", 1, _mk(1), deterministic=True)
    conn.create_function("ST_MinY", 1, _mk(2), deterministic=True)
    conn.create_function("ST_MaxY", 1, _mk(3), deterministic=True)


# --------------------------------------------------------------------------- metadata


CORE_DDL = [
    """CREATE TABLE IF NOT EXISTS gpkg_spatial_ref_sys (
        srs_name TEXT NOT NULL,
        srs_id INTEGER NOT NULL PRIMARY KEY,
        organization TEXT NOT NULL,
        organization_coordsys_id INTEGER NOT NULL,
        definition TEXT NOT NULL,
        description TEXT)""",
    """CREATE TABLE IF NOT EXISTS gpkg_contents (
        table_name TEXT NOT NULL PRIMARY KEY,
        data_type TEXT NOT NULL,
        identifier TEXT UNIQUE,
        description TEXT DEFAULT '',
        last_change DATETIME NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')),
        min_x DOUBLE, min_y DOUBLE, max_x DOUBLE, max_y DOUBLE,
        srs_id INTEGER,
        CONSTRAINT fk_gc_r_srs_id FOREIGN KEY (srs_id) REFERENCES gpkg_spatial_ref_sys(srs_id))""",
    """CREATE TABLE IF NOT EXISTS gpkg_geometry_columns (
        table_name TEXT NOT NULL,
        column_name TEXT NOT NULL,
        geometry_type_name TEXT NOT NULL,
        srs_id INTEGER NOT NULL,
        z TINYINT NOT NULL,
        m TINYINT NOT NULL,
        CONSTRAINT pk_geom_cols PRIMARY KEY (table_name, column_name),
        CONSTRAINT uk_gc_table_name UNIQUE (table_name),
        CONSTRAINT fk_gc_tn FOREIGN KEY (table_name) REFERENCES gpkg_contents(table_name),
        CONSTRAINT fk_gc_srs FOREIGN KEY (srs_id) REFERENCES gpkg_spatial_ref_sys (srs_id))""",
    """CREATE TABLE IF NOT EXISTS gpkg_extensions (
        table_name TEXT,
        column_name TEXT,
        extension_name TEXT NOT NULL,
        definition TEXT NOT NULL,
        scope TEXT NOT NULL,
        CONSTRAINT ge_tce UNIQUE (table_name, column_name, extension_name))""",
]

SRS_ROWS = [
    ("Undefined cartesian SRS", -1, "NONE", -1, "undefined",
     "undefined cartesian coordinate reference system"),
    ("Undefined geographic SRS", 0, "NONE", 0, "undefined",
     "undefined geographic coordinate reference system"),
    ("WGS 84 geodetic", 4326, "EPSG", 4326, _WGS84_WKT,
     "longitude/latitude coordinates in decimal degrees on the WGS 84 spheroid"),
]


def core_statements() -> list[tuple[str, tuple]]:
    """SQL (with parameters) creating the mandatory GeoPackage tables and SRS rows."""
    stmts: list[tuple[str, tuple]] = [
        (f"PRAGMA application_id = {GPKG_APPLICATION_ID}", ()),
        (f"PRAGMA user_version = {GPKG_USER_VERSION}", ()),
    ]
    stmts += [(s, ()) for s in CORE_DDL]
    for row in SRS_ROWS:
        stmts.append(("INSERT OR IGNORE INTO gpkg_spatial_ref_sys VALUES (?, ?, ?, ?, ?, ?)", row))
    return stmts


def register_table_statements(
    table: str, description: str, geometry_type: str | None, *, column: str = "geom",
    pk: str = "fid", srs_id: int = 4326,
) -> list[tuple[str, tuple]]:
    """SQL registering ``table`` in gpkg_contents (and its geometry column and R-tree)."""
    if geometry_type is None:
        return [(
            "INSERT OR REPLACE INTO gpkg_contents (table_name, data_type, identifier, description) "
            "VALUES (?, 'attributes', ?, ?)", (table, table, description),
        )]
    rt = f"rtree_{table}_{column}"
    t, c, i = table, column, pk
    stmts: list[tuple[str, tuple]] = [
        # An empty table has no extent (NULL bounds); refresh_extent_statement keeps it true.
        ("INSERT OR REPLACE INTO gpkg_contents (table_name, data_type, identifier, description, "
         "srs_id) VALUES (?, 'features', ?, ?, ?)", (table, table, description, srs_id)),
        ("INSERT OR REPLACE INTO gpkg_geometry_columns VALUES (?, ?, ?, ?, 0, 0)",
         (table, column, geometry_type, srs_id)),
        ("INSERT OR REPLACE INTO gpkg_extensions VALUES (?, ?, 'gpkg_rtree_index', "
         "'http://www.geopackage.org/spec120/#extension_rtree', 'write-only')", (table, column)),
        (f'CREATE VIRTUAL TABLE "{rt}" USING rtree(id, minx, maxx, miny, maxy)', ()),
    ]
    env = f'ST_MinX(NEW."{c}"), ST_MaxX(NEW."{c}"), ST_MinY(NEW."{c}"), ST_MaxY(NEW."{c}")'
    new_ok = f'(NEW."{c}" NOT NULL AND NOT ST_IsEmpty(NEW."{c}"))'
    new_none = f'(NEW."{c}" IS NULL OR ST_IsEmpty(NEW."{c}"))'
    old_ok = f'(OLD."{c}" NOT NULL AND NOT ST_IsEmpty(OLD."{c}"))'
    old_none = f'(OLD."{c}" IS NULL OR ST_IsEmpty(OLD."{c}"))'
    triggers = [
        f'CREATE TRIGGER "{rt}_insert" AFTER INSERT ON "{t}" WHEN {new_ok} BEGIN '
        f'INSERT OR REPLACE INTO "{rt}" VALUES (NEW."{i}", {env}); END',
        f'CREATE TRIGGER "{rt}_update2" AFTER UPDATE OF "{c}" ON "{t}" '
        f'WHEN OLD."{i}" = NEW."{i}" AND {new_none} BEGIN '
        f'DELETE FROM "{rt}" WHERE id = OLD."{i}"; END',
        f'CREATE TRIGGER "{rt}_update4" AFTER UPDATE ON "{t}" '
        f'WHEN OLD."{i}" != NEW."{i}" AND {new_none} BEGIN '
        f'DELETE FROM "{rt}" WHERE id IN (OLD."{i}", NEW."{i}"); END',
        f'CREATE TRIGGER "{rt}_update5" AFTER UPDATE ON "{t}" '
        f'WHEN OLD."{i}" != NEW."{i}" AND {new_ok} BEGIN '
        f'DELETE FROM "{rt}" WHERE id = OLD."{i}"; '
        f'INSERT OR REPLACE INTO "{rt}" VALUES (NEW."{i}", {env}); END',
        f'CREATE TRIGGER "{rt}_update6" AFTER UPDATE OF "{c}" ON "{t}" '
        f'WHEN OLD."{i}" = NEW."{i}" AND {new_ok} AND {old_ok} BEGIN '
        f'UPDATE "{rt}" SET minx = ST_MinX(NEW."{c}"), maxx = ST_MaxX(NEW."{c}"), '
        f'miny = ST_MinY(NEW."{c}"), maxy = ST_MaxY(NEW."{c}") WHERE id = NEW."{i}"; END',
        f'CREATE TRIGGER "{rt}_update7" AFTER UPDATE OF "{c}" ON "{t}" '
        f'WHEN OLD."{i}" = NEW."{i}" AND {new_ok} AND {old_none} BEGIN '
        f'INSERT OR REPLACE INTO "{rt}" VALUES (NEW."{i}", {env}); END',
        f'CREATE TRIGGER "{rt}_delete" AFTER DELETE ON "{t}" WHEN OLD."{c}" NOT NULL BEGIN '
        f'DELETE FROM "{rt}" WHERE id = OLD."{i}"; END',
    ]
    stmts += [(s, ()) for s in triggers]
    return stmts


def refresh_extent_statement(table: str, *, column: str = "geom",
                             pk: str = "fid") -> tuple[str, tuple]:
    """SQL setting ``table``'s extent in gpkg_contents to the exact bounds of its geometries.

    GDAL and QGIS report this extent as the layer's ("zoom to layer"). The R-tree narrows
    each bound to the few rows that can hold it: it stores float32 values rounded outwards,
    a monotonic rounding, so the row with the smallest ``minx`` is among those whose R-tree
    ``minx`` equals the R-tree's smallest. Their exact envelopes then give the exact bound.
    An empty table gets NULL bounds (no extent).
    """
    rt = f"rtree_{table}_{column}"

    def bound(agg: str, fn: str, col: str, cmp: str) -> str:
        return (f'(SELECT {agg}({fn}(t."{column}")) FROM "{table}" AS t WHERE t."{pk}" IN '
                f'(SELECT id FROM "{rt}" WHERE {col} {cmp} (SELECT {agg}({col}) FROM "{rt}")))')

    sql = (
        "UPDATE gpkg_contents SET "
        f"min_x = {bound('min', 'ST_MinX', 'minx', '<=')}, "
        f"min_y = {bound('min', 'ST_MinY', 'miny', '<=')}, "
        f"max_x = {bound('max', 'ST_MaxX', 'maxx', '>=')}, "
        f"max_y = {bound('max', 'ST_MaxY', 'maxy', '>=')}, "
        "last_change = strftime('%Y-%m-%dT%H:%M:%fZ', 'now') "
        "WHERE table_name = ?"
    )
    return sql, (table,)
