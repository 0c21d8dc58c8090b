"""Georeferenced DEM container, reading/writing, and cell geometry in metres.

A :class:`Dem` holds the elevation array with its affine transform, CRS and
nodata value. :func:`cell_sizes_m` gives the cell width and height in metres
for projected *and* geographic (degree) grids, which the flow-distance and
area computations need.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from affine import Affine

from minewatch.errors import DataError, InputError

# WGS84 ellipsoid, used for the metric size of cells of geographic (degree) grids.
_WGS84_A = 6378137.0
_WGS84_E2 = 6.69437999014e-3


@dataclass
class Dem:
    """A single-band elevation grid with its georeference.

    Attributes
    ----------
    data : numpy.ndarray
        2-D elevation array (any numeric dtype).
    transform : affine.Affine
        Pixel-to-CRS transform (north-up grids only; no rotation).
    crs : rasterio.crs.CRS or None
        Coordinate reference system of the grid.
    nodata : float or None
        Value marking missing cells (NaN is always treated as missing too).
    path : str or None
        File the DEM came from, used in error messages.
    """

    data: np.ndarray
    transform: Affine = field(default_factory=Affine.identity)
    crs: object | None = None
    nodata: float | None = None
    path: str | None = None

    def __post_init__(self) -> None:
        if self.data.ndim != 2:
            raise InputError(f"DEM {self.path or ''} must be 2-D, got shape {self.data.shape}")
        if self.transform.b != 0 or self.transform.d != 0:
            raise InputError(
                f"DEM {self.path or ''} has a rotated transform; only north-up grids are supported",
                hint="warp it first, e.g. gdalwarp -t_srs <crs> in.tif out.tif",
            )

    @property
    def shape(self) -> tuple[int, int]:
        return self.data.shape  # type: ignore[return-value]

    @property
    def bounds(self) -> tuple[float, float, float, float]:
        """(left, bottom, right, top) in the DEM's CRS."""
        rows, cols = self.shape
        t = self.transform
        x0, y0 = t.c, t.f
        x1, y1 = t.c + cols * t.a, t.f + rows * t.e
        return (min(x0, x1), min(y0, y1), max(x0, x1), max(y0, y1))

    def valid_mask(self) -> np.ndarray:
        """Boolean array, True where the cell holds an elevation."""
        a = self.data
        valid = np.ones(a.shape, dtype=bool)
        if np.issubdtype(a.dtype, np.floating):
            valid &= ~np.isnan(a)
        if self.nodata is not None and not (isinstance(self.nodata, float) and math.isnan(self.nodata)):
            valid &= a != self.nodata
        return valid

    def is_geographic(self) -> bool:
        return bool(self.crs is not None and getattr(self.crs, "is_geographic", False))

    def rowcol(self, x: float, y: float) -> tuple[int, int]:
        """Row and column of the cell holding CRS coordinate (x, y) (may lie outside)."""
        t = self.transform
        col = (x - t.c) / t.a
        row = (y - t.f) / t.e
        return int(math.floor(row)), int(math.floor(col))

    def xy(self, row: int | np.ndarray, col: int | np.ndarray):
        """CRS coordinates of cell centres."""
        t = self.transform
        x = t.c + (np.asarray(col) + 0.5) * t.a
        y = t.f + (np.asarray(row) + 0.5) * t.e
        return x, y


def read_dem(path: str | os.PathLike, band: int = 1) -> Dem:
    """Read one band of a rasterio-readable DEM.

    Raises
    ------
    InputError
        When the file is missing or not a raster.
    """
    import rasterio
    from rasterio.errors import RasterioIOError

    p = Path(path)
    if not p.exists():
        raise InputError(f"DEM file not found: {p}", hint="check the path")
    try:
        # GDAL_NUM_THREADS lets GDAL decompress tiles/strips of large DEMs in parallel
        with rasterio.Env(GDAL_NUM_THREADS="ALL_CPUS"), rasterio.open(p) as ds:
            if band < 1 or band > ds.count:
                raise InputError(f"DEM {p} has {ds.count} band(s); band {band} does not exist")
            data = ds.read(band)
            return Dem(data=data, transform=ds.transform, crs=ds.crs, nodata=ds.nodata, path=str(p))
    except RasterioIOError as exc:
        raise InputError(f"cannot read DEM {p}: {exc}", hint="give a GeoTIFF or other GDAL raster") from exc


def cell_sizes_m(dem: Dem) -> tuple[np.ndarray, np.ndarray]:
    """Cell width and height in metres, one value per row.

    For projected grids the CRS linear unit is converted to metres; for
    geographic grids the size in degrees is converted at each row's latitude on
    the WGS84 ellipsoid (meridional and prime-vertical radii of curvature).

    Returns
    -------
    (dx, dy) : tuple of float64 arrays of length ``rows``
    """
    rows = dem.shape[0]
    a = abs(dem.transform.a)
    e = abs(dem.transform.e)
    if dem.is_geographic():
        lat = np.radians(dem.transform.f + (np.arange(rows) + 0.5) * dem.transform.e)
        s2 = np.sin(lat) ** 2
        n_rad = _WGS84_A / np.sqrt(1 - _WGS84_E2 * s2)
        m_rad = _WGS84_A * (1 - _WGS84_E2) / (1 - _WGS84_E2 * s2) ** 1.5
        dx = np.radians(a) * n_rad * np.cos(lat)
        dy = np.radians(e) * m_rad
        return dx.astype(np.float64), dy.astype(np.float64)
    factor = 1.0
    if dem.crs is not None:
        try:
            factor = float(dem.crs.linear_units_factor[1])
        except Exception:  # CRS without linear units information
            factor = 1.0
    return np.full(rows, a * factor), np.full(rows, e * factor)


def mean_cell_size_m(dem: Dem) -> tuple[float, float]:
    """Cell width and height in metres at the grid centre (for D8 slope weighting)."""
    dx, dy = cell_sizes_m(dem)
    mid = len(dx) // 2
    return float(dx[mid]), float(dy[mid])


def write_raster(path: str | os.PathLike, array: np.ndarray, like: Dem, nodata=None) -> Path:
    """Write ``array`` as a single-band GeoTIFF on ``like``'s grid, atomically."""
    from minewatch.geotiff import write_geotiff

    write_geotiff(path, array, crs=like.crs, transform=like.transform, nodata=nodata)
    return Path(path)


def check_overlap(dem: Dem, bounds: tuple[float, float, float, float], what: str) -> None:
    """Raise :class:`DataError` when ``bounds`` (in the DEM CRS) miss the DEM."""
    l, b, r, t = dem.bounds
    if bounds[2] < l or bounds[0] > r or bounds[3] < b or bounds[1] > t:
        raise DataError(
            f"DEM {dem.path or '<array>'} (bounds {l:.6g}, {b:.6g}, {r:.6g}, {t:.6g} in {dem.crs}) "
            f"does not overlap the {what} (bounds {bounds[0]:.6g}, {bounds[1]:.6g}, "
            f"{bounds[2]:.6g}, {bounds[3]:.6g})",
            hint="use a DEM that covers the mine features and the area downstream",
        )
