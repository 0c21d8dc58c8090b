"""Writing GeoTIFFs whole (DEFLATE, tiled by default): the one raster writer of minewatch."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import rasterio
from affine import Affine

from minewatch.atomic import atomic_path


def write_geotiff(path: str | Path, data: np.ndarray, *, crs, transform: Affine, nodata: float | int | None = None,
                  driver: str = "GTiff", tiled: bool = True, blocksize: int = 256,
                  descriptions: Sequence[str] = (), tags: dict[str, str] | None = None) -> None:
    """Write a 2-D array (one band) or a ``(bands, h, w)`` array atomically.

    Parameters
    ----------
    path
        Output file; written beside and renamed, so a reader never sees half a file.
    data
        The values; their dtype is kept (bool is written as uint8).
    crs, transform
        Georeference.
    nodata
        The GeoTIFF nodata value, or ``None``.
    driver
        ``"GTiff"`` or ``"COG"`` (cloud-optimised, with overviews).
    tiled, blocksize
        Internal tiling (``tiled=False``: strips).
    descriptions
        One description per band (for example the year a band holds).
    tags
        Dataset metadata (``DESCRIPTION``, ``UNITS``...).
    """
    arr = data if data.ndim == 3 else data[None]
    if arr.dtype == bool:
        arr = arr.astype(np.uint8)
    profile = dict(driver=driver, width=int(arr.shape[2]), height=int(arr.shape[1]), count=int(arr.shape[0]),
                   dtype=arr.dtype.name, crs=crs, transform=transform)
    if driver == "COG":
        profile.update(compress="DEFLATE", blocksize=blocksize)
    else:
        profile.update(compress="deflate")
        if tiled:
            profile.update(tiled=True, blockxsize=blocksize, blockysize=blocksize)
    if nodata is not None:
        profile["nodata"] = nodata
    with atomic_path(path) as tmp:
        with rasterio.open(tmp, "w", **profile) as dst:
            dst.write(arr)
            for i, text in enumerate(descriptions, start=1):
                dst.set_band_description(i, text)
            if tags:
                dst.update_tags(**tags)
