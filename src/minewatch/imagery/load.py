"""Read bands of many items onto one analysis grid, one spatial tile at a time.

The analysis grid is the native grid of the finest visible/NIR band (10 m for
Sentinel-2). Bands on another grid (20 m Sentinel-2 bands, a date exported at
another resolution, another CRS) are resampled onto it by GDAL through
``WarpedVRT``: bilinear for reflectance, nearest for categorical layers (SCL,
QA_PIXEL, data masks). Only the tile's window is read from each file, so a COG
served over HTTP is read by range requests and memory stays bounded by the tile.

Files are checked before any pixel is read by
:func:`minewatch.imagery.assets.inspect_assets`; a read that still fails is either
an error naming the file or, when the caller keeps a list of skipped assets, a
:class:`~minewatch.imagery.catalog.SkippedAsset` record and no data for that
item and band (see :func:`load_tile`).
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
import rasterio
from affine import Affine
from rasterio.crs import CRS
from rasterio.enums import Resampling
from rasterio.errors import CRSError, RasterioError
from rasterio.vrt import WarpedVRT
from rasterio.windows import Window
from rasterio.windows import transform as window_transform

from minewatch.errors import CatalogError, DataError
from minewatch.imagery.catalog import (
    CATEGORICAL,
    REFERENCE_BANDS,
    AssetRef,
    SceneItem,
    SkippedAsset,
)


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


def error_text(exc: BaseException) -> str:
    """The first line of a rasterio/GDAL error message (or the exception's name)."""
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _header_grid(ref: AssetRef) -> Grid | str:
    """The grid of one asset's file, or why it cannot give one."""
    try:
        with rasterio.open(ref.href) as src:
            if src.crs is None:
                return "the raster has no CRS"
            return Grid(src.crs, src.transform, src.width, src.height)
    except (RasterioError, OSError) as exc:
        return error_text(exc)


def analysis_grid(items: Sequence[SceneItem]) -> Grid:
    """The grid of the finest reference band (red, else green/blue/nir), most common across items.

    Files that cannot be opened or have no CRS are passed over (:func:`~minewatch.imagery.assets.
    inspect_assets` reports them); :class:`CatalogError` when no reference band gives a grid.
    """
    votes: Counter[tuple] = Counter()
    refs: dict[tuple, list[AssetRef]] = {}
    for item in items:
        for band in REFERENCE_BANDS:
            ref = item.assets.get(band)
            if ref is not None:
                key = (band, ref.resolution)
                votes[key] += 1
                refs.setdefault(key, []).append(ref)
                break
    if not votes:
        raise CatalogError("no item has a red, green, blue or nir band to define the analysis grid")
    # Finest resolution first (None = unknown, opened below), then most common.
    candidates = sorted(votes, key=lambda k: (k[1] is None, k[1] or 0, -votes[k]))
    best: tuple[float, Grid] | None = None
    problems: list[str] = []
    for key in candidates[:3]:
        for ref in refs[key]:
            grid = _header_grid(ref)
            if isinstance(grid, Grid):
                break
            problems.append(f"{ref.href}: {grid}")
        else:
            continue
        if best is None or grid.res < best[0] - 1e-12:
            best = (grid.res, grid)
    if best is None:
        raise CatalogError(f"no reference band file gives the analysis grid: {problems[0]}"
                           + (f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""),
                           hint="georeference the files (a CRS) or repair the catalog's hrefs")
    return best[1]


def _read_asset(ref: AssetRef, grid: Grid, window: Window, categorical: bool) -> np.ndarray:
    """Read one asset's values for ``window`` of ``grid``: float32 reflectance (NaN = no data)
    or, for categorical layers, the raw integer codes (0 where nothing was read)."""
    tile = grid.window_grid(window)
    resampling = Resampling.nearest if categorical else Resampling.bilinear
    with rasterio.open(ref.href) as src:
        nodata = ref.nodata if ref.nodata is not None else src.nodata
        if nodata is None and np.issubdtype(np.dtype(src.dtypes[ref.band_index - 1]), np.integer):
            nodata = 0  # integer imagery without a declared nodata: DN 0 is its fill (as in ingest)
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
                nodata=nodata if nodata is not None else np.nan,  # float without nodata: NaN outside
            ) as vrt:
                data = vrt.read(ref.band_index)
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
    skipped: list[SkippedAsset] | None = None,
) -> dict[str, np.ndarray]:
    """Read ``bands`` of every item for one tile.

    Parameters
    ----------
    items, bands
        What to read (an item without a band gives no data for it).
    grid, window
        The analysis grid and the tile of it to read.
    threads
        Files read at once.
    skipped
        Where a read that fails (a damaged file) is recorded as a
        :class:`SkippedAsset` (stage ``"reading"``, one per item and band, however
        many tiles fail), that item and band being no data in this tile. Without it
        such a read raises :class:`CatalogError` naming the file.

    Returns
    -------
    dict
        ``{band: array (T, h, w)}``: float32 reflectance with NaN where the item has no
        data, lacks the band or could not be read; categorical bands as uint16 codes (0 = none).
    """
    h, w = int(window.height), int(window.width)
    out: dict[str, np.ndarray] = {}
    for band in bands:
        cat = band in CATEGORICAL
        out[band] = (
            np.zeros((len(items), h, w), np.uint16) if cat else np.full((len(items), h, w), np.nan, np.float32)
        )
    jobs = [(t, band) for t, item in enumerate(items) for band in bands if band in item.assets]
    lock = threading.Lock()

    def work(job: tuple[int, str]) -> None:
        t, band = job
        item, ref = items[t], items[t].assets[band]
        try:
            out[band][t] = _read_asset(ref, grid, window, band in CATEGORICAL)
        except (RasterioError, CRSError, OSError) as exc:
            reason = f"cannot read its pixels ({error_text(exc)}); no data where reading failed"
            if skipped is None:
                raise CatalogError(f"{ref.href}: {band} of {item.id} ({item.date}): {reason}",
                                   hint="re-download or re-export the file, or remove the item") from None
            with lock:
                if not any(s.item_id == item.id and s.band == band and s.stage == "reading" for s in skipped):
                    skipped.append(SkippedAsset(item.id, item.date, band, ref.href, reason, "reading"))

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
