"""A tiny synthetic scene for the evidence and report tests, written with rasterio + JSON.

32 x 32 pixels of 10 m (EPSG:32644), one 6-band GeoTIFF per date every 12 days
2019-01-01 .. 2021-12-31, a local STAC catalog (catalog -> collection -> items),
licences, receptors and a DEM sloping east. Two pits open on vegetated land:

* pit A (rows 4-13, cols 4-13) on 2020-06-15, inside licence L-1 (active);
* pit B (rows 19-27, cols 20-29) on 2021-02-01, outside every licence.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import rasterio
from affine import Affine
from pyproj import Transformer

CRS = "EPSG:32644"
SIZE = 32
RES = 10.0
ORIGIN = (500_000.0, 2_700_000.0)  # upper-left x, y
BANDS = ("blue", "green", "red", "nir", "swir16", "swir22")
VEG = np.array([0.035, 0.07, 0.045, 0.36, 0.20, 0.10])
BARE = np.array([0.16, 0.19, 0.23, 0.27, 0.36, 0.31])
PIT_A = (slice(4, 14), slice(4, 14), dt.date(2020, 6, 15))
PIT_B = (slice(19, 28), slice(20, 30), dt.date(2021, 2, 1))
START, END = "2020-01-01", "2021-12-31"


@dataclass
class Scene:
    root: Path
    catalog: Path
    licences: Path
    receptors: Path
    dem: Path
    n_items: int


def _to_lonlat(xs, ys):
    tr = Transformer.from_crs(CRS, "EPSG:4326", always_xy=True)
    return tr.transform(xs, ys)


def _polygon(r0, r1, c0, c1) -> dict:
    x0, y0 = ORIGIN
    xs = [x0 + c0 * RES, x0 + c1 * RES, x0 + c1 * RES, x0 + c0 * RES, x0 + c0 * RES]
    ys = [y0 - r0 * RES, y0 - r0 * RES, y0 - r1 * RES, y0 - r1 * RES, y0 - r0 * RES]
    lon, lat = _to_lonlat(xs, ys)
    return {"type": "Polygon", "coordinates": [[[float(a), float(b)] for a, b in zip(lon, lat, strict=True)]]}


def _point(r, c) -> dict:
    lon, lat = _to_lonlat([ORIGIN[0] + (c + 0.5) * RES], [ORIGIN[1] - (r + 0.5) * RES])
    return {"type": "Point", "coordinates": [float(lon[0]), float(lat[0])]}


def build_scene(root: Path, seed: int = 11) -> Scene:
    """Write the scene under ``root`` and return its paths."""
    root = Path(root)
    rng = np.random.default_rng(seed)
    cat_dir = root / "catalog"
    items_dir = cat_dir / "items"
    items_dir.mkdir(parents=True)
    transform = Affine(RES, 0, ORIGIN[0], 0, -RES, ORIGIN[1])
    dates = []
    d = dt.date(2019, 1, 1)
    while d <= dt.date(2021, 12, 31):
        dates.append(d)
        d += dt.timedelta(days=12)
    links = []
    for day in dates:
        season = 0.04 * np.sin(2 * np.pi * (day.timetuple().tm_yday / 365.25))
        refl = np.empty((len(BANDS), SIZE, SIZE), np.float64)
        veg = VEG.copy()
        veg[3] += season
        veg[2] -= season / 4
        refl[:] = veg[:, None, None]
        for rows, cols, opened in (PIT_A, PIT_B):
            if day >= opened:
                refl[:, rows, cols] = BARE[:, None, None]
        refl += rng.normal(0, 0.006, refl.shape)
        dn = np.clip(np.round(refl / 1e-4), 1, 65535).astype(np.uint16)
        name = day.isoformat()
        tif = items_dir / f"{name}.tif"
        with rasterio.open(tif, "w", driver="GTiff", width=SIZE, height=SIZE, count=len(BANDS), dtype="uint16",
                           crs=CRS, transform=transform, nodata=0) as dst:
            dst.write(dn)
        item = {
            "type": "Feature", "stac_version": "1.0.0", "id": f"S2_{name}",
            "geometry": _polygon(0, SIZE, 0, SIZE), "bbox": None,
            "properties": {"datetime": f"{name}T05:00:00Z", "platform": "sentinel-2a", "proj:epsg": 32644},
            "links": [],
            "assets": {b: {"href": f"{name}.tif", "type": "image/tiff; application=geotiff",
                           "minewatch:band_index": i + 1,
                           "raster:bands": [{"scale": 1e-4, "offset": 0.0, "nodata": 0,
                                             "spatial_resolution": RES}]}
                       for i, b in enumerate(BANDS)},
        }
        (items_dir / f"{name}.json").write_text(json.dumps(item), encoding="utf-8")
        links.append({"rel": "item", "href": f"./{name}.json", "type": "application/json"})
    collection = {"type": "Collection", "stac_version": "1.0.0", "id": "tiny", "description": "test scene",
                  "license": "CC0-1.0", "extent": {}, "links": links}
    (items_dir / "collection.json").write_text(json.dumps(collection), encoding="utf-8")
    catalog = {"type": "Catalog", "stac_version": "1.0.0", "id": "tiny-root", "description": "test",
               "links": [{"rel": "child", "href": "./items/collection.json"}]}
    (cat_dir / "catalog.json").write_text(json.dumps(catalog), encoding="utf-8")

    licences = {"type": "FeatureCollection", "features": [{
        "type": "Feature",
        "properties": {"licence_id": "L-1", "holder": "Example Mining Ltd", "commodity": "coal",
                       "status": "active", "valid_from": "2015-01-01", "valid_to": None},
        "geometry": _polygon(0, 16, 0, 17)}]}
    (root / "licences.geojson").write_text(json.dumps(licences), encoding="utf-8")
    receptors = {"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": {"receptor_id": "R-1", "kind": "village", "name": "Eastville"},
         "geometry": _point(23, 31)},
        {"type": "Feature", "properties": {"receptor_id": "R-2", "kind": "well", "name": "West well"},
         "geometry": _point(2, 0)},
    ]}
    (root / "receptors.geojson").write_text(json.dumps(receptors), encoding="utf-8")
    cols = np.arange(SIZE, dtype=np.float32)
    rows = np.arange(SIZE, dtype=np.float32)[:, None]
    dem = 300.0 - 2.0 * cols[None, :] - 0.3 * np.abs(rows - 23)
    with rasterio.open(root / "dem.tif", "w", driver="GTiff", width=SIZE, height=SIZE, count=1, dtype="float32",
                       crs=CRS, transform=transform) as dst:
        dst.write(dem.astype(np.float32), 1)
    return Scene(root, cat_dir / "catalog.json", root / "licences.geojson", root / "receptors.geojson",
                 root / "dem.tif", len(dates))


def analyze_args(scene, out: Path, *extra: str, dem: bool = False) -> list[str]:
    """``minewatch analyze`` arguments for the tiny scene (with the DEM: downstream tracing too)."""
    args = ["analyze", str(scene.catalog), "--licences", str(scene.licences), "--receptors", str(scene.receptors),
            "--start", START, "--end", END, "--out", str(out), *extra]
    return args + ["--dem", str(scene.dem)] if dem else args
