"""Water pixels along a river from a raster tile: the bridge from imagery to the river signal.

The pipeline loads one date's bands on an analysis grid; :func:`river_pixels`
keeps the pixels within ``max_offset_m`` of the river line that look like
water (NDWI, McFeeters 1996: (green - nir) / (green + nir) above a threshold),
and returns them as points with their band values, ready for
:func:`minewatch.analysis.water.river_signal.add_water_indices` and
:func:`~minewatch.analysis.water.river_signal.analyse_river_signal`.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from affine import Affine
from pyproj import Transformer
from rasterio.crs import CRS
from rasterio.features import geometry_mask
from rasterio.transform import xy

from minewatch.errors import DataError


def river_pixels(bands: dict[str, np.ndarray], transform: Affine, crs: CRS | str, reach, *,
                 date: str, max_offset_m: float = 300.0, green: str = "B03",
                 nir: str = "B08", ndwi_min: float | None = 0.0,
                 valid: np.ndarray | None = None) -> pd.DataFrame:
    """Pixels of one date near the river, with chainage and band values.

    Parameters
    ----------
    bands : dict of str to 2-D array
        Band name -> reflectance array, all on the grid given by ``transform``.
    transform, crs : Affine, CRS
        The grid.
    reach : RiverReach
        From :func:`minewatch.analysis.water.chainage.river_reach`.
    date : str
        ISO date written in the ``date`` column.
    max_offset_m : float
        Keep pixels whose centre is within this distance of the line.
    green, nir : str
        Band names for the water test; set ``ndwi_min=None`` to keep all pixels.
    valid : 2-D bool array, optional
        Usable pixels (cloud-free, in the data footprint).

    Returns
    -------
    pandas.DataFrame
        ``date, lon, lat, chainage_km, offset_m`` and one column per band.
    """
    if not bands:
        raise DataError("no bands given")
    shape = next(iter(bands.values())).shape
    crs = CRS.from_user_input(crs)
    # Candidate pixels: the line buffered (in degrees, generously) rasterised on the grid.
    to_grid = Transformer.from_crs("EPSG:4326", crs, always_xy=True)
    import shapely

    def fn(xy: np.ndarray) -> np.ndarray:
        x, y = to_grid.transform(xy[:, 0], xy[:, 1])
        return np.column_stack([x, y])

    line_grid = shapely.transform(reach.line_wgs84, fn)
    unit_m = crs.linear_units_factor[1] if crs.is_projected else 111_320.0
    buffer = line_grid.buffer(1.5 * max_offset_m / unit_m + abs(transform.a))
    cand = geometry_mask([buffer], out_shape=shape, transform=transform, invert=True,
                         all_touched=True)
    if valid is not None:
        cand &= valid.astype(bool)
    if ndwi_min is not None and green in bands and nir in bands:
        g, n = bands[green].astype(float), bands[nir].astype(float)
        with np.errstate(invalid="ignore", divide="ignore"):
            ndwi = (g - n) / (g + n)
        cand &= ndwi > ndwi_min
    rows, cols = np.nonzero(cand)
    if rows.size == 0:
        return pd.DataFrame(columns=["date", "lon", "lat", "chainage_km", "offset_m", *bands])
    xs, ys = xy(transform, rows, cols, offset="center")
    lon, lat = Transformer.from_crs(crs, "EPSG:4326", always_xy=True).transform(xs, ys)
    ch, off = reach.chainage(np.asarray(lon), np.asarray(lat))
    keep = off <= max_offset_m
    out = pd.DataFrame({"date": date, "lon": np.asarray(lon)[keep], "lat": np.asarray(lat)[keep],
                        "chainage_km": ch[keep], "offset_m": off[keep]})
    for name, arr in bands.items():
        out[name] = arr[rows[keep], cols[keep]]
    return out
