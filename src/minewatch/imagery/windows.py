"""Reading the AOI window of a remote (or local) raster, through the download cache.

GDAL reads only the tiles of a Cloud-Optimised GeoTIFF that cover the window, with
HTTP range requests (``/vsicurl/``, settings of :func:`~minewatch.imagery.http.gdal_env`).
Each window is written as a single-band COG in the source's own grid (no resampling)
and kept in the :class:`~minewatch.imagery.cache.Cache`, so a re-run reads nothing.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import rasterio
from rasterio.errors import RasterioIOError
from rasterio.warp import transform_bounds
from rasterio.windows import Window, from_bounds

from minewatch.errors import NetworkError
from minewatch.imagery.aoi import BBox
from minewatch.imagery.cache import Cache
from minewatch.imagery.cog import write_cog
from minewatch.imagery.http import RetryPolicy, Signer, gdal_env, unsigned, with_retries

#: Source pixels added around the AOI window, so that resampling (bilinear onto the
#: analysis grid) has its neighbours at the AOI edge exactly as with the full file.
WINDOW_MARGIN_PX = 2


@dataclass(frozen=True)
class CachedWindow:
    """One band's AOI window in the cache: the COG, what it is, and whether it was there."""

    path: Path
    meta: dict[str, Any]
    from_cache: bool


def gdal_path(href: str) -> str:
    """The path GDAL opens for an href (``/vsicurl/`` for HTTP, plain path for ``file://``)."""
    if href.startswith(("http://", "https://")):
        return "/vsicurl/" + href
    if href.startswith("file://"):
        return href[7:]
    return href


def aoi_window(src: Any, bbox: BBox, margin: int = WINDOW_MARGIN_PX) -> Window | None:
    """The pixel-aligned window of ``src`` covering a WGS84 bbox.

    Parameters
    ----------
    src
        An open rasterio dataset.
    bbox
        ``(W, S, E, N)`` in degrees.
    margin
        Pixels added on each side, clipped to the raster.

    Returns
    -------
    Window or None
        ``None`` when the raster and the bbox are disjoint.
    """
    left, bottom, right, top = transform_bounds("EPSG:4326", src.crs, *bbox, densify_pts=21)
    win = from_bounds(left, bottom, right, top, src.transform)
    if (win.col_off + win.width <= 0 or win.row_off + win.height <= 0
            or win.col_off >= src.width or win.row_off >= src.height):
        return None
    c0 = max(0, math.floor(win.col_off + 1e-9) - margin)
    r0 = max(0, math.floor(win.row_off + 1e-9) - margin)
    c1 = min(src.width, math.ceil(win.col_off + win.width - 1e-9) + margin)
    r1 = min(src.height, math.ceil(win.row_off + win.height - 1e-9) + margin)
    if c1 <= c0 or r1 <= r0:
        return None
    return Window(c0, r0, c1 - c0, r1 - r0)


def read_window_to(path: Path, href: str, bbox: BBox, policy: RetryPolicy,
                   band_index: int = 1) -> dict[str, Any] | None:
    """Read the AOI window of one remote (or local) raster and write it as a COG.

    Returns the window's metadata (``crs``, ``dtype``, ``nodata``, ``shape``,
    ``transform``, ``window``, ``source_shape``), or ``None`` when the raster does not
    overlap the AOI. Retryable failures are retried with backoff (:func:`with_retries`),
    each time on a fresh URL, since GDAL keeps per-URL state (sizes, failures).

    Raises
    ------
    NetworkError
        The raster cannot be read, after retries when the failure was retryable.
    """

    def attempt(n: int) -> dict[str, Any] | None:
        target = href
        if n > 0 and href.startswith("http"):
            target = f"{href}{'&' if '?' in href else '?'}mwtry={n}"
        with rasterio.Env(**gdal_env(policy)):
            with rasterio.open(gdal_path(target)) as src:
                win = aoi_window(src, bbox)
                if win is None:
                    return None
                data = src.read(band_index, window=win)
                transform = src.window_transform(win)
                meta = {"crs": src.crs.to_string(), "dtype": str(data.dtype),
                        "nodata": src.nodata, "shape": list(data.shape),
                        "transform": list(transform)[:6],
                        "window": [win.col_off, win.row_off, win.width, win.height],
                        "source_shape": [src.height, src.width]}
                crs = src.crs
        write_cog(path, data, crs=crs, transform=transform, nodata=meta["nodata"])
        return meta

    try:
        return with_retries(attempt, policy, f"reading {unsigned(href)}")
    except RasterioIOError as exc:
        raise NetworkError(f"cannot read {unsigned(href)}: {str(exc).splitlines()[0][:200]}") \
            from None


def cached_window(
    cache: Cache,
    *,
    collection: str,
    item_id: str,
    band: str,
    href: str,
    bbox: BBox,
    sign: Signer,
    policy: RetryPolicy,
    describe: dict[str, Any] | None = None,
) -> CachedWindow | None:
    """One band's AOI window, from the cache or else read (signed) and cached.

    The cache key is made of the collection, item, band, AOI and *unsigned* href, so
    tokens never enter it. ``describe`` adds fields to the recorded metadata.

    Returns
    -------
    CachedWindow or None
        ``None`` when the raster does not overlap the AOI (nothing is cached then).
    """
    key = cache.window_key(collection, item_id, band, bbox, unsigned(href))
    hit = cache.get_window(key)
    if hit is not None:
        return CachedWindow(hit, cache.get_meta(key) or {}, True)
    path = cache.window_path(key)
    meta = read_window_to(path, sign(href, collection), bbox, policy)
    if meta is None:
        return None
    meta.update({"collection": collection, "item": item_id, "band": band, **(describe or {}),
                 "href": unsigned(href), "aoi": list(bbox)})
    cache.put_meta(key, meta)
    return CachedWindow(path, meta, False)
