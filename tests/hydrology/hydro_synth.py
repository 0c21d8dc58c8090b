"""Synthetic DEM helpers for the hydrology tests (imported by the tests and conftest)."""

from __future__ import annotations

import numpy as np
import rasterio
from affine import Affine

CELL = 30.0
ORIGIN = (500000.0, 8900000.0)  # UTM 33S-ish coordinates, EPSG:32733


def v_valley(rows: int = 40, cols: int = 21, side: float = 2.0, fall: float = 0.5) -> np.ndarray:
    """Symmetric V valley draining south: channel in the middle column."""
    yy, xx = np.mgrid[0:rows, 0:cols]
    mid = cols // 2
    return (np.abs(xx - mid) * side + (rows - yy) * fall).astype(np.float32)


def write_dem(path, z, nodata=-9999.0, crs="EPSG:32733", cell=CELL):
    t = Affine(cell, 0, ORIGIN[0], 0, -cell, ORIGIN[1])
    with rasterio.open(path, "w", driver="GTiff", height=z.shape[0], width=z.shape[1], count=1,
                       dtype=z.dtype.name, crs=crs, transform=t, nodata=nodata) as ds:
        ds.write(z, 1)
    return path


