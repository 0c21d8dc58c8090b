"""A cheap synthetic AOI for bench/scale.py: a STAC item collection of tiled GeoTIFFs.

Not the demo's physics: every pixel mixes a vegetation and a bare-soil spectrum with a
vegetation fraction that is a smooth random field times a seasonal cycle, plus noise; square
pits (bare soil) open at random monitored dates; about a fifth of the dates carry a cloud
(no-data) disc. Six reflectance bands (blue, green, red, nir, swir16, swir22) as uint16 with
``scale 1e-4``, nodata 0, tiled 512 px, uncompressed (cheap to write; reading them is the part of
``analyze`` being measured, not the compression). One licence covers the AOI's western half.

The AOI is written once per (size, dates, seed) into ``/tmp/scale-aoi-<size>-<dates>-<seed>/``
and reused; ``items.json`` is written last, so a folder holding it is complete.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import numpy as np

BANDS = ("blue", "green", "red", "nir", "swir16", "swir22")
VEG = np.array([0.03, 0.06, 0.04, 0.40, 0.20, 0.10], np.float32)
SOIL = np.array([0.10, 0.14, 0.18, 0.25, 0.32, 0.28], np.float32)
EPSG = 32644
X0, Y0, RES = 600_000.0, 5_540_000.0, 10.0
FIRST = dt.date(2019, 1, 1)
STEP_DAYS = 12
HISTORY_SHARE = 0.4  # the share of the dates before the period's start


def aoi_dates(n_dates: int) -> list[dt.date]:
    return [FIRST + dt.timedelta(days=STEP_DAYS * i) for i in range(n_dates)]


def aoi_period(n_dates: int) -> tuple[dt.date, dt.date]:
    """(start, end) of the monitored period of an AOI of ``n_dates`` dates."""
    dates = aoi_dates(n_dates)
    return dates[int(n_dates * HISTORY_SHARE)], dates[-1]


def _smooth_field(rng: np.random.Generator, size: int) -> np.ndarray:
    """A smooth field in 0.35..0.9 (bilinear upsampling of a coarse random grid)."""
    coarse = rng.uniform(0.35, 0.9, (size // 64 + 2, size // 64 + 2)).astype(np.float32)
    idx = np.arange(size, dtype=np.float32) / 64.0
    i0 = idx.astype(int)
    f = idx - i0
    rows = coarse[i0] * (1 - f)[:, None] + coarse[i0 + 1] * f[:, None]
    return (rows[:, i0] * (1 - f)[None, :] + rows[:, i0 + 1] * f[None, :]).astype(np.float32)


def make_aoi(size: int, n_dates: int, seed: int = 1, root: Path = Path("/tmp")) -> Path:
    """Write (or reuse) the AOI; return its folder (``items.json``, ``licences.geojson``)."""
    import rasterio
    from rasterio.transform import from_origin

    folder = root / f"scale-aoi-{size}-{n_dates}-{seed}"
    if (folder / "items.json").exists():
        return folder
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    veg = _smooth_field(rng, size)
    dates = aoi_dates(n_dates)
    start, end = aoi_period(n_dates)
    n_pits = max(1, size * size // 40_000)  # about one pit per 4 km²
    pit_onset = np.zeros((size, size), np.int32)  # ordinal day the pit opens, 0 = never
    for _ in range(n_pits):
        s = int(rng.integers(8, 30))
        r, c = (int(v) for v in rng.integers(0, size - s, 2))
        pit_onset[r:r + s, c:c + s] = (start + dt.timedelta(days=int(rng.integers(0, (end - start).days)))).toordinal()
    transform = from_origin(X0, Y0, RES, RES)
    profile = dict(driver="GTiff", width=size, height=size, count=1, dtype="uint16", crs=f"EPSG:{EPSG}",
                   transform=transform, nodata=0, tiled=True, blockxsize=512 if size >= 512 else 256,
                   blockysize=512 if size >= 512 else 256)
    yy, xx = np.mgrid[0:size, 0:size]
    items = []
    for t, day in enumerate(dates):
        season = 0.75 + 0.25 * np.sin(2 * np.pi * (day.timetuple().tm_yday / 365.25 - 0.3))
        frac = veg * np.float32(season)
        pit = (pit_onset > 0) & (pit_onset <= day.toordinal())
        frac[pit] = 0.02
        cloud = None
        if rng.random() < 0.2:
            cr, cc, rad = rng.integers(0, size, 2).tolist() + [int(rng.integers(size // 10, size // 3 + 1))]
            cloud = (yy - cr) ** 2 + (xx - cc) ** 2 < rad * rad
        item_dir = folder / day.isoformat()
        item_dir.mkdir(exist_ok=True)
        assets = {}
        for b, name in enumerate(BANDS):
            refl = frac * VEG[b] + (1 - frac) * SOIL[b] + rng.normal(0, 0.006, (size, size)).astype(np.float32)
            dn = np.clip(refl * 10_000, 1, 65_535).astype(np.uint16)
            if cloud is not None:
                dn[cloud] = 0
            path = item_dir / f"{name}.tif"
            with rasterio.open(path, "w", **profile) as dst:
                dst.write(dn, 1)
            assets[name] = {"href": str(path), "type": "image/tiff; application=geotiff", "roles": ["data"],
                            "raster:bands": [{"nodata": 0, "data_type": "uint16", "scale": 0.0001, "offset": 0}],
                            "proj:shape": [size, size], "proj:transform": list(transform)[:6]}
        items.append({"type": "Feature", "stac_version": "1.0.0", "id": f"aoi-{day.isoformat()}",
                      "geometry": None, "properties": {"datetime": f"{day.isoformat()}T10:00:00Z",
                                                       "platform": "sentinel-2a", "proj:code": f"EPSG:{EPSG}"},
                      "assets": assets, "links": []})
    _write_licences(folder, size)
    (folder / "items.json").write_text(json.dumps({"type": "FeatureCollection", "features": items}))
    return folder


def _write_licences(folder: Path, size: int) -> None:
    from pyproj import Transformer

    to_ll = Transformer.from_crs(EPSG, 4326, always_xy=True).transform
    x1, y1 = X0 + size * RES / 2, Y0 - size * RES
    ring = [to_ll(x, y) for x, y in ((X0, Y0), (x1, Y0), (x1, y1), (X0, y1), (X0, Y0))]
    doc = {"type": "FeatureCollection", "features": [{
        "type": "Feature", "geometry": {"type": "Polygon", "coordinates": [ring]},
        "properties": {"licence_id": "L-1", "holder": "bench", "commodity": "gold", "status": "active",
                       "valid_from": "2010-01-01", "valid_to": "2040-01-01"}}]}
    (folder / "licences.geojson").write_text(json.dumps(doc))
