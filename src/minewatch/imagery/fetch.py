"""Fetch the imagery of an area into a local STAC catalog: ``minewatch fetch``.

:func:`fetch` searches a STAC API (:mod:`~minewatch.imagery.search`), maps each
item's assets onto the common band vocabulary (:mod:`~minewatch.imagery.harmonise`),
reads only the AOI window of every band's COG through the download cache
(:mod:`~minewatch.imagery.windows`), optionally adds the Copernicus DEM
(:mod:`~minewatch.imagery.dem`), and writes a static STAC catalog following the
convention of ``minewatch ingest`` (asset keys in the Earth Search vocabulary,
``raster:bands`` scale/offset so that reflectance = DN * scale + offset, ``proj:*`` of
the clipped window), which ``minewatch analyze`` reads like any other catalog. What it
did is returned and written as a :class:`FetchReport`.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

import pystac
from affine import Affine
from rasterio.crs import CRS
from rasterio.errors import RasterioIOError

from minewatch.dates import parse_date
from minewatch.errors import CatalogError, DataError, InputError, MinewatchError, NetworkError
from minewatch.imagery.aoi import BBox, parse_bbox
from minewatch.imagery.cache import Cache
from minewatch.imagery.cog import STAC_EXTENSIONS, proj_fields, raster_band
from minewatch.imagery.dem import fetch_dem
from minewatch.imagery.harmonise import band_aliases, band_assets, band_nodata, value_scale
from minewatch.imagery.http import RetryPolicy, Signer
from minewatch.imagery.search import DEM_COLLECTION, item_datetime, resolve_source, search_items
from minewatch.imagery.sources import COMMON_BANDS, MASK_BANDS
from minewatch.imagery.windows import CachedWindow, cached_window

DEFAULT_BANDS: tuple[str, ...] = (
    "blue", "green", "red", "nir", "nir08", "swir16", "swir22", "scl", "qa_pixel",
)
#: Where the DEM goes inside the output folder.
DEM_PATH = "dem/cop-dem-glo-30.tif"
#: Item properties copied from the source item.
KEPT_PROPERTIES = ("platform", "eo:cloud_cover", "s2:processing_baseline", "constellation",
                   "instruments")

ProgressFn = Callable[[str, int, int], None]


@dataclass
class FetchReport:
    """What :func:`fetch` did (written as ``fetch_report.json``)."""

    catalog: Path
    stac_url: str
    collections: list[str]
    bbox: BBox
    period: tuple[str, str]
    items: list[dict[str, Any]] = field(default_factory=list)
    failed: list[dict[str, Any]] = field(default_factory=list)
    skipped: list[dict[str, Any]] = field(default_factory=list)
    search_from_cache: bool = False
    windows_read: int = 0
    windows_cached: int = 0
    bytes_written: int = 0
    dem: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """The report as JSON-ready values."""
        return {
            "catalog": str(self.catalog), "stac_url": self.stac_url,
            "collections": self.collections, "bbox": list(self.bbox),
            "period": list(self.period), "n_items": len(self.items), "items": self.items,
            "failed": self.failed, "skipped": self.skipped,
            "search_from_cache": self.search_from_cache, "windows_read": self.windows_read,
            "windows_from_cache": self.windows_cached, "bytes_written": self.bytes_written,
            "dem": self.dem,
        }


def fetch(
    bbox: BBox | str,
    start: str | dt.date,
    end: str | dt.date,
    out: str | Path,
    *,
    collections: Sequence[str] = ("sentinel-2-l2a",),
    max_cloud: float | None = None,
    stac_url: str | None = None,
    bands: Sequence[str] | None = None,
    cache: Cache | None = None,
    refresh: bool = False,
    signer: Signer | None = None,
    policy: RetryPolicy | None = None,
    dem: bool = False,
    workers: int = 4,
    progress: ProgressFn | None = None,
) -> FetchReport:
    """Fetch the AOI windows of every item of a period into a local STAC catalog.

    Parameters
    ----------
    bbox
        ``(W, S, E, N)`` in degrees (or ``"W,S,E,N"``).
    start, end
        Period (inclusive dates).
    out
        Catalog folder (``out/catalog.json``); replaced if it holds an earlier fetch.
    collections
        ``sentinel-2-l2a`` and/or ``landsat-c2-l2`` (any collection id of the API).
    max_cloud
        Keep items with ``eo:cloud_cover`` below this percentage.
    stac_url
        ``earth-search`` (default), ``planetary-computer`` or any STAC API URL.
    bands
        Common band names to fetch (default :data:`DEFAULT_BANDS`, those present).
    cache
        Download cache (default :meth:`Cache.default`).
    refresh
        Search again even if the same search is cached.
    signer
        Href signer; default from the source (Planetary Computer SAS tokens).
    policy
        Retry policy (attempts, backoff, timeout).
    dem
        Also fetch Copernicus DEM GLO-30, mosaicked and clipped to the AOI.
    workers
        Parallel window reads.
    progress
        ``progress(label, done, total)`` after each item.

    Returns
    -------
    FetchReport
        Also written to ``out/fetch_report.json``. Items that fail are listed in
        ``failed`` and left out of the catalog, never silently.

    Raises
    ------
    InputError
        A bad bbox, date, band name, source or output folder (before any request).
    NetworkError
        The API cannot be reached (offline) or keeps failing, or every item failed.
    DataError
        The search found nothing.
    """
    bbox = parse_bbox(bbox)
    d0, d1 = parse_date(start, "--start"), parse_date(end, "--end")
    if d1 < d0:
        raise InputError(f"--end {d1} is before --start {d0}")
    url, default_signer = resolve_source(stac_url)
    sign = signer or default_signer
    policy = policy or RetryPolicy()
    cache = cache or Cache.default()
    wanted = tuple(bands) if bands else DEFAULT_BANDS
    for b in wanted:
        if b not in COMMON_BANDS + MASK_BANDS:
            raise InputError(f"--bands: {b!r} is not a band name",
                             hint="use " + ",".join(DEFAULT_BANDS))
    out = Path(out)
    if out.exists() and any(out.iterdir()) and not (out / "fetch_report.json").exists():
        raise InputError(f"output {out} exists and does not hold an earlier fetch",
                         hint="choose an empty or new --out folder")

    items, from_cache = search_items(url, list(collections), bbox, d0, d1, max_cloud=max_cloud,
                                     cache=cache, refresh=refresh, policy=policy)
    report = FetchReport(catalog=out.resolve() / "catalog.json", stac_url=url,
                         collections=list(collections), bbox=bbox,
                         period=(d0.isoformat(), d1.isoformat()),
                         search_from_cache=from_cache)
    if not items:
        raise DataError(
            f"no {'/'.join(collections)} item over {bbox} between {d0} and {d1}"
            f"{f' with cloud cover < {max_cloud}%' if max_cloud is not None else ''}",
            hint="widen the period or --max-cloud, or check the bbox order W,S,E,N")

    final = out.resolve()
    tmp = final.parent / f".mwfetch-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    tmp.mkdir(parents=True)
    try:
        stac_items: dict[str, list[pystac.Item]] = {}
        with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
            for n, item in enumerate(items, start=1):
                cid = item.get("collection") or collections[0]
                try:
                    built = _fetch_item(item, cid, bbox, wanted, tmp, cache, sign, policy,
                                        pool, report)
                except (NetworkError, RasterioIOError, CatalogError) as exc:
                    report.failed.append({"item": item["id"], "collection": cid,
                                          "error": str(exc)})
                    built = None
                if built is not None:
                    stac_items.setdefault(cid, []).append(built)
                if progress is not None:
                    progress(item["id"], n, len(items))
        if dem:
            try:
                fetch_dem(bbox, tmp / DEM_PATH, stac_url=url, cache=cache, signer=sign,
                          policy=policy)
                report.dem = DEM_PATH
            except (RasterioIOError, MinewatchError) as exc:
                report.failed.append({"item": DEM_COLLECTION, "collection": DEM_COLLECTION,
                                      "error": str(exc)})
        if not stac_items:
            raise NetworkError(
                f"every one of the {len(items)} items failed; first error: "
                f"{report.failed[0]['error'] if report.failed else 'no AOI overlap'}")
        _write_catalog(tmp, stac_items, url, bbox, report.dem)
        report.bytes_written = sum(f.stat().st_size for f in tmp.rglob("*.tif"))
        (tmp / "fetch_report.json").write_text(json.dumps(report.to_dict(), indent=2))
        if out.exists():
            shutil.rmtree(out)
        tmp.replace(final)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return report


def _fetch_item(item: dict[str, Any], cid: str, bbox: BBox, wanted: Sequence[str], tmp: Path,
                cache: Cache, sign: Signer, policy: RetryPolicy, pool: ThreadPoolExecutor,
                report: FetchReport) -> pystac.Item | None:
    """Read one item's band windows (in parallel) and build its STAC item in ``tmp``."""
    assets = band_assets(item, wanted)
    if not any(b in COMMON_BANDS for b in assets):
        report.skipped.append({"item": item["id"], "reason": "no reflectance band among "
                               f"its assets ({', '.join(sorted(item.get('assets', {})))})"})
        return None

    def one(band: str) -> tuple[str, CachedWindow | None]:
        key, asset = assets[band]
        return band, cached_window(cache, collection=cid, item_id=item["id"], band=band,
                                   href=asset["href"], bbox=bbox, sign=sign, policy=policy,
                                   describe={"asset_key": key})

    windows = {band: w for band, w in pool.map(one, list(assets)) if w is not None}
    if not windows:
        report.skipped.append({"item": item["id"], "reason": "its rasters do not overlap the AOI"})
        return None
    info = {"id": item["id"], "collection": cid, "datetime": item_datetime(item),
            "bands": [], "from_cache": 0, "read": 0}
    for window in windows.values():
        info["from_cache" if window.from_cache else "read"] += 1
        if window.from_cache:
            report.windows_cached += 1
        else:
            report.windows_read += 1
    aliases = band_aliases(item, windows)
    info["bands"] = [*windows, *(f"{alias} (= {band})" for alias, band in aliases.items())]
    out_item = _stac_item(item, cid, assets, windows, aliases, tmp / cid / item["id"],
                          report.stac_url)
    report.items.append(info)
    return out_item


def _stac_item(item: dict[str, Any], cid: str, assets: dict[str, tuple[str, dict]],
               windows: dict[str, CachedWindow], aliases: dict[str, str], item_dir: Path,
               source_url: str) -> pystac.Item:
    """The output STAC item: each window linked (or copied) into ``item_dir`` as an asset,
    and each alias (:func:`~minewatch.imagery.harmonise.band_aliases`) as a twin asset."""
    props = item.get("properties", {})
    keep = {k: props[k] for k in KEPT_PROPERTIES if k in props}
    out_item = pystac.Item(item["id"], item.get("geometry"), item.get("bbox"),
                           dt.datetime.fromisoformat(item_datetime(item)),
                           {**keep, "minewatch:source": source_url},
                           stac_extensions=list(STAC_EXTENSIONS), collection=cid)
    code = None
    for band, window in windows.items():
        dest = item_dir / f"{band}.tif"
        dest.parent.mkdir(parents=True, exist_ok=True)
        try:
            os.link(window.path, dest)
        except OSError:
            shutil.copyfile(window.path, dest)
        _, asset = assets[band]
        meta = window.meta
        scale, offset = value_scale(item, asset, band)
        pf = proj_fields(CRS.from_string(meta["crs"]), Affine(*meta["transform"]),
                         tuple(meta["shape"]))
        code = code or pf.get("proj:code")
        is_value = band in COMMON_BANDS
        extra = {
            **pf,
            "raster:bands": [raster_band(meta["dtype"], nodata=band_nodata(asset, band,
                                                                           meta.get("nodata")),
                                         scale=scale, offset=offset)],
            "minewatch:source_href": meta["href"],
            "minewatch:source_key": meta["asset_key"],
        }
        if is_value:
            extra["eo:bands"] = [{"name": band, "common_name": band}]
        out_item.add_asset(band, pystac.Asset(href=f"{band}.tif",
                                              media_type=pystac.MediaType.COG,
                                              roles=["data", "reflectance"] if is_value
                                              else ["data", "cloud"],
                                              extra_fields=extra))
    for alias, band in aliases.items():
        twin = out_item.assets[band].clone()
        twin.extra_fields["minewatch:alias_of"] = band
        twin.extra_fields["eo:bands"] = [{"name": alias, "common_name": alias}]
        out_item.add_asset(alias, twin)
    if code:
        out_item.properties["proj:code"] = code
        out_item.properties["proj:epsg"] = int(code.split(":")[1])
    return out_item


def _write_catalog(tmp: Path, stac_items: dict[str, list[pystac.Item]], url: str, bbox: BBox,
                   dem: str | None) -> None:
    """Save the catalog: one Collection per source collection, plus the DEM's."""
    catalog = pystac.Catalog(id="minewatch-fetch",
                             description=f"AOI windows fetched by minewatch from {url}")
    for cid, items in stac_items.items():
        times = sorted(it.datetime for it in items)
        coll = pystac.Collection(
            id=cid, description=f"{cid} clipped to {bbox} (from {url})",
            extent=pystac.Extent(pystac.SpatialExtent([list(bbox)]),
                                 pystac.TemporalExtent([[times[0], times[-1]]])),
            license="other", stac_extensions=list(STAC_EXTENSIONS))
        coll.add_items(items)
        catalog.add_child(coll)
    if dem:
        dem_coll = pystac.Collection(
            id=DEM_COLLECTION, description="Copernicus DEM GLO-30 mosaicked and clipped to the AOI",
            extent=pystac.Extent(pystac.SpatialExtent([list(bbox)]),
                                 pystac.TemporalExtent([[None, None]])),
            license="other")
        dem_coll.add_asset("dem", pystac.Asset(href=f"../{dem}",
                                               media_type=pystac.MediaType.COG,
                                               roles=["data", "elevation"]))
        catalog.add_child(dem_coll)
    catalog.normalize_hrefs(str(tmp))
    catalog.save(catalog_type=pystac.CatalogType.SELF_CONTAINED)
