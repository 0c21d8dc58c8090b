"""Build a small, real STAC archive (item JSON + COGs) for :class:`LocalStacServer`.

The items mimic what Earth Search v1 returns (asset keys ``blue``, ``red``, ``scl``,
``raster:bands`` scale/offset, ``s2:processing_baseline``, ``eo:cloud_cover``;
Landsat Collection 2 Level-2 with ``qa_pixel``; Copernicus DEM GLO-30 tiles), or
Planetary-Computer-like keys (``B02`` .. ``B12``, ``SCL``) with ``key_style="bnames"``.
The COGs are real tiled DEFLATE GeoTIFFs with internal overviews, so range
requests behave as on a real archive, only smaller.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import rasterio
from rasterio.transform import from_origin
from rasterio.warp import transform_bounds

S2_BANDS_10M = ("blue", "green", "red", "nir")
S2_BANDS_20M = ("nir08", "swir16", "swir22", "scl")
S2_BNAMES = {"coastal": "B01", "blue": "B02", "green": "B03", "red": "B04", "nir": "B08",
             "nir08": "B8A", "swir16": "B11", "swir22": "B12", "scl": "SCL"}
LANDSAT_BANDS = ("blue", "green", "red", "nir08", "swir16", "swir22", "qa_pixel")
# Typical reflectance of bare mine ground / vegetation per band (for plausible values).
_REFL = {"blue": (0.08, 0.04), "green": (0.11, 0.07), "red": (0.14, 0.05), "nir": (0.25, 0.35),
         "nir08": (0.26, 0.36), "swir16": (0.30, 0.20), "swir22": (0.25, 0.10)}

UTM_EPSG = 32644
ORIGIN = (600000.0, 2700000.0)  # upper-left corner of the S2 tile, EPSG:32644


@dataclass(frozen=True)
class ArchiveInfo:
    """What :func:`build_archive` made."""

    root: Path
    s2_ids: tuple[str, ...]
    landsat_ids: tuple[str, ...]
    dem_ids: tuple[str, ...]
    tile_bbox: tuple[float, float, float, float]  # WGS84 bounds of the S2 tile
    aoi: tuple[float, float, float, float]  # a small WGS84 AOI inside the tile


def _write_cog(path: Path, data: np.ndarray, *, crs: str, transform: Any, nodata: Any,
               blocksize: int = 256) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with rasterio.open(path, "w", driver="COG", width=data.shape[1], height=data.shape[0],
                       count=1, dtype=str(data.dtype), crs=crs, transform=transform,
                       nodata=nodata, compress="DEFLATE", blocksize=blocksize,
                       overview_resampling="nearest") as dst:
        dst.write(data, 1)


def _field(rng: np.random.Generator, shape: tuple[int, int]) -> np.ndarray:
    """A smooth-ish 0..1 land-cover field (vegetation fraction) with texture."""
    coarse = rng.random((shape[0] // 32 + 2, shape[1] // 32 + 2))
    yy = np.linspace(0, coarse.shape[0] - 1.001, shape[0])
    xx = np.linspace(0, coarse.shape[1] - 1.001, shape[1])
    y0, x0 = yy.astype(int), xx.astype(int)
    fy, fx = (yy - y0)[:, None], (xx - x0)[None, :]
    c = coarse
    f = (c[y0][:, x0] * (1 - fy) * (1 - fx) + c[y0 + 1][:, x0] * fy * (1 - fx)
         + c[y0][:, x0 + 1] * (1 - fy) * fx + c[y0 + 1][:, x0 + 1] * fy * fx)
    return np.clip(f + rng.normal(0, 0.05, shape), 0, 1)


def _feature(item_id: str, collection: str, when: dt.datetime, crs_epsg: int,
             bounds: tuple[float, float, float, float], props: dict[str, Any],
             assets: dict[str, Any]) -> dict[str, Any]:
    w, s, e, n = transform_bounds(f"EPSG:{crs_epsg}", "EPSG:4326", *bounds)
    return {
        "type": "Feature", "stac_version": "1.0.0",
        "stac_extensions": [
            "https://stac-extensions.github.io/projection/v1.1.0/schema.json",
            "https://stac-extensions.github.io/raster/v1.1.0/schema.json",
            "https://stac-extensions.github.io/eo/v1.1.0/schema.json",
        ],
        "id": item_id, "collection": collection,
        "geometry": {"type": "Polygon", "coordinates": [[[w, s], [e, s], [e, n], [w, n], [w, s]]]},
        "bbox": [w, s, e, n],
        "properties": {"datetime": when.isoformat().replace("+00:00", "Z"),
                       "proj:epsg": crs_epsg, **props},
        "assets": assets, "links": [],
    }


def _collection(cid: str, description: str) -> dict[str, Any]:
    return {"type": "Collection", "id": cid, "stac_version": "1.0.0",
            "description": description, "license": "proprietary",
            "extent": {"spatial": {"bbox": [[-180, -90, 180, 90]]},
                       "temporal": {"interval": [["2015-06-27T00:00:00Z", None]]}},
            "links": []}


def build_archive(
    root: str | Path,
    *,
    n_dates: int = 3,
    size: int = 1024,
    key_style: str = "earth-search",
    landsat: bool = True,
    dem: bool = True,
    seed: int = 7,
) -> ArchiveInfo:
    """Write an archive folder: ``collections/``, ``items/<collection>/``, ``files/``.

    Parameters
    ----------
    root
        Folder to create.
    n_dates
        Sentinel-2 L2A items, 10 days apart from 2021-12-05. Dates from 2022-01-25 on
        use processing baseline 04.00 (DN = 10000 * refl + 1000, ``raster:bands``
        offset -0.1); earlier ones baseline 03.01 (offset 0).
    size
        Edge of the 10 m bands in pixels (20 m bands are half).
    key_style
        ``"earth-search"`` (``blue``, ``scl``) or ``"bnames"`` (``B02``, ``SCL``).
    landsat, dem
        Also write one Landsat 8 C2 L2 item and two Copernicus DEM tiles.
    """
    root = Path(root)
    rng = np.random.default_rng(seed)
    x0, y0 = ORIGIN
    tile_bounds = (x0, y0 - size * 10, x0 + size * 10, y0)
    veg = _field(rng, (size, size))
    s2_ids: list[str] = []
    (root / "collections").mkdir(parents=True, exist_ok=True)
    (root / "collections" / "sentinel-2-l2a.json").write_text(json.dumps(
        _collection("sentinel-2-l2a", "Sentinel-2 L2A (local test copy)")))
    for k in range(n_dates):
        when = dt.datetime(2021, 12, 5, 5, 20, 31, tzinfo=dt.timezone.utc) + dt.timedelta(days=60 * k)
        pb04 = when >= dt.datetime(2022, 1, 25, tzinfo=dt.timezone.utc)
        item_id = f"S2A_44QPG_{when:%Y%m%d}_0_L2A"
        cloud = np.zeros((size // 2, size // 2), bool)
        if k == 1:  # one cloudy date: a cloud bank over the north-west quarter
            cloud[: size // 5, : size // 4] = True
        assets: dict[str, Any] = {}
        for band in S2_BANDS_10M + S2_BANDS_20M:
            res = 10 if band in S2_BANDS_10M else 20
            n = size if res == 10 else size // 2
            v = veg if res == 10 else veg[::2, ::2]
            if band == "scl":
                data = np.where(v > 0.5, 4, 5).astype("uint8")  # vegetation / bare soil
                data[cloud] = 9
                data[-8:, :] = 0  # a strip of no data at the swath edge
                nodata, rb = 0, {"data_type": "uint8", "nodata": 0, "spatial_resolution": res}
            else:
                bare, vg = _REFL[band]
                refl = bare * (1 - v) + vg * v + 0.01 * k
                big_cloud = np.kron(cloud, np.ones((2, 2), bool)) if res == 10 else cloud
                refl = np.where(big_cloud, 0.6, refl)
                dn = np.clip(refl * 10000 + (1000 if pb04 else 0), 1, 65535).astype("uint16")
                dn[-(16 if res == 10 else 8):, :] = 0
                data, nodata = dn, 0
                rb = {"data_type": "uint16", "nodata": 0, "spatial_resolution": res,
                      "scale": 0.0001, "offset": -0.1 if pb04 else 0.0}
            key = band if key_style == "earth-search" else S2_BNAMES[band]
            rel = f"files/sentinel-2-l2a/{item_id}/{S2_BNAMES[band]}.tif"
            _write_cog(root / rel, data, crs=f"EPSG:{UTM_EPSG}",
                       transform=from_origin(x0, y0, res, res), nodata=nodata)
            assets[key] = {
                "href": rel, "type": "image/tiff; application=geotiff; profile=cloud-optimized",
                "roles": ["data"], "proj:shape": [n, n],
                "proj:transform": [res, 0, x0, 0, -res, y0], "raster:bands": [rb],
            }
        props = {"platform": "sentinel-2a", "constellation": "sentinel-2",
                 "eo:cloud_cover": round(float(cloud.mean() * 100), 2),
                 "s2:processing_baseline": "04.00" if pb04 else "03.01",
                 "earthsearch:boa_offset_applied": pb04, "mgrs:utm_zone": 44}
        feat = _feature(item_id, "sentinel-2-l2a", when, UTM_EPSG, tile_bounds, props, assets)
        out = root / "items" / "sentinel-2-l2a" / f"{item_id}.json"
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(feat, indent=1))
        s2_ids.append(item_id)

    landsat_ids: list[str] = []
    if landsat:
        (root / "collections" / "landsat-c2-l2.json").write_text(json.dumps(
            _collection("landsat-c2-l2", "Landsat Collection 2 Level-2 (local test copy)")))
        when = dt.datetime(2022, 1, 9, 5, 1, 2, tzinfo=dt.timezone.utc)
        item_id = f"LC08_L2SP_143043_{when:%Y%m%d}_02_T1"
        n = size // 3
        v = veg[::3, ::3][:n, :n]
        assets = {}
        for band in LANDSAT_BANDS:
            if band == "qa_pixel":
                data = np.full((n, n), 21824, "uint16")  # clear, low confidence cloud
                data[: n // 6, : n // 6] = 22280  # cloud (bit 3) with high confidence
                data[-4:, :] = 1  # fill
                rb = {"data_type": "uint16", "nodata": 1, "spatial_resolution": 30}
                nodata = 1
            else:
                bare, vg = _REFL[band]
                refl = bare * (1 - v) + vg * v
                data = np.clip((refl + 0.2) / 2.75e-5, 1, 65535).astype("uint16")
                data[-4:, :] = 0
                nodata = 0
                rb = {"data_type": "uint16", "nodata": 0, "spatial_resolution": 30,
                      "scale": 2.75e-5, "offset": -0.2}
            rel = f"files/landsat-c2-l2/{item_id}/{band}.tif"
            _write_cog(root / rel, data, crs=f"EPSG:{UTM_EPSG}",
                       transform=from_origin(x0, y0, 30, 30), nodata=nodata)
            assets[band] = {"href": rel, "type": "image/tiff; application=geotiff",
                            "roles": ["data"], "proj:shape": [n, n],
                            "proj:transform": [30, 0, x0, 0, -30, y0], "raster:bands": [rb]}
        props = {"platform": "landsat-8", "eo:cloud_cover": 2.8,
                 "landsat:collection_number": "02"}
        feat = _feature(item_id, "landsat-c2-l2", when, UTM_EPSG,
                        (x0, y0 - n * 30, x0 + n * 30, y0), props, assets)
        out = root / "items" / "landsat-c2-l2" / f"{item_id}.json"
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(feat, indent=1))
        landsat_ids.append(item_id)

    w, s, e, n_ = transform_bounds(f"EPSG:{UTM_EPSG}", "EPSG:4326", *tile_bounds)
    dem_ids: list[str] = []
    if dem:
        (root / "collections" / "cop-dem-glo-30.json").write_text(json.dumps(
            _collection("cop-dem-glo-30", "Copernicus DEM GLO-30 (local test copy)")))
        # Two 0.05 deg x 0.1 deg tiles side by side, split in the middle of the S2 tile.
        mid_lon = round((w + e) / 2, 2)
        step = 1 / 3600
        for j, left in enumerate((mid_lon - 0.05, mid_lon)):
            top = round(n_ + 0.01, 2)
            rows, cols = int(round(0.12 / step)), int(round(0.05 / step))
            yy, xx = np.mgrid[0:rows, 0:cols]
            elev = (300 + 0.5 * (xx + j * cols) - 0.2 * yy).astype("float32")
            item_id = f"Copernicus_DSM_COG_10_N{top:.2f}_E{left:.2f}_DEM"
            rel = f"files/cop-dem-glo-30/{item_id}.tif"
            _write_cog(root / rel, elev, crs="EPSG:4326",
                       transform=from_origin(left, top, step, step), nodata=-32767.0)
            when = dt.datetime(2021, 4, 22, tzinfo=dt.timezone.utc)
            bounds = (left, top - rows * step, left + cols * step, top)
            feat = _feature(item_id, "cop-dem-glo-30", when, 4326, bounds, {"gsd": 30},
                            {"data": {"href": rel, "type": "image/tiff; application=geotiff",
                                      "roles": ["data"], "proj:shape": [rows, cols],
                                      "raster:bands": [{"data_type": "float32",
                                                        "nodata": -32767, "unit": "metre"}]}})
            out = root / "items" / "cop-dem-glo-30" / f"{item_id}.json"
            out.parent.mkdir(parents=True, exist_ok=True)
            out.write_text(json.dumps(feat, indent=1))
            dem_ids.append(item_id)

    # A ~1.5 km AOI a little off the tile centre (spans several 256 px COG tiles).
    cx, cy = x0 + size * 10 * 0.45, y0 - size * 10 * 0.45
    aoi = transform_bounds(f"EPSG:{UTM_EPSG}", "EPSG:4326", cx - 750, cy - 750, cx + 750, cy + 750)
    return ArchiveInfo(root, tuple(s2_ids), tuple(landsat_ids), tuple(dem_ids),
                       (w, s, e, n_), tuple(round(v, 6) for v in aoi))  # type: ignore[arg-type]


def archive_from_catalog(catalog: str | Path, root: str | Path,
                         collection: str = "sentinel-2-l2a") -> list[str]:
    """Turn a local static STAC catalog into a server archive (copies its files).

    Every item becomes a recorded item of ``collection`` whose asset hrefs point to
    copies under ``root/files/``; returns the item ids. Used to serve a catalog
    (the demo scene, an ingested folder) over the local STAC API, so that
    ``fetch`` + ``analyze`` can be compared with ``analyze`` on the static catalog.
    """
    import shutil

    import pystac

    root = Path(root)
    cat = pystac.Catalog.from_file(str(catalog))
    (root / "collections").mkdir(parents=True, exist_ok=True)
    (root / "collections" / f"{collection}.json").write_text(json.dumps(
        _collection(collection, f"served copy of {Path(catalog).name}")))
    ids = []
    for item in cat.get_items(recursive=True):
        doc = item.to_dict(include_self_link=False, transform_hrefs=False)
        for key, asset in item.assets.items():
            src = Path(asset.get_absolute_href())
            rel = f"files/{collection}/{item.id}/{src.name}"
            (root / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(src, root / rel)
            doc["assets"][key]["href"] = rel
        doc["collection"] = collection
        doc["links"] = []
        out = root / "items" / collection / f"{item.id}.json"
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(doc))
        ids.append(item.id)
    return ids
