"""Copernicus DEM GLO-30 over an AOI: tiles found by STAC search, windows read through
the cache, mosaicked and clipped to the AOI (``minewatch fetch --dem``)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import rasterio
from rasterio.merge import merge
from rasterio.warp import transform_bounds

from minewatch.errors import DataError
from minewatch.imagery.aoi import BBox
from minewatch.imagery.cache import Cache
from minewatch.imagery.cog import write_cog
from minewatch.imagery.http import RetryPolicy, Signer
from minewatch.imagery.search import DEM_COLLECTION, resolve_source, search_items
from minewatch.imagery.windows import cached_window

#: No-data of the written DEM when the tiles declare none.
DEM_NODATA = -32767.0


def fetch_dem(
    bbox: BBox,
    out_path: str | Path,
    *,
    stac_url: str | None = None,
    collection: str = DEM_COLLECTION,
    cache: Cache | None = None,
    signer: Signer | None = None,
    policy: RetryPolicy | None = None,
) -> Path:
    """Fetch the DEM tiles over ``bbox``, mosaic them and clip the mosaic to the AOI.

    Parameters
    ----------
    bbox
        ``(W, S, E, N)`` in degrees (see :func:`~minewatch.imagery.aoi.parse_bbox`).
    out_path
        The COG to write.
    stac_url
        ``earth-search`` (default), ``planetary-computer`` or any STAC API URL.
    collection
        The DEM collection id.
    cache
        Download cache (default :meth:`Cache.default`).
    signer
        Href signer; default from the source.
    policy
        Retry policy.

    Returns
    -------
    Path
        The written COG (float32 metres, nodata -32767, in the tiles' CRS: EPSG:4326).

    Raises
    ------
    DataError
        No tile of the collection covers the AOI.
    """
    url, default_signer = resolve_source(stac_url)
    sign = signer or default_signer
    policy = policy or RetryPolicy()
    cache = cache or Cache.default()
    items, _ = search_items(url, [collection], bbox, dt.date(2000, 1, 1), dt.date(2030, 12, 31),
                            cache=cache, policy=policy, static=True)
    paths: list[Path] = []
    for item in items:
        assets = item.get("assets") or {}
        asset = assets.get("data") or next(
            (a for a in assets.values() if "tiff" in str(a.get("type", "")).lower()), None)
        if asset is None:
            continue
        window = cached_window(cache, collection=collection, item_id=item["id"], band="dem",
                               href=asset["href"], bbox=bbox, sign=sign, policy=policy)
        if window is not None:
            paths.append(window.path)
    if not paths:
        raise DataError(f"no {collection} tile covers {bbox}")
    datasets = [rasterio.open(p) for p in paths]
    try:
        nodata = datasets[0].nodata if datasets[0].nodata is not None else DEM_NODATA
        crs = datasets[0].crs
        bounds = transform_bounds("EPSG:4326", crs, *bbox)
        mosaic, transform = merge(datasets, bounds=bounds, nodata=nodata)
    finally:
        for ds in datasets:
            ds.close()
    out_path = Path(out_path)
    write_cog(out_path, mosaic[0].astype(np.float32), crs=crs, transform=transform,
              nodata=nodata)
    return out_path
