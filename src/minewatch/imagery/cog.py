"""Writing single-band Cloud-Optimised GeoTIFFs and STAC asset metadata for them."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from rasterio.crs import CRS
from affine import Affine

from minewatch.geotiff import write_geotiff


def write_cog(path: Path, array: np.ndarray, *, crs: CRS | str, transform: Affine,
              nodata: float | int | None = None, blocksize: int = 256) -> None:
    """Write one 2-D array as a single-band COG (DEFLATE), atomically, creating parent folders."""
    if array.ndim != 2:
        raise ValueError(f"write_cog needs a 2-D array, got shape {array.shape}")
    write_geotiff(path, array, crs=crs, transform=transform, nodata=nodata, driver="COG", blocksize=blocksize)


def crs_code(crs: CRS | None) -> tuple[str | None, int | None]:
    """``("EPSG:32644", 32644)`` for a CRS with an EPSG code, else ``(None, None)``."""
    if crs is None:
        return None, None
    epsg = crs.to_epsg()
    if epsg is None:
        return None, None
    return f"EPSG:{epsg}", int(epsg)


def raster_band(
    data_type: str, *, nodata: float | int | None, scale: float = 1.0, offset: float = 0.0
) -> dict[str, Any]:
    """One ``raster:bands`` entry: reflectance = DN * scale + offset."""
    band: dict[str, Any] = {"data_type": data_type, "scale": scale, "offset": offset}
    if nodata is not None:
        band["nodata"] = nodata
    return band


def proj_fields(crs: CRS | None, transform: Affine, shape: tuple[int, int]) -> dict[str, Any]:
    """Projection-extension fields of one asset (``proj:code``, ``proj:epsg``, shape, transform)."""
    code, epsg = crs_code(crs)
    out: dict[str, Any] = {
        "proj:shape": [int(shape[0]), int(shape[1])],
        "proj:transform": [float(v) for v in tuple(transform)[:6]],
    }
    if code is not None:
        out["proj:code"] = code
        out["proj:epsg"] = epsg
    elif crs is not None:
        out["proj:wkt2"] = crs.to_wkt()
    return out


STAC_EXTENSIONS: list[str] = [
    "https://stac-extensions.github.io/projection/v2.0.0/schema.json",
    "https://stac-extensions.github.io/raster/v1.1.0/schema.json",
    "https://stac-extensions.github.io/eo/v1.1.0/schema.json",
]
