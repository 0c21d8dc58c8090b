"""Find, read and cache imagery of any area from a STAC API: ``minewatch fetch``.

:func:`fetch` searches a STAC API (Earth Search v1 by default, Microsoft Planetary
Computer by name with its URL signing, or any STAC API by URL) with pystac-client,
reads only the AOI window of every band's COG through HTTP range requests (GDAL
``/vsicurl/``), caches each window (:mod:`minewatch.imagery.cache`) and writes a
local static STAC catalog following the same convention as ``minewatch ingest``
(asset keys in the Earth Search vocabulary, ``raster:bands`` scale/offset so that
reflectance = DN * scale + offset, ``proj:*`` of the clipped window), which
``minewatch analyze`` reads like any other catalog.

Sentinel-2 L2A (processing baselines before and after 04.00) and Landsat 4-9
Collection 2 Level-2 (scale 0.0000275, offset -0.2, ``qa_pixel`` kept) share one
band vocabulary so a time series may mix them; Copernicus DEM GLO-30 tiles are
mosaicked and clipped to the AOI (:func:`fetch_dem`).
"""

from __future__ import annotations

import datetime as dt
import json
import math
import os
import shutil
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Sequence

import numpy as np
import pystac
import rasterio
from rasterio.errors import RasterioIOError
from rasterio.warp import transform_bounds
from rasterio.windows import Window, from_bounds

from minewatch.errors import CatalogError, InputError, MinewatchError, NetworkError
from minewatch.imagery.cache import Cache, digest
from minewatch.imagery.cog import STAC_EXTENSIONS, proj_fields, raster_band, write_cog
from minewatch.imagery.http import (
    PlanetaryComputerSigner,
    RetryPolicy,
    Signer,
    describe_connection_error,
    gdal_env,
    no_signing,
    unsigned,
    urllib3_retry,
    with_retries,
)
from minewatch.imagery.sources import COMMON_BANDS, MASK_BANDS, normalise_band_name

SOURCES: dict[str, str] = {
    "earth-search": "https://earth-search.aws.element84.com/v1",
    "planetary-computer": "https://planetarycomputer.microsoft.com/api/stac/v1",
}
COLLECTIONS = ("sentinel-2-l2a", "landsat-c2-l2")
DEM_COLLECTION = "cop-dem-glo-30"
DEFAULT_BANDS: tuple[str, ...] = (
    "blue", "green", "red", "nir", "nir08", "swir16", "swir22", "scl", "qa_pixel",
)
#: Searches whose period ended more than this many days ago are reused from the cache.
SEARCH_STABLE_DAYS = 3

BBox = tuple[float, float, float, float]
ProgressFn = Callable[[str, int, int], None]


@dataclass
class FetchReport:
    """What :func:`fetch` did."""

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
        return {
            "catalog": str(self.catalog), "stac_url": self.stac_url,
            "collections": self.collections, "bbox": list(self.bbox),
            "period": list(self.period), "n_items": len(self.items), "items": self.items,
            "failed": self.failed, "skipped": self.skipped,
            "search_from_cache": self.search_from_cache, "windows_read": self.windows_read,
            "windows_from_cache": self.windows_cached, "bytes_written": self.bytes_written,
            "dem": self.dem,
        }


# -- arguments ------------------------------------------------------------------------------


def parse_bbox(text: str | Sequence[float]) -> BBox:
    """Parse ``W,S,E,N`` (degrees, WGS84) and check it."""
    if isinstance(text, str):
        parts = [p for p in text.replace(" ", "").split(",") if p]
        try:
            values = [float(p) for p in parts]
        except ValueError:
            raise InputError(f"--bbox {text!r}: not four numbers W,S,E,N") from None
    else:
        values = [float(v) for v in text]
    if len(values) != 4:
        raise InputError(f"--bbox needs four numbers W,S,E,N, got {len(values)}")
    w, s, e, n = values
    if not (-180 <= w < e <= 180 and -90 <= s < n <= 90):
        raise InputError(f"--bbox {values}: need -180 <= W < E <= 180 and -90 <= S < N <= 90 "
                         "(longitude/latitude in degrees)")
    return (w, s, e, n)


def parse_date(text: str | dt.date, what: str) -> dt.date:
    if isinstance(text, dt.date):
        return text
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise InputError(f"{what} {text!r} is not a date (YYYY-MM-DD)") from None


def resolve_source(stac_url: str | None) -> tuple[str, Signer]:
    """Map ``--stac-url`` (a URL or a source name) to a URL and its signer."""
    name = (stac_url or "earth-search").strip()
    url = SOURCES.get(name.lower(), name).rstrip("/")
    if not url.startswith(("http://", "https://")):
        raise InputError(f"--stac-url {stac_url!r} is neither a URL nor a known source",
                         hint="use " + ", ".join(SOURCES) + " or an http(s) URL")
    if "planetarycomputer" in url:
        return url, PlanetaryComputerSigner()
    return url, no_signing


def site_bbox(registry: str, site_id: str) -> BBox:
    """Bounding box (WGS84) of a registry site."""
    from minewatch.registry.store import open_registry

    site = open_registry(registry).site(site_id)
    geom = site.geometry
    w, s, e, n = (float(v) for v in geom.bounds)
    return parse_bbox((w, s, e, n))


# -- search --------------------------------------------------------------------------------


def search_items(
    stac_url: str,
    collections: Sequence[str],
    bbox: BBox,
    start: dt.date,
    end: dt.date,
    *,
    max_cloud: float | None = None,
    cache: Cache | None = None,
    refresh: bool = False,
    policy: RetryPolicy | None = None,
    page_size: int = 100,
    static: bool = False,
) -> tuple[list[dict[str, Any]], bool]:
    """Search a STAC API (all pages) and return item dicts, newest last.

    Returns ``(items, from_cache)``. A search whose period ended more than
    ``SEARCH_STABLE_DAYS`` ago is answered from the cache when it was run before
    (``refresh`` forces a new search); ``static`` marks a collection that does not
    change (the DEM), cached whatever the period.

    Raises
    ------
    NetworkError
        The API cannot be reached, or keeps failing after retries.
    """
    policy = policy or RetryPolicy()
    period = f"{start.isoformat()}T00:00:00Z/{end.isoformat()}T23:59:59Z"
    query = {"url": stac_url, "collections": list(collections), "bbox": list(bbox),
             "datetime": period, "max_cloud": max_cloud}
    key = digest("search-v1", query)
    stable = static or (dt.date.today() - end).days > SEARCH_STABLE_DAYS
    if cache is not None and stable and not refresh:
        hit = cache.get_search(key)
        if hit is not None:
            return hit, True

    import requests
    from pystac_client import Client
    from pystac_client.exceptions import APIError
    from pystac_client.stac_api_io import StacApiIO

    io = StacApiIO(max_retries=urllib3_retry(policy), timeout=policy.timeout)
    try:
        client = Client.open(stac_url, stac_io=io)
        items: list[dict[str, Any]] = []
        for cid in collections:
            kwargs: dict[str, Any] = {"collections": [cid], "bbox": list(bbox),
                                      "datetime": period, "limit": page_size}
            if max_cloud is not None and cid != DEM_COLLECTION:
                kwargs["query"] = {"eo:cloud_cover": {"lt": max_cloud}}
            for it in client.search(**kwargs).items_as_dicts():
                it.setdefault("collection", cid)
                items.append(it)
    except requests.exceptions.ConnectionError as exc:
        if "Max retries exceeded" in str(exc) and "ResponseError" in str(exc):
            raise NetworkError(f"STAC API {stac_url} kept failing: {exc}") from None
        raise describe_connection_error(stac_url, exc) from None
    except requests.exceptions.Timeout as exc:
        raise describe_connection_error(stac_url, exc) from None
    except requests.exceptions.RetryError as exc:
        raise NetworkError(f"STAC API {stac_url} kept failing after {policy.attempts} tries "
                           f"({str(exc)[:200]})") from None
    except APIError as exc:
        text = str(exc)
        if any(k in text for k in ("NewConnectionError", "Failed to establish", "NameResolution",
                                   "ConnectTimeout", "Connection refused", "ConnectionError")):
            raise describe_connection_error(stac_url, exc) from None
        status = getattr(exc, "status_code", None)
        raise NetworkError(f"STAC API {stac_url} answered an error"
                           f"{f' (HTTP {status})' if status else ''}: {str(exc)[:200]}",
                           hint="retry later; the API may be overloaded") from None
    items.sort(key=lambda it: (_item_datetime(it), it["id"]))
    if cache is not None:
        cache.put_search(key, items, query)
    return items, False


def _item_datetime(item: dict[str, Any]) -> str:
    p = item.get("properties", {})
    return p.get("datetime") or p.get("start_datetime") or ""


# -- bands and scales ----------------------------------------------------------------------


def _is_landsat(item: dict[str, Any]) -> bool:
    p = item.get("properties", {})
    return "landsat" in str(p.get("platform", "")).lower() or \
        "landsat" in str(item.get("collection", "")).lower()


def _is_sentinel2(item: dict[str, Any]) -> bool:
    p = item.get("properties", {})
    return "sentinel-2" in str(p.get("platform", "")).lower() or \
        "sentinel-2" in str(item.get("collection", "")).lower()


def band_assets(item: dict[str, Any], wanted: Iterable[str]) -> dict[str, tuple[str, dict]]:
    """``{common band: (asset key, asset)}`` for the wanted bands an item carries.

    Asset keys may be Earth Search v1 names (``blue``, ``nir08``, ``scl``), Sentinel-2
    band ids (``B02`` .. ``B12``, ``B8A``, ``SCL``) or Landsat ids (``SR_B4``,
    ``QA_PIXEL``); JPEG2000 duplicates (``blue-jp2``) and renderings are ignored.
    """
    wanted = set(wanted)
    platform = str(item.get("properties", {}).get("platform", "")).lower()
    tm = any(p in platform for p in ("landsat-4", "landsat-5", "landsat-7"))
    out: dict[str, tuple[str, dict]] = {}
    for key, asset in (item.get("assets") or {}).items():
        if "href" not in asset or key.lower().endswith(("-jp2", "_jp2")):
            continue
        band = normalise_band_name(key, landsat_tm=tm)
        if band is None or band not in wanted or band in out:
            continue
        media = str(asset.get("type", "")).lower()
        if media and "tiff" not in media and "geotiff" not in media:
            continue
        out[band] = (key, asset)
    return out


def value_scale(item: dict[str, Any], asset: dict[str, Any], band: str) -> tuple[float, float]:
    """``(scale, offset)`` so that reflectance = DN * scale + offset.

    Order: the asset's ``raster:bands`` scale/offset when given; else Sentinel-2 L2A
    1e-4 with offset -0.1 from processing baseline 04.00 on (``s2:processing_baseline``),
    0 before; else Landsat C2 L2 2.75e-5 and -0.2. Mask bands are never scaled.
    """
    if band in MASK_BANDS:
        return 1.0, 0.0
    rb = (asset.get("raster:bands") or [{}])[0]
    if rb.get("scale") is not None or rb.get("offset") is not None:
        return float(rb.get("scale") if rb.get("scale") is not None else 1.0), \
            float(rb.get("offset") if rb.get("offset") is not None else 0.0)
    props = item.get("properties", {})
    if _is_sentinel2(item):
        pb = str(props.get("s2:processing_baseline") or "")
        offset = -0.1 if pb and pb >= "04.00" else 0.0
        return 1e-4, offset
    if _is_landsat(item):
        return 2.75e-5, -0.2
    return 1.0, 0.0


# -- reading windows -----------------------------------------------------------------------


def _gdal_path(href: str) -> str:
    if href.startswith(("http://", "https://")):
        return "/vsicurl/" + href
    if href.startswith("file://"):
        return href[7:]
    return href


#: Source pixels added around the AOI window, so that resampling (bilinear onto the
#: analysis grid) has its neighbours at the AOI edge exactly as with the full file.
WINDOW_MARGIN_PX = 2


def aoi_window(src: Any, bbox: BBox, margin: int = WINDOW_MARGIN_PX) -> Window | None:
    """The pixel-aligned window of ``src`` covering a WGS84 bbox (plus ``margin``
    pixels each side, clipped to the raster), or None if disjoint."""
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

    Returns the window's metadata, or ``None`` when the raster does not overlap the
    AOI. Retries retryable failures with backoff (:func:`with_retries`).
    """

    def attempt(n: int) -> dict[str, Any] | None:
        target = href
        if n > 0 and href.startswith("http"):
            # A fresh URL on retry: GDAL keeps per-URL state (sizes, failures).
            target = f"{href}{'&' if '?' in href else '?'}mwtry={n}"
        with rasterio.Env(**gdal_env(policy)):
            with rasterio.open(_gdal_path(target)) as src:
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


# -- fetch ---------------------------------------------------------------------------------


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
    NetworkError
        The API cannot be reached (offline) or keeps failing.
    DataError
        The search found nothing.
    """
    from minewatch.errors import DataError

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
        pool = ThreadPoolExecutor(max_workers=max(1, workers))
        try:
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
        finally:
            pool.shutdown(wait=True)
        if dem:
            try:
                report.dem = _fetch_dem_into(tmp, bbox, url, cache, sign, policy)
            except (NetworkError, RasterioIOError, MinewatchError) as exc:
                report.failed.append({"item": DEM_COLLECTION, "collection": DEM_COLLECTION,
                                      "error": str(exc)})
        if not stac_items:
            raise NetworkError(
                f"every one of the {len(items)} items failed; first error: "
                f"{report.failed[0]['error'] if report.failed else 'no AOI overlap'}")
        _write_fetch_catalog(tmp, stac_items, url, bbox, report)
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
    assets = band_assets(item, wanted)
    if not any(b in COMMON_BANDS for b in assets):
        report.skipped.append({"item": item["id"], "reason": "no reflectance band among "
                               f"its assets ({', '.join(sorted(item.get('assets', {})))})"})
        return None

    def one(band: str) -> tuple[str, Path | None, dict | None, bool]:
        key_name, asset = assets[band]
        href = asset["href"]
        key = cache.window_key(cid, item["id"], band, bbox, unsigned(href))
        hit = cache.get_window(key)
        if hit is not None:
            return band, hit, cache.get_meta(key), True
        path = cache.window_path(key)
        meta = read_window_to(path, sign(href, cid), bbox, policy)
        if meta is None:
            return band, None, None, False
        meta.update({"collection": cid, "item": item["id"], "band": band,
                     "asset_key": key_name, "href": unsigned(href), "aoi": list(bbox)})
        cache.put_meta(key, meta)
        return band, path, meta, False

    results = list(pool.map(one, list(assets)))
    if all(path is None for _, path, _, _ in results):
        report.skipped.append({"item": item["id"], "reason": "its rasters do not overlap the AOI"})
        return None
    props = item.get("properties", {})
    when = dt.datetime.fromisoformat(_item_datetime(item).replace("Z", "+00:00"))
    keep = {k: props[k] for k in ("platform", "eo:cloud_cover", "s2:processing_baseline",
                                  "constellation", "instruments") if k in props}
    out_item = pystac.Item(item["id"], item.get("geometry"), item.get("bbox"), when,
                           {**keep, "minewatch:source": report.stac_url},
                           stac_extensions=list(STAC_EXTENSIONS), collection=cid)
    item_dir = tmp / cid / item["id"]
    info = {"id": item["id"], "collection": cid, "datetime": _item_datetime(item),
            "bands": [], "from_cache": 0, "read": 0}
    code = None
    for band, path, meta, cached in results:
        if path is None or meta is None:
            continue
        info["from_cache" if cached else "read"] += 1
        if cached:
            report.windows_cached += 1
        else:
            report.windows_read += 1
        dest = item_dir / f"{band}.tif"
        dest.parent.mkdir(parents=True, exist_ok=True)
        try:
            os.link(path, dest)
        except OSError:
            shutil.copyfile(path, dest)
        _, asset = assets[band]
        scale, offset = value_scale(item, asset, band)
        rb_src = (asset.get("raster:bands") or [{}])[0]
        nodata = rb_src.get("nodata", meta.get("nodata"))
        if nodata is None and band in COMMON_BANDS:
            nodata = 0
        if band == "qa_pixel" and nodata is None:
            nodata = 1
        crs = rasterio.crs.CRS.from_string(meta["crs"])
        from affine import Affine

        pf = proj_fields(crs, Affine(*meta["transform"]), tuple(meta["shape"]))
        code = code or pf.get("proj:code")
        is_value = band in COMMON_BANDS
        extra = {
            **pf,
            "raster:bands": [raster_band(meta["dtype"], nodata=nodata, scale=scale,
                                         offset=offset)],
            "minewatch:source_href": meta["href"],
            "minewatch:source_key": meta["asset_key"],
        }
        if is_value:
            extra["eo:bands"] = [{"name": band, "common_name": band}]
        roles = ["data", "reflectance"] if is_value else ["data", "cloud"]
        out_item.add_asset(band, pystac.Asset(href=f"{band}.tif",
                                              media_type=pystac.MediaType.COG,
                                              roles=roles, extra_fields=extra))
        info["bands"].append(band)
    # Landsat has no broad NIR band: also expose its NIR (nir08) as ``nir`` so that a
    # time series mixing Sentinel-2 and Landsat computes NDVI from one band name.
    if _is_landsat(item) and "nir08" in out_item.assets and "nir" not in out_item.assets:
        alias = out_item.assets["nir08"].clone()
        alias.extra_fields["minewatch:alias_of"] = "nir08"
        alias.extra_fields["eo:bands"] = [{"name": "nir", "common_name": "nir"}]
        out_item.add_asset("nir", alias)
        info["bands"].append("nir (= nir08)")
    if code:
        out_item.properties["proj:code"] = code
        out_item.properties["proj:epsg"] = int(code.split(":")[1])
    report.items.append(info)
    return out_item


def _write_fetch_catalog(tmp: Path, stac_items: dict[str, list[pystac.Item]], url: str,
                         bbox: BBox, report: FetchReport) -> None:
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
    if report.dem:
        dem_coll = pystac.Collection(
            id=DEM_COLLECTION, description="Copernicus DEM GLO-30 mosaicked and clipped to the AOI",
            extent=pystac.Extent(pystac.SpatialExtent([list(bbox)]),
                                 pystac.TemporalExtent([[None, None]])),
            license="other")
        dem_coll.add_asset("dem", pystac.Asset(href=f"../{report.dem}",
                                               media_type=pystac.MediaType.COG,
                                               roles=["data", "elevation"]))
        catalog.add_child(dem_coll)
    catalog.normalize_hrefs(str(tmp))
    catalog.save(catalog_type=pystac.CatalogType.SELF_CONTAINED)


# -- DEM -----------------------------------------------------------------------------------


def _fetch_dem_into(tmp: Path, bbox: BBox, url: str, cache: Cache, sign: Signer,
                    policy: RetryPolicy) -> str:
    rel = "dem/cop-dem-glo-30.tif"
    fetch_dem(bbox, tmp / rel, stac_url=url, cache=cache, signer=sign, policy=policy)
    return rel


def fetch_dem(
    bbox: BBox | str,
    out_path: str | Path,
    *,
    stac_url: str | None = None,
    collection: str = DEM_COLLECTION,
    cache: Cache | None = None,
    signer: Signer | None = None,
    policy: RetryPolicy | None = None,
) -> Path:
    """Fetch Copernicus DEM GLO-30 tiles over ``bbox``, mosaic them, clip to the AOI.

    Returns the written COG (float32 metres, nodata -32767, EPSG:4326 like the tiles).
    """
    from rasterio.merge import merge

    from minewatch.errors import DataError

    bbox = parse_bbox(bbox)
    url, default_signer = resolve_source(stac_url)
    sign = signer or default_signer
    policy = policy or RetryPolicy()
    cache = cache or Cache.default()
    items, _ = search_items(url, [collection], bbox, dt.date(2000, 1, 1), dt.date(2030, 12, 31),
                            cache=cache, policy=policy, static=True)
    paths: list[Path] = []
    for item in items:
        asset = (item.get("assets") or {}).get("data") or next(
            (a for a in (item.get("assets") or {}).values()
             if "tiff" in str(a.get("type", "")).lower()), None)
        if asset is None:
            continue
        key = cache.window_key(collection, item["id"], "dem", bbox, unsigned(asset["href"]))
        hit = cache.get_window(key)
        if hit is None:
            path = cache.window_path(key)
            meta = read_window_to(path, sign(asset["href"], collection), bbox, policy)
            if meta is None:
                continue
            cache.put_meta(key, {**meta, "item": item["id"], "band": "dem",
                                 "href": unsigned(asset["href"]), "aoi": list(bbox)})
            hit = path
        paths.append(hit)
    if not paths:
        raise DataError(f"no {collection} tile covers {bbox}")
    datasets = [rasterio.open(p) for p in paths]
    try:
        nodata = datasets[0].nodata if datasets[0].nodata is not None else -32767.0
        left, bottom, right, top = transform_bounds("EPSG:4326", datasets[0].crs, *bbox)
        mosaic, transform = merge(datasets, bounds=(left, bottom, right, top), nodata=nodata)
        crs = datasets[0].crs
    finally:
        for ds in datasets:
            ds.close()
    out_path = Path(out_path)
    write_cog(out_path, mosaic[0].astype(np.float32), crs=crs, transform=transform,
              nodata=nodata)
    return out_path


# -- xarray ---------------------------------------------------------------------------------


def load_dataset(catalog: str | Path, bands: Sequence[str], *, chunks: int = 512,
                 crs: str | None = None, resolution: float | None = None) -> Any:
    """Load a fetched (or ingested) catalog lazily into xarray with odc-stac (dask chunks).

    Each band is converted to reflectance with its item's own scale/offset
    (``raster:bands``), so items of different processing baselines or sensors mix.
    """
    import odc.stac

    cat = pystac.Catalog.from_file(str(Path(catalog) / "catalog.json")
                                   if Path(catalog).is_dir() else str(catalog))
    items = list(cat.get_items(recursive=True))
    if not items:
        raise CatalogError(f"{catalog}: no items")
    kwargs: dict[str, Any] = {"bands": list(bands), "chunks": {"x": chunks, "y": chunks},
                              "groupby": "time"}
    if crs:
        kwargs["crs"] = crs
    if resolution:
        kwargs["resolution"] = resolution
    ds = odc.stac.load(items, **kwargs)
    # Per-item scale/offset (odc-stac applies none by default).
    for band in bands:
        if band in MASK_BANDS:
            continue
        scales = []
        offsets = []
        nodatas = []
        for it in sorted(items, key=lambda i: i.datetime):
            rb = (it.assets[band].extra_fields.get("raster:bands") or [{}])[0] \
                if band in it.assets else {}
            scales.append(rb.get("scale", 1.0))
            offsets.append(rb.get("offset", 0.0))
            nodatas.append(rb.get("nodata"))
        if len(scales) == ds.sizes["time"]:
            s = np.asarray(scales, "float32")[:, None, None]
            o = np.asarray(offsets, "float32")[:, None, None]
            raw = ds[band]
            nd = nodatas[0]
            valid = raw != nd if nd is not None else raw == raw
            ds[band] = (raw.astype("float32") * s + o).where(valid)
    return ds


def lazy_dataset(
    bbox: BBox | str,
    start: str | dt.date,
    end: str | dt.date,
    *,
    collections: Sequence[str] = ("sentinel-2-l2a",),
    bands: Sequence[str] = ("blue", "green", "red", "nir", "swir16", "swir22"),
    max_cloud: float | None = None,
    stac_url: str | None = None,
    signer: Signer | None = None,
    policy: RetryPolicy | None = None,
    cache: Cache | None = None,
    chunks: int = 1024,
    resolution: float | None = None,
) -> Any:
    """Search a STAC API and open the AOI lazily with odc-stac, straight from the remote COGs.

    Nothing is read until the dask arrays are computed; then only the AOI windows
    are fetched with HTTP range requests (GDAL ``/vsicurl/``), signed when the
    source needs it. Asset keys are mapped onto the common vocabulary and each
    item's scale/offset is applied (float32 reflectance, NaN = no data). Unlike
    :func:`fetch`, nothing is cached on disk: use it for exploration, and
    :func:`fetch` for repeatable runs.
    """
    import odc.stac

    bbox = parse_bbox(bbox)
    d0, d1 = parse_date(start, "--start"), parse_date(end, "--end")
    url, default_signer = resolve_source(stac_url)
    sign = signer or default_signer
    policy = policy or RetryPolicy()
    found, _ = search_items(url, list(collections), bbox, d0, d1, max_cloud=max_cloud,
                            cache=cache or Cache.default(), policy=policy)
    items: list[pystac.Item] = []
    scales: list[dict[str, tuple[float, float, Any]]] = []
    for doc in found:
        assets = band_assets(doc, bands)
        if not all(b in assets for b in bands):
            continue
        new = json.loads(json.dumps(doc))
        new["assets"] = {}
        per: dict[str, tuple[float, float, Any]] = {}
        for band, (key, asset) in assets.items():
            a = dict(asset)
            a["href"] = sign(asset["href"], doc.get("collection"))
            new["assets"][band] = a
            rb = (asset.get("raster:bands") or [{}])[0]
            per[band] = (*value_scale(doc, asset, band), rb.get("nodata", 0))
        new["links"] = []
        items.append(pystac.Item.from_dict(new))
        scales.append(per)
    if not items:
        from minewatch.errors import DataError

        raise DataError(f"no item over {bbox} between {d0} and {d1} carries {', '.join(bands)}")
    order = sorted(range(len(items)), key=lambda i: (items[i].datetime, items[i].id))
    items = [items[i] for i in order]
    scales = [scales[i] for i in order]
    kwargs: dict[str, Any] = {"bands": list(bands), "bbox": list(bbox),
                              "chunks": {"x": chunks, "y": chunks}, "groupby": "id",
                              "preserve_original_order": True}
    if resolution:
        kwargs["resolution"] = resolution
    with rasterio.Env(**gdal_env(policy)):
        ds = odc.stac.load(items, **kwargs)
    for band in bands:
        if band in MASK_BANDS:
            continue
        s = np.asarray([sc[band][0] for sc in scales], "float32")[:, None, None]
        o = np.asarray([sc[band][1] for sc in scales], "float32")[:, None, None]
        nd = scales[0][band][2]
        raw = ds[band]
        ds[band] = (raw.astype("float32") * s + o).where(raw != nd)
    return ds
