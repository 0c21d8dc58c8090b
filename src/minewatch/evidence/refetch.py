"""Re-fetch a missing band file of a fetched catalog from the provider, for ``verify``.

``minewatch fetch`` (and ``analyze --bbox``) store each band as the AOI window of the
provider's COG, recording the source in the asset (``minewatch:source_href``) and the
window's grid (``proj:transform``, ``proj:shape``). When such a file is missing on the
verifying machine (no copy, no cache), the same window is read again from the source and
written the same way (:func:`minewatch.imagery.cog.write_cog`); its SHA-256 must then
equal the one recorded at run time, so the re-fetched bytes are the bytes the run read.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import rasterio
from affine import Affine
from rasterio.windows import Window

from minewatch.errors import MinewatchError, NetworkError

SOURCE_KEY = "minewatch:source_href"


def asset_index(manifest: dict, located: dict[int, Path]) -> dict[str, dict]:
    """``{original absolute path of an asset file: its STAC asset}`` from the located item documents."""
    index: dict[str, dict] = {}
    for i, e in enumerate(manifest["inputs"]):
        if e["role"] not in ("catalog", "stac") or i not in located:
            continue
        try:
            doc = json.loads(located[i].read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        items = [doc] if doc.get("type") == "Feature" else (
            doc.get("features", []) if doc.get("type") == "FeatureCollection" else [])
        orig_dir = Path(e["abs_path"]).parent
        for item in items:
            for asset in (item.get("assets") or {}).values():
                href = asset.get("href")
                if not href or "://" in href:
                    continue
                path = Path(href) if Path(href).is_absolute() else orig_dir / href
                index[os.path.normpath(str(path))] = asset
    return index


def _gdal_path(href: str) -> str:
    if href.startswith(("http://", "https://")):
        return "/vsicurl/" + href
    if href.startswith("file://"):
        return href[7:]
    return href


def refetch_asset(asset: dict, target: Path) -> Path:
    """Read the asset's window again from ``minewatch:source_href`` and write it to ``target``.

    Raises
    ------
    NetworkError
        The source cannot be read.
    MinewatchError
        The asset does not say where it came from.
    """
    from minewatch.imagery.cog import write_cog
    from minewatch.imagery.http import RetryPolicy, gdal_env

    href = asset.get(SOURCE_KEY)
    if not href or "proj:transform" not in asset or "proj:shape" not in asset:
        raise MinewatchError("the asset records no source to re-fetch from")
    tr = Affine(*asset["proj:transform"][:6])
    rows, cols = (int(v) for v in asset["proj:shape"])
    try:
        with rasterio.Env(**gdal_env(RetryPolicy(attempts=3, backoff=0.2, timeout=30))):
            with rasterio.open(_gdal_path(href)) as src:
                col_off = round((tr.c - src.transform.c) / src.transform.a)
                row_off = round((tr.f - src.transform.f) / src.transform.e)
                window = Window(col_off, row_off, cols, rows)
                data = src.read(1, window=window)
                transform = src.window_transform(window)
                crs, nodata = src.crs, src.nodata
    except (rasterio.errors.RasterioIOError, OSError) as exc:
        raise NetworkError(f"cannot re-fetch {href}: {str(exc).splitlines()[0][:200]}") from None
    target.parent.mkdir(parents=True, exist_ok=True)
    write_cog(target, data, crs=crs, transform=transform, nodata=nodata)
    return target
