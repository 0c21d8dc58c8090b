"""Turn a folder of per-date GeoTIFFs into a static STAC catalog.

``ingest_folder`` scans a folder, recognises the date and the band of every
GeoTIFF, detects (or takes) the value scale, and writes a self-contained STAC
catalog (root ``catalog.json``, one Collection, one Item per date) following
the minewatch catalog convention (see ``docs/ingest.md``). Files it cannot use
are listed in the report with the reason, never dropped silently.

Nothing is written unless the whole catalog can be: the catalog is built in a
hidden sibling folder and renamed into place at the end.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import math
import os
import re
import shutil
import uuid
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator

import numpy as np
import pystac
import rasterio
from affine import Affine
from rasterio.crs import CRS
from rasterio.errors import RasterioError
from rasterio.transform import array_bounds
from rasterio.warp import transform_bounds

from minewatch.errors import CatalogError, InputError
from minewatch.imagery.assets import truncation
from minewatch.imagery.cog import STAC_EXTENSIONS, proj_fields, raster_band, write_cog
from minewatch.imagery.load import error_text
from minewatch.imagery.sources import (
    COMMON_BANDS,
    RENDERING_WORDS,
    SCALES,
    ValueScale,
    decode_scl_rendering,
    find_date,
    normalise_band_name,
    parse_scale,
)

RASTER_SUFFIXES = (".tif", ".tiff", ".gtiff")
#: Median valid DN above which uint16 data are read as reflectance x 65535.
AUTO_65535_MEDIAN_DN = 6000
_SAMPLE_EDGE = 512  # largest edge read for statistics (decimated read)

ProgressFn = Callable[[str, int, int], None]


@dataclass
class BandSource:
    """One band of one date: which file and which band index holds it."""

    band: str
    path: Path
    index: int  # 1-based band index in the file
    count: int  # bands in the file
    dtype: str
    crs: CRS
    transform: Affine
    shape: tuple[int, int]
    nodata: float | None
    mask_index: int | None = None  # 1-based index of a 0/1 data-mask band in the same file
    meta_scale: float = 1.0
    meta_offset: float = 0.0
    decode: str | None = None  # "scl-rendering": RGB rendering decoded to SCL classes


@dataclass
class Skipped:
    """A file that was not used, and why."""

    path: str
    reason: str


@dataclass
class IngestReport:
    """What ``ingest_folder`` did: items written, files skipped, scale used."""

    source: str
    catalog: str
    collection_id: str
    scale: dict[str, Any]
    items: list[dict[str, Any]] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "catalog": self.catalog,
            "collection": self.collection_id,
            "n_items": len(self.items),
            "scale": self.scale,
            "items": self.items,
            "skipped": [{"path": s.path, "reason": s.reason} for s in self.skipped],
            "warnings": self.warnings,
        }


# -- scanning ---------------------------------------------------------------------------


def _tokens(text: str) -> list[str]:
    """Alphanumeric tokens of a path fragment, plus adjacent pairs joined by ``_``."""
    parts = [p for p in re.split(r"[^A-Za-z0-9]+", text) if p]
    pairs = [f"{a}_{b}" for a, b in zip(parts, parts[1:])]
    return pairs + parts  # pairs first: "SR_B5" beats "B5", "QA_PIXEL" beats nothing


def _rendering_word(rel: str) -> str | None:
    stem_tokens = {t.lower() for t in _tokens(Path(rel).stem)}
    for word in RENDERING_WORDS:
        if word in stem_tokens:
            return word
    low = Path(rel).stem.lower()
    for word in ("rgbviz", "truecolor", "true_color", "falsecolor", "false_color", "quicklook"):
        if word in low.replace("-", "_"):
            return word
    return None


@contextlib.contextmanager
def _reading(path: Path) -> Iterator[None]:
    """Turn a failed pixel read into a :class:`CatalogError` naming the file (nothing is written)."""
    try:
        yield
    except RasterioError as exc:
        raise CatalogError(f"{path}: cannot read its pixels ({error_text(exc)})",
                           hint="the file is damaged: export it again, or move it out of the folder") from None


def _open_raster(path: Path, rel: str, skipped: list[Skipped]) -> rasterio.DatasetReader | None:
    """Open a GeoTIFF whose header and block table are sound; else record why it is skipped."""
    try:
        src = rasterio.open(path)
    except Exception as exc:  # noqa: BLE001 - rasterio raises several types for broken files
        skipped.append(Skipped(rel, f"unreadable GeoTIFF: {error_text(exc)}"))
        return None
    problem = truncation(src)
    if problem is not None:
        src.close()
        skipped.append(Skipped(rel, f"unreadable GeoTIFF: {problem}"))
        return None
    return src


def _is_01_mask(src: rasterio.DatasetReader, index: int) -> bool:
    h, w = src.height, src.width
    shape = (min(h, _SAMPLE_EDGE), min(w, _SAMPLE_EDGE))
    with _reading(Path(src.name)):
        data = src.read(index, out_shape=shape)
    values = np.unique(data)
    return values.size <= 2 and set(values.tolist()) <= {0, 1} and 1 in values


def _bands_from_names(names: list[str], landsat_tm: bool) -> list[str]:
    found: list[str] = []
    for tok in names:
        common = normalise_band_name(tok, landsat_tm=landsat_tm)
        if common is not None and common not in found:
            found.append(common)
    return found


def _decode_scl_candidate(path: Path, rel: str, found: list, skipped: list[Skipped]) -> None:
    """Accept an SCL colour rendering whose every pixel is a Sentinel Hub palette colour."""
    date = find_date(rel)
    if date is None:
        skipped.append(Skipped(rel, "no date (YYYY-MM-DD, YYYYMMDD or YYYY) in its path"))
        return
    src = _open_raster(path, rel, skipped)
    if src is None:
        return
    with src:
        if src.count != 3:
            skipped.append(Skipped(rel, f"SCL rendering with {src.count} bands (need RGB)"))
            return
        with _reading(path):
            codes = decode_scl_rendering(src.read())
        unknown = int((codes == 255).sum())
        if unknown:
            skipped.append(Skipped(
                rel, f"colour rendering with {unknown} pixels outside the Sentinel Hub SCL "
                "palette: cannot decode it into SCL classes"))
            return
        found.append((date[0], date[1], BandSource(
            band="scl", path=path, index=1, count=src.count, dtype="uint8", crs=src.crs,
            transform=src.transform, shape=(src.height, src.width), nodata=0,
            decode="scl-rendering")))


def scan_folder(
    folder: Path, *, band_order: list[str] | None = None, decode_scl: bool = False
) -> tuple[list[tuple[str, str, BandSource]], list[Skipped]]:
    """Recognise date and band of every GeoTIFF under ``folder``.

    Parameters
    ----------
    folder
        Folder holding ``<date>/<band>.tif``, ``<band>_<date>.tif``,
        ``<date>_<band>.tif`` or multi-band ``<date>.tif`` files (any depth).
    band_order
        Common band names of the bands of multi-band files, in file order
        (``["swir16", "nir", "red", "green"]``).
    decode_scl
        Decode Sentinel Hub / EO Browser SCL colour renderings (``SCL_rgbviz.tif``)
        back into SCL class codes when every pixel is a palette colour.

    Returns
    -------
    (found, skipped)
        ``found`` holds ``(date, date_kind, BandSource)`` tuples (``date_kind`` is
        ``"ymd"`` or ``"y"``), ``skipped`` the files not used with a reason.
    """
    found: list[tuple[str, str, BandSource]] = []
    skipped: list[Skipped] = []
    files = sorted(p for p in folder.rglob("*") if p.is_file())
    for path in files:
        rel = path.relative_to(folder).as_posix()
        if any(part.startswith(".") for part in Path(rel).parts):
            continue
        if path.suffix.lower() not in RASTER_SUFFIXES:
            if path.suffix.lower() in {".jp2", ".png", ".jpg", ".jpeg", ".nc", ".img"}:
                skipped.append(Skipped(rel, f"not a GeoTIFF ({path.suffix}); convert it to GeoTIFF"))
            continue
        word = _rendering_word(rel)
        if word is not None:
            is_scl = any(normalise_band_name(t) == "scl" for t in _tokens(Path(rel).stem))
            if decode_scl and is_scl:
                _decode_scl_candidate(path, rel, found, skipped)
                continue
            hint = " (pass --decode-scl-rendering to decode it into SCL classes)" if is_scl else ""
            skipped.append(Skipped(
                rel, f"colour rendering (name contains '{word}'), not measured values{hint}"))
            continue
        date = find_date(rel)
        if date is None:
            skipped.append(Skipped(rel, "no date (YYYY-MM-DD, YYYYMMDD or YYYY) in its path"))
            continue
        iso, kind, span = date
        rest = rel[: span[0]] + " " + rel[span[1]:]
        rest = re.sub(r"\.(tif|tiff|gtiff)$", "", rest, flags=re.IGNORECASE)
        src = _open_raster(path, rel, skipped)
        if src is None:
            continue
        with src:
            if src.crs is None or src.transform == Affine.identity():
                skipped.append(Skipped(rel, "no georeferencing (CRS or geotransform missing)"))
                continue
            landsat_tm = bool(re.search(r"L[TE]0[4-7]", rel))
            base = dict(
                path=path, count=src.count, crs=src.crs, transform=src.transform,
                shape=(src.height, src.width), nodata=src.nodata,
            )
            name_bands = _bands_from_names(_tokens(rest), landsat_tm)
            value_bands = [b for b in name_bands if b not in ("datamask",)]
            if len(value_bands) > 1:
                skipped.append(Skipped(
                    rel, f"name matches several bands ({', '.join(value_bands)}); rename it"))
                continue
            if value_bands:
                band = value_bands[0]
                if band == "scl" and src.count >= 3:
                    skipped.append(Skipped(
                        rel, "colour rendering of the scene classification "
                        f"({src.count} bands), not class codes"))
                    continue
                mask_index = None
                if src.count == 2 and _is_01_mask(src, 2):
                    mask_index = 2
                elif src.count > 1:
                    skipped.append(Skipped(
                        rel, f"named as one band ({band}) but holds {src.count} bands; "
                        "cannot tell which is the data (a colour rendering?)"))
                    continue
                found.append((iso, kind, BandSource(
                    band=band, index=1, dtype=src.dtypes[0], mask_index=mask_index,
                    meta_scale=float(src.scales[0]), meta_offset=float(src.offsets[0]),
                    **base)))
                continue
            if name_bands == ["datamask"]:
                found.append((iso, kind, BandSource(
                    band="datamask", index=1, dtype=src.dtypes[0], **base)))
                continue
            # No band name in the path: a multi-band stack.
            order = band_order
            how = "--band-order"
            if order is None:
                descr = [normalise_band_name(d) if d else None for d in src.descriptions]
                if all(descr) and len(set(descr)) == len(descr):
                    order, how = [str(d) for d in descr], "band descriptions"
            if order is None:
                skipped.append(Skipped(
                    rel, f"no recognisable band name in the file name and {src.count} "
                    "unnamed bands; give --band-order (e.g. swir16,nir,red,green)"))
                continue
            if src.count < len(order):
                skipped.append(Skipped(
                    rel, f"{how} names {len(order)} bands but the file has {src.count}"))
                continue
            mask_index = None
            if src.count == len(order) + 1 and _is_01_mask(src, src.count):
                mask_index = src.count
            elif src.count > len(order):
                skipped.append(Skipped(
                    rel, f"{how} names {len(order)} bands but the file has {src.count}; "
                    "name them all"))
                continue
            for i, band in enumerate(order, start=1):
                found.append((iso, kind, BandSource(
                    band=band, index=i, dtype=src.dtypes[i - 1], mask_index=mask_index,
                    meta_scale=float(src.scales[i - 1]), meta_offset=float(src.offsets[i - 1]),
                    **base)))
    return found, skipped


# -- value scale ------------------------------------------------------------------------


def _valid_sample(src_band: BandSource) -> np.ndarray:
    with _reading(src_band.path), rasterio.open(src_band.path) as src:
        shape = (min(src.height, _SAMPLE_EDGE), min(src.width, _SAMPLE_EDGE))
        data = src.read(src_band.index, out_shape=shape)
        valid = np.ones(shape, dtype=bool)
        if src_band.mask_index is not None:
            valid &= src.read(src_band.mask_index, out_shape=shape) > 0
    if src_band.nodata is not None and not math.isnan(src_band.nodata):
        valid &= data != src_band.nodata
    if np.issubdtype(data.dtype, np.integer):
        valid &= data != 0
        valid &= data != np.iinfo(data.dtype).max
    else:
        valid &= np.isfinite(data)
    return data[valid]


def detect_scale(sources: list[BandSource], *, max_files: int = 60) -> tuple[ValueScale, str]:
    """Choose the value scale of a set of band files and say why.

    Heuristic, in order:

    1. GeoTIFF metadata: every value band carries a scale/offset other than 1/0
       -> use it.
    2. Landsat Collection 2 names (``SR_B*``) -> ``landsat-c2``.
    3. ``uint8`` -> 8-bit quicklook, ``DN / 255`` (flagged: NOT reflectance).
    4. floating point with median <= 2 -> values are reflectance already.
    5. 16-bit integers: the median of the valid DNs (no-data, 0 and saturated
       values excluded, at most ``max_files`` files sampled) is above
       ``AUTO_65535_MEDIAN_DN`` (6000) -> reflectance x 65535 (a median
       reflectance of 0.6 at x 10000 would be snow or cloud everywhere), else
       reflectance x 10000 (Sentinel-2 L2A).

    Returns
    -------
    (ValueScale, str)
        The scale and a sentence saying how it was chosen.
    """
    values = [s for s in sources if s.band in COMMON_BANDS]
    if not values:
        raise CatalogError("no reflectance bands found to detect the value scale from")
    meta = {(s.meta_scale, s.meta_offset) for s in values}
    if len(meta) == 1 and meta != {(1.0, 0.0)}:
        sc, off = meta.pop()
        return (ValueScale("metadata", sc, off, True, "scale/offset from GeoTIFF metadata"),
                f"GeoTIFF metadata: every band says DN * {sc:g} + {off:g}")
    if any(re.search(r"SR_B\d", s.path.name, flags=re.IGNORECASE) for s in values):
        return SCALES["landsat-c2"], "Landsat Collection 2 band names (SR_B*)"
    dtypes = {s.dtype for s in values}
    if dtypes == {"uint8"}:
        return SCALES["255"], "8-bit data: a stretched quicklook, DN / 255 (not reflectance)"
    step = max(1, len(values) // max_files)
    sample = [_valid_sample(s) for s in values[::step]]
    sample = [a for a in sample if a.size]
    if not sample:
        raise CatalogError("every sampled band is empty (all no-data); cannot detect a scale",
                           hint="pass --scale")
    medians = np.array([float(np.median(a)) for a in sample])
    median = float(np.median(medians))
    if all(np.dtype(d).kind == "f" for d in dtypes):
        if median <= 2.0:
            return SCALES["1"], f"floating point values with median {median:.3f}: reflectance"
        raise CatalogError(
            f"floating point values with median {median:g} are not reflectance",
            hint="pass --scale N (reflectance = DN / N)")
    if median > AUTO_65535_MEDIAN_DN:
        return SCALES["65535"], (
            f"median valid DN {median:.0f} > {AUTO_65535_MEDIAN_DN}: reflectance x 65535 "
            f"(x 10000 would mean a median reflectance of {median / 1e4:.2f})")
    return SCALES["10000"], (
        f"median valid DN {median:.0f} <= {AUTO_65535_MEDIAN_DN}: reflectance x 10000 "
        "(Sentinel-2 L2A before processing baseline 04.00; pass --scale s2-pb04 for later ones)")


# -- catalog writing ----------------------------------------------------------------------


def _pixel_size_m(bs: BandSource) -> float:
    xres = abs(bs.transform.a)
    if bs.crs.is_geographic:
        lat = bs.transform.f + bs.transform.e * bs.shape[0] / 2
        return xres * 111_320.0 * math.cos(math.radians(lat))
    return xres * (bs.crs.linear_units_factor[1] if bs.crs.linear_units_factor else 1.0)


def _item_datetime(date: str, kind: str) -> tuple[dt.datetime, dict[str, str]]:
    if kind == "y":
        year = int(date)
        extra = {
            "start_datetime": f"{year:04d}-01-01T00:00:00Z",
            "end_datetime": f"{year:04d}-12-31T23:59:59Z",
        }
        return dt.datetime(year, 7, 2, 12, tzinfo=dt.timezone.utc), extra
    day = dt.date.fromisoformat(date)
    return dt.datetime(day.year, day.month, day.day, 12, tzinfo=dt.timezone.utc), {}


def _platform_from(paths: list[Path]) -> str | None:
    text = " ".join(p.as_posix() for p in paths)
    for pattern, name in (
        (r"S2A|Sentinel-2A", "sentinel-2a"), (r"S2B|Sentinel-2B", "sentinel-2b"),
        (r"S2C|Sentinel-2C", "sentinel-2c"), (r"LC09", "landsat-9"), (r"LC08", "landsat-8"),
        (r"LE07", "landsat-7"), (r"LT05", "landsat-5"),
    ):
        if re.search(pattern, text):
            return name
    return None


def _rel(target: Path, start: Path) -> str:
    return Path(os.path.relpath(target.resolve(), start.resolve())).as_posix()


def ingest_folder(
    folder: str | Path,
    out: str | Path,
    *,
    scale: str | None = None,
    band_order: list[str] | str | None = None,
    collection_id: str = "ingested",
    copy: bool = False,
    overwrite: bool = False,
    platform: str | None = None,
    decode_scl_rendering: bool = False,
    progress: ProgressFn | None = None,
) -> IngestReport:
    """Ingest a folder of per-date GeoTIFFs into a static STAC catalog.

    Parameters
    ----------
    folder
        Source folder (see :func:`scan_folder` for the layouts recognised).
    out
        Catalog folder to create; ``out/catalog.json`` is its root. It must not
        exist (or be empty) unless ``overwrite``.
    scale
        ``--scale`` value (see :func:`minewatch.imagery.sources.parse_scale`); ``None``
        auto-detects it (:func:`detect_scale`).
    band_order
        Band names of multi-band files, in file order (list or comma-separated).
    collection_id
        Id of the one Collection.
    copy
        Write every band as a COG inside ``out`` (a catalog that needs nothing
        outside it) instead of pointing at single-band originals in place.
    overwrite
        Replace an existing non-empty ``out``.
    platform
        ``platform`` property of every item; guessed from file names when ``None``.
    decode_scl_rendering
        Turn EO Browser SCL colour renderings into ``scl`` assets (class codes) when
        every pixel matches the Sentinel Hub palette; otherwise they are skipped.
    progress
        Called as ``progress(item_id, done, total)`` after each item.

    Returns
    -------
    IngestReport
        Also written to ``out/ingest_report.json``.

    Raises
    ------
    InputError
        The folder is missing or empty, or ``out`` exists.
    CatalogError
        No usable (date, band) file was found.
    """
    folder = Path(folder)
    out = Path(out)
    if not folder.is_dir():
        raise InputError(f"source folder {folder} does not exist or is not a folder")
    if out.exists() and (not out.is_dir() or any(out.iterdir())) and not overwrite:
        raise InputError(f"output {out} already exists and is not empty",
                         hint="choose another --out or pass --overwrite")
    if out.resolve() == folder.resolve() or folder.resolve() in out.resolve().parents:
        pass  # writing inside the source is allowed; the scan ignores hidden folders only
    order: list[str] | None = None
    if band_order:
        raw = band_order.split(",") if isinstance(band_order, str) else list(band_order)
        order = []
        for name in raw:
            common = normalise_band_name(name)
            if common is None:
                raise InputError(
                    f"--band-order: {name.strip()!r} is not a band name",
                    hint="use names like coastal, blue, green, red, nir, nir08, swir16, swir22 "
                    "or B02, B8A")
            order.append(common)
        if len(set(order)) != len(order):
            raise InputError(f"--band-order names a band twice: {','.join(order)}")

    found, skipped = scan_folder(folder, band_order=order, decode_scl=decode_scl_rendering)
    if not found:
        if not any(folder.rglob("*")):
            raise CatalogError(f"source folder {folder} is empty")
        reasons = Counter(s.reason.split(" (")[0].split(";")[0] for s in skipped)
        why = "; ".join(f"{n} x {r}" for r, n in reasons.most_common(3)) or "no GeoTIFF files"
        raise CatalogError(f"no usable GeoTIFF in {folder}: {why}",
                           hint="files need a date and a band name in their path "
                           "(e.g. 2020-01-31/B04.tif); see docs/ingest.md")

    # Group by date, dropping duplicates with a reason.
    by_date: dict[str, dict[str, BandSource]] = defaultdict(dict)
    kinds: dict[str, str] = {}
    for date, kind, bs in found:
        if bs.band in by_date[date]:
            first = by_date[date][bs.band].path.relative_to(folder).as_posix()
            skipped.append(Skipped(
                bs.path.relative_to(folder).as_posix(),
                f"duplicate {bs.band} for {date} (kept {first})"))
            continue
        by_date[date][bs.band] = bs
        kinds[date] = kind

    # Value scale.
    all_values = [bs for bands in by_date.values() for b, bs in bands.items()
                  if b in COMMON_BANDS]
    if not all_values:
        raise CatalogError(f"no reflectance band found in {folder} (only masks)")
    if scale is not None:
        vscale = parse_scale(scale)
        how = f"given: --scale {scale}"
    else:
        vscale, how = detect_scale(all_values)
    warnings: list[str] = []
    if not vscale.is_reflectance:
        warnings.append(
            "values are an 8-bit stretched rendering, NOT surface reflectance: indices "
            "are comparable only within one image, and thresholds tuned on reflectance "
            "do not apply")

    # Grid sizes: the majority pixel size, to flag dates exported at another resolution.
    finest = {d: min(_pixel_size_m(bs) for b, bs in bands.items() if b in COMMON_BANDS)
              for d, bands in by_date.items() if any(b in COMMON_BANDS for b in bands)}
    rounded = Counter(round(v) for v in finest.values())
    majority_m = rounded.most_common(1)[0][0] if rounded else None

    final = out.resolve()
    tmp = final.parent / f".mwingest-{os.getpid()}-{uuid.uuid4().hex[:8]}"  # no inner dots
    if tmp.exists():
        shutil.rmtree(tmp)
    tmp.mkdir(parents=True)
    report = IngestReport(
        source=str(folder), catalog=str(final / "catalog.json"), collection_id=collection_id,
        scale={"name": vscale.name, "scale": vscale.scale, "offset": vscale.offset,
               "is_reflectance": vscale.is_reflectance, "description": vscale.description,
               "how": how},
        skipped=skipped, warnings=warnings,
    )
    try:
        items = []
        dates = sorted(by_date)
        for n, date in enumerate(dates, start=1):
            bands = by_date[date]
            if not any(b in COMMON_BANDS for b in bands):
                for bs in bands.values():
                    skipped.append(Skipped(bs.path.relative_to(folder).as_posix(),
                                           f"{date} has a mask but no reflectance band"))
                continue
            item, info = _build_item(
                date, kinds[date], bands, folder=folder, final=final, tmp=tmp,
                collection_id=collection_id, vscale=vscale, copy=copy, platform=platform,
                majority_m=majority_m,
            )
            items.append(item)
            report.items.append(info)
            if progress is not None:
                progress(item.id, n, len(dates))
        if not items:
            raise CatalogError(f"no date in {folder} has a reflectance band")
        _write_catalog(items, tmp=tmp, collection_id=collection_id, source=folder,
                       vscale=vscale)
        (tmp / "ingest_report.json").write_text(json.dumps(report.to_dict(), indent=2))
        if out.exists():
            shutil.rmtree(out)
        tmp.replace(final)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return report


def _build_item(
    date: str, kind: str, bands: dict[str, BandSource], *, folder: Path, final: Path,
    tmp: Path, collection_id: str, vscale: ValueScale, copy: bool, platform: str | None,
    majority_m: int | None,
) -> tuple[pystac.Item, dict[str, Any]]:
    item_id = date
    item_dir_final = final / collection_id / item_id
    item_dir_tmp = tmp / collection_id / item_id
    when, extra = _item_datetime(date, kind)
    warnings: list[str] = []

    # Footprint from the union of the band extents, in WGS84.
    boxes = []
    for bs in bands.values():
        west, south, east, north = array_bounds(bs.shape[0], bs.shape[1], bs.transform)
        boxes.append(transform_bounds(bs.crs, "EPSG:4326", west, south, east, north))
    bbox = [min(b[0] for b in boxes), min(b[1] for b in boxes),
            max(b[2] for b in boxes), max(b[3] for b in boxes)]
    geometry = {"type": "Polygon", "coordinates": [[
        [bbox[0], bbox[1]], [bbox[2], bbox[1]], [bbox[2], bbox[3]], [bbox[0], bbox[3]],
        [bbox[0], bbox[1]]]]}
    props: dict[str, Any] = {"minewatch:source": folder.name, **extra}
    plat = platform or _platform_from([bs.path for bs in bands.values()])
    if plat:
        props["platform"] = plat
    item = pystac.Item(item_id, geometry, bbox, when, props,
                       stac_extensions=list(STAC_EXTENSIONS), collection=collection_id)

    value_bands = {b: bs for b, bs in bands.items() if b in COMMON_BANDS}
    first = next(iter(value_bands.values()))
    code = proj_fields(first.crs, first.transform, first.shape).get("proj:code")
    if code:
        item.properties["proj:code"] = code
        item.properties["proj:epsg"] = int(code.split(":")[1])

    masks: list[tuple[BandSource, np.ndarray]] = []
    saturated: list[str] = []
    for band in sorted(bands, key=lambda b: (COMMON_BANDS + ("scl", "qa_pixel", "datamask")).index(b)
                       if b in COMMON_BANDS + ("scl", "qa_pixel", "datamask") else 99):
        bs = bands[band]
        with _reading(bs.path), rasterio.open(bs.path) as src:
            data = decode_scl_rendering(src.read()) if bs.decode else src.read(bs.index)
            mask = src.read(bs.mask_index) if bs.mask_index is not None else None
        if band == "datamask":
            masks.append((bs, (data > 0).astype("uint8")))
            continue
        if mask is not None:
            masks.append((bs, (mask > 0).astype("uint8")))
        is_value = band in COMMON_BANDS
        nodata = bs.nodata
        if nodata is None and is_value and np.issubdtype(data.dtype, np.integer):
            nodata = 0
        if is_value and np.issubdtype(data.dtype, np.integer) and data.dtype.itemsize >= 2:
            valid = data != (nodata if nodata is not None else -1)
            if mask is not None:
                valid &= mask > 0
            top = np.iinfo(data.dtype).max
            if valid.any():
                frac = float((data[valid] == top).mean())
                if frac >= 0.05:
                    saturated.append(f"{band} {frac:.0%}")
        in_place = (not copy and bs.decode is None and bs.index == 1
                    and (bs.count == 1 or bs.mask_index == 2))
        if in_place:
            href = _rel(bs.path, item_dir_final)
        else:
            name = f"{band}.tif"
            write_cog(item_dir_tmp / name, data, crs=bs.crs, transform=bs.transform,
                      nodata=nodata)
            href = name
        if is_value:
            rb = raster_band(str(data.dtype), nodata=nodata, scale=vscale.scale,
                             offset=vscale.offset)
            roles = ["data", "reflectance"]
        else:
            rb = raster_band(str(data.dtype), nodata=nodata)
            roles = ["data", "cloud"] if band in ("scl", "qa_pixel") else ["data"]
        extra_fields: dict[str, Any] = {
            **proj_fields(bs.crs, bs.transform, bs.shape),
            "raster:bands": [rb],
            "minewatch:source_file": bs.path.relative_to(folder).as_posix(),
        }
        if bs.decode:
            extra_fields["minewatch:decoded_from"] = "Sentinel Hub SCL colour rendering"
        elif bs.count > 1:
            extra_fields["minewatch:source_band"] = bs.index
        if in_place:
            extra_fields["minewatch:band_index"] = bs.index  # read by imagery.catalog
        if is_value:
            extra_fields["eo:bands"] = [{"name": band, "common_name": band}]
        item.add_asset(band, pystac.Asset(
            href=href, media_type=pystac.MediaType.COG if not in_place else pystac.MediaType.GEOTIFF,
            roles=roles, extra_fields=extra_fields))

    if masks:
        ref = masks[0][0]
        same = [m for bs, m in masks if bs.shape == ref.shape and bs.transform == ref.transform]
        combined = np.logical_and.reduce(same).astype("uint8")
        if len(same) < len(masks):
            warnings.append("data masks on different grids: datamask uses the first band's grid")
        write_cog(item_dir_tmp / "datamask.tif", combined, crs=ref.crs, transform=ref.transform)
        item.add_asset("datamask", pystac.Asset(
            href="datamask.tif", media_type=pystac.MediaType.COG, roles=["data", "data-mask"],
            extra_fields={**proj_fields(ref.crs, ref.transform, ref.shape),
                          "raster:bands": [raster_band("uint8", nodata=None)]}))
        valid_frac = float(combined.mean())
    else:
        warnings.append("no data mask: no-data taken from DN 0")
        valid_frac = None

    pixel_m = min(_pixel_size_m(bs) for bs in value_bands.values())
    if majority_m and abs(pixel_m - majority_m) / majority_m > 0.4:
        warnings.append(
            f"exported at about {pixel_m:.0f} m while most dates are about {majority_m} m; "
            "kept on its own grid (the loader resamples it)")
    if saturated:
        warnings.append("saturated pixels (cloud or glare?): " + ", ".join(saturated))
    info = {
        "id": item_id,
        "datetime": when.isoformat().replace("+00:00", "Z"),
        "bands": sorted(value_bands, key=COMMON_BANDS.index),
        "datamask": bool(masks),
        "valid_fraction": None if valid_frac is None else round(valid_frac, 4),
        "pixel_size_m": round(pixel_m, 1),
        "shape": list(first.shape),
        "warnings": warnings,
    }
    return item, info


def _write_catalog(items: list[pystac.Item], *, tmp: Path, collection_id: str, source: Path,
                   vscale: ValueScale) -> None:
    bboxes = [it.bbox for it in items]
    spatial = [min(b[0] for b in bboxes), min(b[1] for b in bboxes),
               max(b[2] for b in bboxes), max(b[3] for b in bboxes)]
    times = sorted(it.datetime for it in items)
    collection = pystac.Collection(
        id=collection_id,
        description=f"Imagery ingested by minewatch from {source.name}: {vscale.description}",
        extent=pystac.Extent(pystac.SpatialExtent([spatial]),
                             pystac.TemporalExtent([[times[0], times[-1]]])),
        license="other",
        stac_extensions=list(STAC_EXTENSIONS),
    )
    collection.extra_fields["minewatch:scale"] = {"name": vscale.name, "scale": vscale.scale,
                                                  "offset": vscale.offset,
                                                  "is_reflectance": vscale.is_reflectance}
    collection.add_items(items)
    catalog = pystac.Catalog(id="minewatch", description=f"minewatch catalog of {source.name}")
    catalog.add_child(collection)
    catalog.normalize_hrefs(str(tmp))
    catalog.save(catalog_type=pystac.CatalogType.SELF_CONTAINED)
