"""Distance along a river line ("chainage") from a source such as a mine or a tailings dam.

Chainage is measured along the line in a local transverse Mercator projection
centred on the line (scale error below 0.1 % within about 250 km of its centre)
and then rescaled so the line's total length equals its geodesic length on the
WGS84 ellipsoid. Points are snapped to the nearest vertex of the line
densified every :data:`DENSIFY_M` metres (a k-d tree query), so chainage is
within 10 m of the exact projection. Chainage is 0 at the point of the line nearest the source,
negative upstream and positive downstream. The line is assumed to be digitised
in the direction of flow (first vertex upstream); pass ``reverse=True`` when it
is not.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import shapely
from pyproj import CRS, Geod, Transformer
from scipy.spatial import cKDTree
from shapely.geometry import LineString, MultiLineString
from shapely.ops import linemerge, nearest_points

from minewatch.errors import InputError

#: Vertex spacing (m) of the densified line used for nearest-vertex lookups:
#: chainage is exact to within half of it.
DENSIFY_M = 20.0


def _read_geoms(path: str | Path):
    import geopandas as gpd

    p = Path(path)
    if not p.exists():
        raise InputError(f"{p} does not exist")
    try:
        gdf = gpd.read_file(p)
    except Exception as exc:
        raise InputError(f"{p}: cannot read as a vector file: {exc}") from exc
    if gdf.empty:
        raise InputError(f"{p}: no features")
    if gdf.crs is None:
        gdf = gdf.set_crs("EPSG:4326")
    return gdf.to_crs("EPSG:4326")


def read_river_line(path: str | Path) -> LineString:
    """Read a river as one LineString (EPSG:4326); parts are merged end to end.

    Raises
    ------
    InputError
        When the file holds no lines or lines that do not join into one.
    """
    gdf = _read_geoms(path)
    lines = [g for g in gdf.geometry if g is not None and g.geom_type in
             ("LineString", "MultiLineString")]
    if not lines:
        raise InputError(f"{path}: no LineString features (found "
                         f"{', '.join(sorted(set(gdf.geom_type)))})")
    merged = linemerge(MultiLineString([ls for g in lines for ls in
                                        (g.geoms if g.geom_type == "MultiLineString" else [g])]))
    if merged.geom_type != "LineString":
        parts = list(merged.geoms)
        raise InputError(
            f"{path}: the {len(parts)} river lines do not join into one reach",
            hint="give a file with a single connected line from the source downstream")
    return merged


def read_source_geometry(path: str | Path):
    """Union of all features of a vector file (EPSG:4326), e.g. a reservoir polygon."""
    gdf = _read_geoms(path)
    return shapely.union_all(gdf.geometry.values)


@dataclass
class RiverReach:
    """A river line prepared for chainage queries."""

    line_wgs84: LineString
    line_m: LineString
    to_local: Transformer
    origin_m: float
    scale: float  # geodesic length / projected length
    geodesic_length_km: float
    source_offset_km: float  # distance from the source geometry to the line
    _tree: cKDTree | None = None
    _cum: np.ndarray | None = None

    def chainage(self, lon: np.ndarray, lat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Chainage (km, + downstream) and perpendicular offset (m) of points.

        Parameters
        ----------
        lon, lat : array-like
            Point coordinates in degrees (EPSG:4326).
        """
        x, y = self.to_local.transform(np.asarray(lon, float), np.asarray(lat, float))
        if self._tree is None:
            dense = shapely.segmentize(self.line_m, DENSIFY_M)
            xy = np.asarray(dense.coords)[:, :2]
            seg = np.hypot(*np.diff(xy, axis=0).T)
            self._cum = np.concatenate([[0.0], np.cumsum(seg)])
            self._tree = cKDTree(xy)
        offset, idx = self._tree.query(np.column_stack([x, y]))
        along = self._cum[idx]
        return (along - self.origin_m) * self.scale / 1000.0, offset * self.scale


def _project(tr: Transformer, geom):
    def fn(xy: np.ndarray) -> np.ndarray:
        x, y = tr.transform(xy[:, 0], xy[:, 1])
        return np.column_stack([x, y])

    return shapely.transform(geom, fn)


def river_reach(line: LineString, source=None, *, reverse: bool = False) -> RiverReach:
    """Prepare a river line (EPSG:4326) for chainage from ``source``.

    Parameters
    ----------
    line : shapely LineString
        River centre line in lon/lat, digitised downstream (or set ``reverse``).
    source : shapely geometry, optional
        The mine, reservoir or outfall. Chainage 0 is the nearest point of the
        line to it; without a source, chainage 0 is the line's first vertex.
    reverse : bool
        The line is digitised upstream (first vertex downstream).
    """
    if line.is_empty or line.length == 0:
        raise InputError("the river line is empty")
    if reverse:
        line = LineString(list(line.coords)[::-1])
    c = line.centroid
    local = CRS.from_proj4(f"+proj=tmerc +lat_0={c.y:.6f} +lon_0={c.x:.6f} +k=1 +x_0=0 +y_0=0 "
                           "+ellps=WGS84 +units=m +no_defs")
    to_local = Transformer.from_crs("EPSG:4326", local, always_xy=True)
    line_m = _project(to_local, line)
    lon, lat = np.array(line.coords).T
    geod_len = float(Geod(ellps="WGS84").line_length(lon, lat))
    scale = geod_len / line_m.length
    origin = 0.0
    offset_km = 0.0
    if source is not None and not source.is_empty:
        src_m = _project(to_local, source)
        p_line, p_src = nearest_points(line_m, src_m)
        origin = float(line_m.project(p_line))
        offset_km = p_line.distance(p_src) * scale / 1000.0
    return RiverReach(line, line_m, to_local, origin, scale, geod_len / 1000.0, offset_km)
