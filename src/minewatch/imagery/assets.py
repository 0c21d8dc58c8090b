"""Check every asset of a catalog before any pixel is read, and say which are left out and why.

A damaged or inconsistent file must not turn into a confident answer: a truncated
COG would fail half-way through a run, a band in the wrong CRS would be read as
no data (or, without a CRS, silently placed on the grid), a band of another size
would cover only part of the scene. :func:`inspect_assets` opens the header of
every asset (no pixels) and leaves out, with a :class:`SkippedAsset` record each,
those that are

* unreadable (not a raster, a broken header, a missing file);
* truncated (their blocks run past the end of the file);
* without a CRS, or in another CRS than their item declares (``proj:code``/``proj:epsg``);
* of another size or grid than their asset declares (``proj:shape``/``proj:transform``);
* outside the analysis grid, or covering another area than the reference band of
  their item (red, else green, blue or nir);
* missing the band index the catalog points at.

Pixel reads that still fail (a damaged block inside a file) are recorded the same
way by :func:`minewatch.imagery.load.load_tile`, stage ``"reading"``.
"""

from __future__ import annotations

import dataclasses
import math
import os
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import rasterio
from affine import Affine
from rasterio.crs import CRS
from rasterio.errors import CRSError, RasterioError
from rasterio.warp import transform_bounds

from minewatch.imagery.catalog import (
    CATEGORICAL,
    REFERENCE_BANDS,
    AssetRef,
    SceneItem,
    SkippedAsset,
)
from minewatch.imagery.load import Grid, error_text

#: Bounds of two bands of one item may differ by this many pixels (of the coarser band).
EXTENT_TOLERANCE_PX = 1.0

Bounds = tuple[float, float, float, float]


@dataclass(frozen=True)
class _Header:
    """What the header of one asset says, or why it could not be read."""

    bounds: Bounds | None = None  # in the grid CRS
    res: float = 0.0  # pixel size in grid-CRS units (larger axis)
    problem: str | None = None


def truncation(src: rasterio.io.DatasetReader, bands: Sequence[int] | None = None) -> str | None:
    """Why a local GeoTIFF is cut short (its blocks end past the end of the file), or None.

    Reads only the TIFF block table (GDAL's ``BLOCK_OFFSET_x_y``/``BLOCK_SIZE_x_y``) of
    ``bands`` (default: all) at full resolution and in every overview, no pixels; files
    that are not local GeoTIFFs are not checked.
    """
    path = src.name
    if src.driver not in ("GTiff", "COG") or not os.path.isfile(path):
        return None
    size = os.path.getsize(path)
    end = 0
    for band in bands or range(1, src.count + 1):
        block_h, block_w = src.block_shapes[band - 1]
        factors = src.overviews(band)
        for ovr in [None, *range(len(factors))]:
            factor = 1 if ovr is None else factors[ovr]
            h, w = math.ceil(src.height / factor), math.ceil(src.width / factor)
            for row in range(math.ceil(h / block_h)):
                for col in range(math.ceil(w / block_w)):
                    offset = src.get_tag_item(f"BLOCK_OFFSET_{col}_{row}", "TIFF", bidx=band, ovr=ovr)
                    length = src.get_tag_item(f"BLOCK_SIZE_{col}_{row}", "TIFF", bidx=band, ovr=ovr)
                    if offset and length:
                        end = max(end, int(offset) + int(length))
    if end > size:
        return f"truncated: the file has {size} bytes but its pixel blocks run to byte {end}"
    return None


def _declared_crs(ref: AssetRef, item: SceneItem) -> CRS | None:
    code = ref.crs or item.crs
    if not code:
        return None
    try:
        return CRS.from_user_input(code)
    except Exception:  # noqa: BLE001 - an unreadable declaration is reported as such below
        return None


def _same_crs(a: CRS, b: CRS) -> bool:
    """Whether two CRSs are the same, also when one is written as WKT without its EPSG code."""
    if a == b:
        return True
    ea, eb = a.to_epsg(), b.to_epsg()
    if ea is not None and ea == eb:
        return True
    import pyproj

    return pyproj.CRS.from_wkt(a.to_wkt()).equals(pyproj.CRS.from_wkt(b.to_wkt()), ignore_axis_order=True)


def _grid_problem(ref: AssetRef, src) -> str | None:
    """Where the file's size or grid contradicts the asset's declared ``proj:shape``/``proj:transform``."""
    if ref.shape is not None and tuple(ref.shape) != (src.height, src.width):
        return (f"the file is {src.height} x {src.width} px but the catalog declares "
                f"{ref.shape[0]} x {ref.shape[1]} (proj:shape)")
    if ref.transform is not None:
        declared = Affine(*ref.transform[:6])
        actual = src.transform
        scale_ok = all(math.isclose(x, y, rel_tol=1e-6, abs_tol=1e-12) for x, y in
                       ((actual.a, declared.a), (actual.e, declared.e), (actual.b, declared.b),
                        (actual.d, declared.d)))
        col, row = ~declared * (actual.c, actual.f)
        if not scale_ok or abs(col) > 0.01 or abs(row) > 0.01:
            return (f"the file's grid (origin {actual.c:.12g}, {actual.f:.12g}, pixel {actual.a:g} x {actual.e:g}) "
                    f"differs from the catalog's proj:transform (origin {declared.c:.12g}, {declared.f:.12g}, "
                    f"pixel {declared.a:g} x {declared.e:g})")
    return None


def _overlaps(a: Bounds, b: Bounds) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


def _fmt(bounds: Bounds) -> str:
    return "(" + ", ".join(f"{v:.1f}" for v in bounds) + ")"


def _read_header(item: SceneItem, ref: AssetRef, grid: Grid) -> _Header:
    """Open one asset's header and check it against its declarations and the grid."""
    try:
        with rasterio.open(ref.href) as src:
            if src.crs is None:
                return _Header(problem="the raster has no CRS (georeference the file)")
            if not 1 <= ref.band_index <= src.count:
                return _Header(problem=f"the catalog reads band {ref.band_index} but the file has {src.count}")
            declared = _declared_crs(ref, item)
            if declared is None and (ref.crs or item.crs):
                return _Header(problem=f"the catalog declares an unknown CRS {ref.crs or item.crs!r}")
            if declared is not None and not _same_crs(declared, src.crs):
                return _Header(problem=f"the file is in {src.crs.to_string()} but the catalog declares "
                               f"{ref.crs or item.crs}")
            problem = _grid_problem(ref, src) or truncation(src, [ref.band_index])
            if problem:
                return _Header(problem=problem)
            try:
                bounds = transform_bounds(src.crs, grid.crs, *src.bounds, densify_pts=21)
            except (RasterioError, CRSError) as exc:
                return _Header(problem=f"its footprint cannot be placed in {grid.crs.to_string()} "
                               f"({error_text(exc)})")
            if not all(math.isfinite(v) for v in bounds):
                return _Header(problem=f"its footprint cannot be placed in {grid.crs.to_string()}")
            width = max((bounds[2] - bounds[0]) / src.width, (bounds[3] - bounds[1]) / src.height)
    except (RasterioError, CRSError, OSError) as exc:
        return _Header(problem=f"unreadable: {error_text(exc)}")
    if not _overlaps(bounds, grid.bounds):
        return _Header(problem=f"does not overlap the analysis grid: it covers {_fmt(bounds)}, the grid "
                       f"{_fmt(grid.bounds)} in {grid.crs.to_string()} (a wrong CRS or another place?)")
    return _Header(bounds=bounds, res=width)


def _extent_problem(head: _Header, ref_band: str, ref_head: _Header) -> str | None:
    tol = EXTENT_TOLERANCE_PX * max(head.res, ref_head.res)
    if all(abs(x - y) <= tol for x, y in zip(head.bounds, ref_head.bounds, strict=True)):
        return None
    return (f"covers {_fmt(head.bounds)} while the item's {ref_band} band covers {_fmt(ref_head.bounds)}: "
            "a band of another size or place")


def inspect_assets(
    items: Sequence[SceneItem], grid: Grid, *, threads: int = 8
) -> tuple[list[SceneItem], list[SkippedAsset]]:
    """Check every asset's header against its catalog entry and the grid, before reading pixels.

    Parameters
    ----------
    items
        Items of the run (:func:`minewatch.imagery.catalog.open_catalog`).
    grid
        The analysis grid (:func:`minewatch.imagery.load.analysis_grid`).
    threads
        Headers opened at once.

    Returns
    -------
    (usable, skipped)
        ``usable``: the items without their unusable assets, in the same order; an item
        whose every reflectance band was left out is dropped (that date is skipped). ``skipped``: one
        :class:`SkippedAsset` (stage ``"inspection"``) per asset left out, with the reason.
    """
    jobs = [(i, band, ref) for i, item in enumerate(items) for band, ref in item.assets.items()]
    with ThreadPoolExecutor(max_workers=threads) as pool:
        heads = list(pool.map(lambda job: _read_header(items[job[0]], job[2], grid), jobs))
    by_item: dict[int, dict[str, _Header]] = {}
    for (i, band, _), head in zip(jobs, heads, strict=True):
        by_item.setdefault(i, {})[band] = head
    usable: list[SceneItem] = []
    skipped: list[SkippedAsset] = []
    for i, item in enumerate(items):
        heads_of = by_item.get(i, {})
        ref_band = next((b for b in REFERENCE_BANDS if b in heads_of and heads_of[b].problem is None), None)
        keep: dict[str, AssetRef] = {}
        for band, ref in item.assets.items():
            head = heads_of[band]
            problem = head.problem
            if problem is None and ref_band is not None and band != ref_band:
                problem = _extent_problem(head, ref_band, heads_of[ref_band])
            if problem is None:
                keep[band] = ref
            else:
                skipped.append(SkippedAsset(item.id, item.date, band, ref.href, problem, "inspection"))
        had_values = any(band not in CATEGORICAL for band in item.assets)
        if not had_values or any(band not in CATEGORICAL for band in keep):
            usable.append(dataclasses.replace(item, assets=keep))
    return usable, skipped
