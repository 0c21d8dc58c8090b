"""Geometry helpers: CRS, reprojection to EPSG:4326, validity and repair, geodesic area."""

from __future__ import annotations

import numpy as np
import pyproj
import shapely
from shapely import GeometryType

from minewatch.errors import InputError

_POLY = {GeometryType.POLYGON, GeometryType.MULTIPOLYGON}


def parse_crs(value, source: str) -> pyproj.CRS:
    """A pyproj CRS from 'EPSG:32719', a WKT, a number... or an InputError naming ``source``."""
    try:
        return pyproj.CRS.from_user_input(value)
    except Exception as exc:  # pyproj.exceptions.CRSError and friends
        raise InputError(
            f"{source}: unknown CRS {str(value)[:80]!r} ({str(exc).splitlines()[0][:120]})",
            hint="give a CRS such as EPSG:4326 or EPSG:32719 (--crs)",
        ) from None


def as_geometry(g) -> shapely.Geometry | None:
    """A shapely geometry from a shapely geometry, GeoJSON dict or string, or WKT (None stays)."""
    if g is None or isinstance(g, shapely.Geometry):
        return g
    try:
        if isinstance(g, dict):
            return shapely.geometry.shape(g)
        if isinstance(g, str):
            return (shapely.from_wkt(g) if not g.lstrip().startswith("{")
                    else shapely.from_geojson(g))
    except Exception as exc:  # malformed GeoJSON or WKT (shapely/GEOS raise many kinds)
        raise InputError(f"not a valid geometry: {str(exc).splitlines()[0][:120]}") from None
    raise InputError(f"not a geometry: {type(g).__name__}")


def area_ha(geom: shapely.Geometry) -> float:
    """Geodesic area (WGS84 ellipsoid) of a lon/lat geometry, in hectares."""
    return abs(pyproj.Geod(ellps="WGS84").geometry_area_perimeter(geom)[0]) / 1e4


def to_wgs84(geoms: np.ndarray, crs: pyproj.CRS) -> np.ndarray:
    """Reproject an array of shapely geometries (2D) from ``crs`` to EPSG:4326 lon/lat."""
    geoms = shapely.force_2d(geoms)
    if crs.equals(pyproj.CRS.from_epsg(4326), ignore_axis_order=True):
        return geoms
    tr = pyproj.Transformer.from_crs(crs, 4326, always_xy=True)

    def f(coords: np.ndarray) -> np.ndarray:
        x, y = tr.transform(coords[:, 0], coords[:, 1])
        return np.column_stack([x, y])

    return shapely.transform(geoms, f)


def normalise(geom: shapely.Geometry, target: str) -> tuple[shapely.Geometry | None, str | None]:
    """Coerce ``geom`` to the column's type. Returns (geometry, error message or None)."""
    gt = shapely.get_type_id(geom)
    if target == "MULTIPOLYGON":
        if gt == GeometryType.POLYGON:
            return shapely.MultiPolygon([geom]), None
        if gt == GeometryType.MULTIPOLYGON:
            return geom, None
        if gt == GeometryType.GEOMETRYCOLLECTION:
            polys = polygonal_part(geom)
            if polys is not None:
                return polys, None
        return None, f"expected a polygon, got {geom.geom_type}"
    if target == "POINT":
        if gt == GeometryType.POINT:
            return geom, None
        if gt == GeometryType.MULTIPOINT and len(geom.geoms) == 1:
            return geom.geoms[0], None
        return None, f"expected a point, got {geom.geom_type}"
    return geom, None


def polygonal_part(geom: shapely.Geometry) -> shapely.MultiPolygon | None:
    """The polygons of a (possibly mixed) geometry as one MultiPolygon (None if none)."""
    parts = shapely.get_parts(geom)
    polys = []
    for p in parts:
        t = shapely.get_type_id(p)
        if t == GeometryType.POLYGON:
            polys.append(p)
        elif t == GeometryType.MULTIPOLYGON:
            polys.extend(p.geoms)
        elif t == GeometryType.GEOMETRYCOLLECTION:
            sub = polygonal_part(p)
            if sub is not None:
                polys.extend(sub.geoms)
    polys = [p for p in polys if not p.is_empty and p.area > 0]
    return shapely.MultiPolygon(polys) if polys else None


def check_lonlat(geom: shapely.Geometry) -> str | None:
    """Error message if the reprojected coordinates are not plausible lon/lat."""
    xmin, ymin, xmax, ymax = geom.bounds
    if not np.all(np.isfinite([xmin, ymin, xmax, ymax])):
        return "coordinates are not finite after reprojection"
    if xmin < -180.0001 or xmax > 180.0001 or ymin < -90.0001 or ymax > 90.0001:
        return (f"coordinates ({xmin:.6g}, {ymin:.6g}, {xmax:.6g}, {ymax:.6g}) are outside "
                "lon/lat range after reprojection: is the CRS right? (--crs)")
    return None


def repair(geom: shapely.Geometry, target: str) -> tuple[shapely.Geometry | None, str]:
    """Repair an invalid geometry with make_valid when that is safe.

    Safe means: the repaired geometry still has the column's dimension (for
    polygons: a non-empty polygonal part; slivers collapsed to lines or points
    are dropped). Returns (repaired geometry or None, description).
    """
    reason = shapely.is_valid_reason(geom)
    fixed = shapely.make_valid(geom)
    if target == "MULTIPOLYGON" or (
        target == "GEOMETRY" and shapely.get_type_id(geom) in _POLY
    ):
        polys = polygonal_part(fixed)
        if polys is None:
            return None, f"invalid geometry ({reason}) collapses to no area when repaired"
        a0 = abs(shapely.area(geom))
        a1 = polys.area
        change = "" if a0 == 0 else f"; area {100.0 * (a1 - a0) / a0:+.2f}%"
        if target == "GEOMETRY" and len(polys.geoms) == 1:
            return polys.geoms[0], f"repaired invalid geometry ({reason}){change}"
        return polys, f"repaired invalid geometry ({reason}){change}"
    if fixed.is_empty:
        return None, f"invalid geometry ({reason}) is empty when repaired"
    return fixed, f"repaired invalid geometry ({reason})"
