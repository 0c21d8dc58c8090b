"""Read bands of many items onto one analysis grid, one spatial tile at a time.

The analysis grid is the native grid of the finest visible/NIR band (10 m for
Sentinel-2). Bands on another grid (20 m Sentinel-2 bands, a date exported at
another resolution, another CRS) are resampled onto it by GDAL through
``WarpedVRT``: bilinear for reflectance, nearest for categorical layers (SCL,
QA_PIXEL, data masks). Only the tile's window is read from each file, so a COG
served over HTTP is read by range requests and memory stays bounded by the tile.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
import rasterio
from affine import Affine
from rasterio.crs import CRS
from rasterio.enums import Resampling
from rasterio.errors import RasterioIOError
from rasterio.vrt import WarpedVRT
from rasterio.windows import Window
from rasterio.windows import transform as window_transform

from minewatch.errors import CatalogError, DataError
from minewatch.imagery.catalog import CATEGORICAL, AssetRef, SceneItem

_REFERENCE_BANDS = ("red", "green", "blue", "nir")


@dataclass(frozen=True)
class Grid:
    """A raster grid: CRS, affine transform and shape."""

    crs: CRS
    transform: Affine
    width: int
    height: int

    @property
    def shape(self) -> tuple[int, int]:
        return (self.height, self.width)

    @property
    def res(self) -> float:
        return abs(self.transform.a)

    @property
    def bounds(self) -> tuple[float, float, float, float]:
        left, top = self.transform @ (0, 0)
        right, bottom = self.transform @ (self.width, self.height)
        return (min(left, right), min(top, bottom), max(left, right), max(top, bottom))

    def pixel_area_m2(self) -> float:
        """Area of one pixel in square metres (geodesic estimate for geographic grids)."""
        if self.crs.is_projected:
            return abs(self.transform.a * self.transform.e) * self.crs.linear_units_factor[1] ** 2
        from pyproj import Geod

        left, bottom, right, top = self.bounds
        lat = 0.5 * (bottom + top)
        lon = 0.5 * (left + right)
        geod = Geod(ellps="WGS84")
        dx = abs(self.transform.a)
        dy = abs(self.transform.e)
        _, _, width_m = geod.inv(lon, lat, lon + dx, lat)
        _, _, height_m = geod.inv(lon, lat, lon, lat + dy)
        return width_m * height_m

    def tiles(self, size: int) -> Iterator[Window]:
        for row in range(0, self.height, size):
            for col in range(0, self.width, size):
                yield Window(col, row, min(size, self.width - col), min(size, self.height - row))

    def window_grid(self, window: Window) -> Grid:
        return Grid(self.crs, window_transform(window, self.transform), int(window.width), int(window.height))


def _open(href: str, where: str):
    try:
        return rasterio.open(href)
    except RasterioIOError as exc:
        raise CatalogError(f"{where}: cannot read {href} ({exc})") from None


def analysis_grid(items: Sequence[SceneItem]) -> Grid:
    """The grid of the finest reference band (red, else green/blue/nir), most common across items."""
    votes: Counter[tuple] = Counter()
    sample: dict[tuple, AssetRef] = {}
    for item in items:
        for band in _REFERENCE_BANDS:
            ref = item.assets.get(band)
            if ref is not None:
                key = (band, ref.resolution)
                votes[key] += 1
                sample.setdefault(key, ref)
                break
    if not votes:
        raise CatalogError("no item has a red, green, blue or nir band to define the analysis grid")
    # Finest resolution first (None = unknown, opened below), then most common.
    candidates = sorted(votes, key=lambda k: (k[1] is None, k[1] or 0, -votes[k]))
    best: tuple[float, Grid] | None = None
    for key in candidates[:3]:
        ref = sample[key]
        with _open(ref.href, "analysis grid") as src:
            if src.crs is None:
                raise CatalogError(f"{ref.href}: the raster has no CRS", hint="georeference the files first")
            grid = Grid(src.crs, src.transform, src.width, src.height)
        if best is None or grid.res < best[0] - 1e-12:
            best = (grid.res, grid)
    assert best is not None
    return best[1]


def _read_asset(ref: AssetRef, grid: Grid, window: Window, categorical: bool) -> np.ndarray:
    """Read one asset's values for ``window`` of ``grid``: float32 reflectance (NaN = no data)
    or, for categorical layers, the raw integer codes (0 where nothing was read)."""
    tile = grid.window_grid(window)
    resampling = Resampling.nearest if categorical else Resampling.bilinear
    with _open(ref.href, "reading bands") as src:
        nodata = ref.nodata if ref.nodata is not None else src.nodata
        same_grid = (
            src.crs == grid.crs
            and src.transform.almost_equals(grid.transform)
            and (src.width, src.height) == (grid.width, grid.height)
        )
        if same_grid:
            data = src.read(ref.band_index, window=window)
        else:
            with WarpedVRT(
                src,
                crs=tile.crs,
                transform=tile.transform,
                width=tile.width,
                height=tile.height,
                resampling=resampling,
                src_nodata=nodata,
                nodata=nodata if nodata is not None else 0,
            ) as vrt:
                data = vrt.read(ref.band_index)
            if nodata is None:
                nodata = 0
    if categorical:
        out = data.astype(np.uint16, copy=False)
        if nodata is not None and nodata != 0:
            out = np.where(data == nodata, 0, out).astype(np.uint16)
        return out
    values = data.astype(np.float32)
    invalid = ~np.isfinite(values)
    if nodata is not None:
        invalid |= data == nodata
    values = values * np.float32(ref.scale) + np.float32(ref.offset)
    values[invalid] = np.nan
    return values


def load_tile(
    items: Sequence[SceneItem],
    bands: Sequence[str],
    grid: Grid,
    window: Window,
    *,
    threads: int = 4,
) -> dict[str, np.ndarray]:
    """Read ``bands`` of every item for one tile.

    Returns ``{band: array (T, h, w)}``: float32 reflectance with NaN where the
    item has no data or lacks the band; categorical bands as uint16 codes (0 = none).
    """
    h, w = int(window.height), int(window.width)
    out: dict[str, np.ndarray] = {}
    for band in bands:
        cat = band in CATEGORICAL
        out[band] = (
            np.zeros((len(items), h, w), np.uint16) if cat else np.full((len(items), h, w), np.nan, np.float32)
        )
    jobs = [(t, band) for t, item in enumerate(items) for band in bands if band in item.assets]

    def work(job: tuple[int, str]) -> None:
        t, band = job
        out[band][t] = _read_asset(items[t].assets[band], grid, window, band in CATEGORICAL)

    with ThreadPoolExecutor(max_workers=threads) as pool:
        for _ in pool.map(work, jobs):
            pass
    return out


def require_overlap(grid: Grid, bounds: tuple[float, float, float, float], what: str) -> None:
    """Raise :class:`DataError` if ``bounds`` (in the grid CRS) do not intersect the grid."""
    left, bottom, right, top = grid.bounds
    b_left, b_bottom, b_right, b_top = bounds
    if b_right <= left or b_left >= right or b_top <= bottom or b_bottom >= top:
        raise DataError(
            f"{what} does not overlap the imagery (its bounds {tuple(round(v, 1) for v in bounds)} vs the "
            f"scene's {tuple(round(v, 1) for v in grid.bounds)} in {grid.crs})",
            hint="check that the file covers the same area and declares the right CRS",
        )
