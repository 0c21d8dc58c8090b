"""Sentinel-2 L2A and Landsat C2 L2 STAC items onto one band vocabulary and scale.

A source item's assets are picked and renamed into the common vocabulary of
:mod:`minewatch.imagery.sources` (:func:`band_assets`); each band gets the
``(scale, offset)`` that turns its digital numbers into reflectance
(:func:`value_scale`, per item: Sentinel-2 processing baselines differ) and its
no-data value (:func:`band_nodata`); Landsat's narrow NIR also stands in for the
broad NIR band Landsat lacks (:func:`band_aliases`), so that a series mixing both
sensors computes NDVI from one band name.
"""

from __future__ import annotations

from typing import Any, Iterable

from minewatch.imagery.sources import COMMON_BANDS, MASK_BANDS, SCALES, normalise_band_name


def _mentions(item: dict[str, Any], word: str) -> bool:
    platform = str(item.get("properties", {}).get("platform", "")).lower()
    return word in platform or word in str(item.get("collection", "")).lower()


def is_landsat(item: dict[str, Any]) -> bool:
    """Whether a STAC item (dict) is a Landsat scene (by platform or collection id)."""
    return _mentions(item, "landsat")


def is_sentinel2(item: dict[str, Any]) -> bool:
    """Whether a STAC item (dict) is a Sentinel-2 scene (by platform or collection id)."""
    return _mentions(item, "sentinel-2")


def band_assets(item: dict[str, Any], wanted: Iterable[str]) -> dict[str, tuple[str, dict]]:
    """``{common band: (asset key, asset)}`` for the wanted bands an item carries.

    Asset keys may be Earth Search v1 names (``blue``, ``nir08``, ``scl``), Sentinel-2
    band ids (``B02`` .. ``B12``, ``B8A``, ``SCL``) or Landsat ids (``SR_B4``,
    ``QA_PIXEL``, read as TM/ETM+ bands on Landsat 4, 5 and 7); JPEG2000 duplicates
    (``blue-jp2``) and assets that are not GeoTIFFs are ignored.
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
    0 before; else Landsat C2 L2 2.75e-5 and -0.2 (:data:`~minewatch.imagery.sources.SCALES`).
    Mask bands are never scaled.
    """
    if band in MASK_BANDS:
        return 1.0, 0.0
    rb = (asset.get("raster:bands") or [{}])[0]
    if rb.get("scale") is not None or rb.get("offset") is not None:
        return float(rb.get("scale") if rb.get("scale") is not None else 1.0), \
            float(rb.get("offset") if rb.get("offset") is not None else 0.0)
    if is_sentinel2(item):
        pb = str(item.get("properties", {}).get("s2:processing_baseline") or "")
        known = SCALES["s2-pb04" if pb and pb >= "04.00" else "10000"]
    elif is_landsat(item):
        known = SCALES["landsat-c2"]
    else:
        return 1.0, 0.0
    return known.scale, known.offset


def band_nodata(asset: dict[str, Any], band: str, file_nodata: float | None) -> float | None:
    """The no-data value of a band: the asset's ``raster:bands`` nodata, else the file's,
    else 0 for reflectance bands and 1 (the fill bit) for ``qa_pixel``."""
    nodata = (asset.get("raster:bands") or [{}])[0].get("nodata", file_nodata)
    if nodata is None and band in COMMON_BANDS:
        return 0
    if nodata is None and band == "qa_pixel":
        return 1
    return nodata


def band_aliases(item: dict[str, Any], bands: Iterable[str]) -> dict[str, str]:
    """``{alias: band}`` for bands an item should also expose under another name.

    Landsat has no broad NIR band: its ``nir08`` is also exposed as ``nir`` (when the
    item has ``nir08`` and no ``nir``), so NDVI/NBR work on a series mixing sensors.
    """
    bands = set(bands)
    if is_landsat(item) and "nir08" in bands and "nir" not in bands:
        return {"nir": "nir08"}
    return {}
