"""One monitoring run: catalog + licences (+ receptors, DEM) in; onset raster, summary and report out.

This is the batch contract behind ``minewatch analyze`` (see docs/batch-contract.md).
It orchestrates pure core functions; it knows nothing of the CLI or the web.

Data flow::

    catalog ──► items (history | monitored) ──► analysis grid
        for each tile:  load bands ─► screen clouds/shadows/snow ─► indices
                        ─► change engine + mining rules ─► onset, confidence, composites
    onset ──► small-patch cleanup ──► licence check ──► alerts ──► downstream receptors
          ──► disturbance_date.tif, confidence.tif, alerts.geojson, summary.json, report.html
"""

from __future__ import annotations

import datetime as dt
import json
import platform
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import rasterio

from minewatch import __version__
from minewatch.analysis import compliance as comp
from minewatch.analysis.alerts import build_alerts
from minewatch.analysis.disturbance import DisturbanceParams, clean_small_patches, map_tile
from minewatch.analysis.indices import change_stack
from minewatch.atomic import atomic_path, write_text
from minewatch.errors import DataError, InputError
from minewatch.imagery.catalog import SceneItem, check_bands, open_catalog
from minewatch.imagery.load import Grid, analysis_grid, load_tile, require_overlap
from minewatch.imagery.masks import CLEAR, NODATA, screen_tile

Progress = Callable[[str, int, int], None]

REFLECTANCE_BANDS = ("blue", "green", "red", "nir", "swir16", "swir22")
#: Bands the analysis cannot do without; a missing green band is replaced by blue (see notes).
REQUIRED_BANDS = ("blue", "red", "nir", "swir16", "swir22")
MASK_BANDS = ("scl", "qa_pixel", "datamask")
COMPOSITE_BANDS = ("red", "green", "blue", "swir22", "nir")
MIN_HISTORY_DAYS = 300
#: How far from a downstream flow path a receptor of each kind may lie and still be on it:
#: a village is an area of houses beside the river (its edge, not its centre point, is on
#: the bank); intakes, wells and springs are points (hydrology's default, max(60 m, 3 cells)).
RECEPTOR_SNAP_M = {"village": 250.0, "settlement": 250.0, "town": 250.0}


@dataclass
class AnalysisRequest:
    """Everything one run needs; see docs/batch-contract.md."""

    catalog: Path
    out: Path
    start: dt.date
    end: dt.date
    licences: Path | None = None
    receptors: Path | None = None
    dem: Path | None = None
    params: DisturbanceParams = field(default_factory=DisturbanceParams)
    tile_size: int = 512  # pixels; COGs are usually tiled in 512 px blocks, read each once
    backend: str = "auto"
    max_flow_distance_m: float = 20_000.0
    licence_periods: list[comp.LicencePeriod] | None = None  # instead of a licences file
    receptor_list: list[comp.Receptor] | None = None  # instead of a receptors file
    site: str | None = None  # registry site id, when licences come from a registry
    # evidence (minewatch.evidence): DIR/evidence/, report language, signing, PDF
    evidence: bool = True
    lang: str = "en"
    sign_key: Path | None = None
    pdf: bool = False
    # water (minewatch.analysis.water.run_section): field samples and the river signal
    samples: Path | None = None  # lab file
    samples_mapping: str | None = None  # column-mapping name or file
    standard: str = "WHO-GDWQ-2022"
    sample_check: dict | None = None  # the samples already imported (the CLI validates them first)
    river_signal: bool = True


@dataclass
class RunArrays:
    """Full-grid results kept in memory for the outputs and the report."""

    grid: Grid
    onset: np.ndarray
    confidence: np.ndarray
    before: np.ndarray  # (5, h, w) median composite of COMPOSITE_BANDS, last history year
    after: np.ndarray  # same, last monitored year
    clear_share: list[float]
    onset_outside: np.ndarray | None = None  # bool: disturbed outside any valid licence at onset
    footprint: np.ndarray | None = None  # uint8: 0 other, 1 bare ground, 2 open water (last year)
    alert_raster: np.ndarray | None = None  # int32 alert number (A0001 -> 1), 0 = none
    #: When the whole grid is one tile: (window, bands as loaded, clear mask), so the alert
    #: evidence reuses the pixels instead of reading every file again.
    tile_cache: tuple | None = None
    water_chart: bytes | None = None  # PNG of the river signal (NDTI along the river)


def _noop(step: str, done: int, total: int) -> None:
    return None


def split_period(items: list[SceneItem], start: dt.date, end: dt.date, where: str):
    """Items up to ``end``; history = before ``start``. Clear errors for empty parts."""
    if end < start:
        raise InputError(f"--end {end} is before --start {start}")
    used = [it for it in items if it.date <= end]
    history = [it for it in used if it.date < start]
    monitored = [it for it in used if it.date >= start]
    if not monitored:
        first, last = items[0].date, items[-1].date
        raise DataError(
            f"{where}: no scene between {start} and {end} (the catalog covers {first} .. {last})",
            hint="choose --start/--end inside the catalog's period",
        )
    if not history:
        raise DataError(
            f"{where}: no scene before --start {start}; the history period is empty",
            hint=f"the change model needs about a year of scenes before --start; the catalog starts "
            f"{items[0].date}",
        )
    return used, history, monitored


def _composite(bands: dict[str, np.ndarray], clear: np.ndarray, sel: np.ndarray) -> np.ndarray:
    out = []
    for name in COMPOSITE_BANDS:
        vals = np.where(clear[sel], bands[name][sel], np.nan)
        with np.errstate(all="ignore"):
            import warnings

            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)
                out.append(np.nanmedian(vals, axis=0))
    return np.stack(out).astype(np.float32)


def _process(items: list[SceneItem], grid: Grid, req: AnalysisRequest, progress: Progress) -> RunArrays:
    days = np.array([it.day for it in items], np.int64)
    start_day = comp.to_day(req.start)
    end_day = comp.to_day(req.end)
    h, w = grid.shape
    onset = np.zeros((h, w), np.int32)
    confidence = np.zeros((h, w), np.float32)
    before = np.full((len(COMPOSITE_BANDS), h, w), np.nan, np.float32)
    after = np.full_like(before, np.nan)
    clear_count = np.zeros(len(items), np.int64)
    valid_count = np.zeros(len(items), np.int64)
    present = {b for it in items for b in it.assets}
    bands = [b for b in REFLECTANCE_BANDS + MASK_BANDS if b in present]
    sel_before = (days < start_day) & (days >= start_day - 365)
    sel_after = (days <= end_day) & (days > end_day - 365)
    tiles = list(grid.tiles(req.tile_size))
    for i, window in enumerate(tiles):
        progress("analysing tiles", i, len(tiles))
        data = load_tile(items, bands, grid, window)
        status = screen_tile(items, data)
        clear = status == CLEAR
        clear_count += clear.reshape(len(items), -1).sum(axis=1)
        valid_count += (status != NODATA).reshape(len(items), -1).sum(axis=1)
        stack = change_stack(data)
        stack[~np.broadcast_to(clear[:, None], stack.shape)] = np.nan
        tile = map_tile(stack, days, start_day, end_day, req.params, backend=req.backend)
        rows = slice(int(window.row_off), int(window.row_off + window.height))
        cols = slice(int(window.col_off), int(window.col_off + window.width))
        onset[rows, cols] = tile.onset
        confidence[rows, cols] = tile.confidence
        before[:, rows, cols] = _composite(data, clear, sel_before)
        after[:, rows, cols] = _composite(data, clear, sel_after)
    progress("analysing tiles", len(tiles), len(tiles))
    cache = (tiles[0], data, clear) if len(tiles) == 1 else None
    onset = clean_small_patches(onset, req.params.min_area_px)
    confidence[onset == 0] = 0
    share = [float(c) / v if v else 0.0 for c, v in zip(clear_count, valid_count, strict=True)]
    return RunArrays(grid, onset, confidence, before, after, share, tile_cache=cache)


def surface_footprint(composite: np.ndarray) -> np.ndarray:
    """Bare ground / open water in a (COMPOSITE_BANDS, h, w) median composite: 0 other, 1 bare, 2 water."""
    red, nir = composite[COMPOSITE_BANDS.index("red")], composite[COMPOSITE_BANDS.index("nir")]
    with np.errstate(all="ignore"):
        ndvi = (nir - red) / (nir + red)
    out = np.zeros(red.shape, np.uint8)
    out[ndvi < 0.2] = 1
    out[(nir < 0.05) & (ndvi < 0)] = 2
    return out


def _write_raster(path: Path, array: np.ndarray, grid: Grid, nodata=None, **tags) -> None:
    profile = dict(
        driver="GTiff", width=grid.width, height=grid.height, count=1, dtype=array.dtype.name,
        crs=grid.crs, transform=grid.transform, compress="deflate", tiled=True,
        blockxsize=256, blockysize=256,
    )
    if nodata is not None:
        profile["nodata"] = nodata
    with atomic_path(path) as tmp:
        with rasterio.open(tmp, "w", **profile) as dst:
            dst.write(array, 1)
            dst.update_tags(**tags)


def _load_licences(req: AnalysisRequest) -> list[comp.LicencePeriod]:
    if req.licence_periods is not None:
        return req.licence_periods
    if req.licences is None:
        raise InputError("no licences given", hint="pass --licences LICENCES.geojson or --registry URL --site ID")
    return comp.read_licences(req.licences)


def _load_receptors(req: AnalysisRequest) -> list[comp.Receptor]:
    if req.receptor_list is not None:
        return req.receptor_list
    return comp.read_receptors(req.receptors) if req.receptors else []


def _union_bounds(geoms, grid: Grid) -> tuple[float, float, float, float]:
    import shapely

    g = comp.geometry_to_grid(shapely.union_all(list(geoms)), grid)
    return g.bounds


def _check_dem(path: Path, grid: Grid) -> None:
    from rasterio.errors import RasterioIOError
    from rasterio.warp import transform_bounds

    try:
        with rasterio.open(path) as src:
            if src.crs is None:
                raise InputError(f"DEM {path}: the raster has no CRS", hint="georeference the DEM")
            bounds = transform_bounds(src.crs, grid.crs, *src.bounds)
    except RasterioIOError as exc:
        raise InputError(f"DEM {path}: cannot be read as a raster ({exc})") from None
    require_overlap(grid, bounds, f"DEM ({path})")


def _area_timeline(onset: np.ndarray, outside: np.ndarray, px_ha: float) -> list[dict]:
    """Cumulative new disturbed area by month, inside and outside valid licences."""
    if not (onset > 0).any():
        return []
    months = onset.astype("int64").astype("datetime64[D]").astype("datetime64[M]")
    rows = []
    disturbed = onset > 0
    for month in np.unique(months[disturbed]):
        upto = disturbed & (months <= month)
        rows.append({
            "month": str(month),
            "total_ha": round(float(upto.sum() * px_ha), 4),
            "outside_licence_ha": round(float((upto & outside).sum() * px_ha), 4),
        })
    return rows


def run_analysis(req: AnalysisRequest, progress: Progress | None = None) -> dict:
    """Run one monitoring analysis and write its outputs into ``req.out``; return the summary."""
    progress = progress or _noop
    started = dt.datetime.now(dt.timezone.utc)
    items = open_catalog(req.catalog)
    where = str(req.catalog)
    used, history, monitored = split_period(items, req.start, req.end, where)
    check_bands(used, REQUIRED_BANDS, where)
    periods = _load_licences(req)
    receptors = _load_receptors(req)
    grid = analysis_grid(used)
    require_overlap(grid, _union_bounds([p.geometry for p in periods], grid),
                    f"licences ({req.licences or 'registry'})")
    if req.dem is not None:
        _check_dem(req.dem, grid)
    if req.samples is not None and req.sample_check is None:  # a bad lab file fails before the analysis
        from minewatch.analysis.water.run_section import import_run_samples

        req.sample_check = import_run_samples(req.samples, req.samples_mapping, standard=req.standard)
    history_days = (req.start - history[0].date).days
    notes: list[str] = []
    if not any("green" in it.assets for it in used):
        notes.append("the catalog has no green band: blue stands in for green in the water index (MNDWI), "
                     "the snow test and the true-colour pictures")
    if history_days < MIN_HISTORY_DAYS:
        notes.append(f"only {history_days} days of history before {req.start}: seasonal model is weak")

    arrays = _process(used, grid, req, progress)
    result = comp.check_compliance(arrays.onset, periods, grid)
    alerts, alert_raster = build_alerts(arrays.onset, arrays.confidence, result, periods, grid)
    arrays.alert_raster = alert_raster
    arrays.onset_outside = result.outside

    px_ha = grid.pixel_area_m2() / 10_000.0
    disturbed = arrays.onset > 0
    risk = None
    if req.dem is not None and alerts:
        progress("tracing downstream", 0, 1)
        from minewatch.analysis.water_risk import receptors_downstream

        risk = receptors_downstream(
            req.dem,
            [(a["alert_id"], a["geometry_obj"]) for a in alerts],
            [{"receptor_id": r.receptor_id, "kind": r.kind, "name": r.name, "geometry": r.geometry}
             for r in receptors],
            max_distance_m=req.max_flow_distance_m,
            snap_distance_m=RECEPTOR_SNAP_M,
        )
        progress("tracing downstream", 1, 1)
    elif req.dem is None and receptors:
        notes.append("receptors given without --dem: downstream tracing skipped")

    water = _water_section(req, used, grid, alerts, periods, arrays, progress)
    footprint = surface_footprint(arrays.after)
    arrays.footprint = footprint
    any_licence = np.logical_or.reduce(list(result.inside_masks.values()))
    licence_rows = []
    for lid in dict.fromkeys(p.licence_id for p in periods):
        p = [q for q in periods if q.licence_id == lid][-1]  # newest version
        mask = result.inside_masks[lid]
        licence_rows.append({
            "licence_id": lid,
            "holder": p.holder,
            "commodity": p.commodity,
            "status": p.status,
            "disturbed_area_ha": round(float((disturbed & mask).sum() * px_ha), 4),
            "footprint_ha": round(float(((footprint > 0) & mask).sum() * px_ha), 4),
            "authorised_disturbed_area_ha": round(
                float(sum(((result.period_index == k) & disturbed).sum() for k, q in enumerate(periods)
                          if q.licence_id == lid) * px_ha), 4),
        })

    first = int(arrays.onset[disturbed].min()) if disturbed.any() else None
    summary = {
        "minewatch_version": __version__,
        "catalog": str(req.catalog),
        "site": req.site,
        "period": {"history_start": history[0].date.isoformat(), "start": req.start.isoformat(),
                   "end": req.end.isoformat()},
        "grid": {"crs": grid.crs.to_string(), "resolution_m": grid.res, "width": grid.width,
                 "height": grid.height, "pixel_area_m2": round(grid.pixel_area_m2(), 3)},
        "disturbance": {
            "total_area_ha": round(float(disturbed.sum() * px_ha), 4),
            "outside_licence_area_ha": round(float(result.outside.sum() * px_ha), 4),
            "first_date": comp.from_day(first).isoformat() if first else None,
            "n_alerts": len(alerts),
            "timeline": _area_timeline(arrays.onset, result.outside, px_ha),
        },
        "footprint": {
            "definition": "bare ground (NDVI < 0.2) or open water (NIR < 0.05 and NDVI < 0) in the median "
                          "of clear observations of the last monitored year: the mine as it stands, with any "
                          "natural bare ground or water in the scene",
            "bare_ha": round(float((footprint == 1).sum() * px_ha), 4),
            "water_ha": round(float((footprint == 2).sum() * px_ha), 4),
            "inside_licences_ha": round(float(((footprint > 0) & any_licence).sum() * px_ha), 4),
            "outside_licences_ha": round(float(((footprint > 0) & ~any_licence).sum() * px_ha), 4),
        },
        "licences": licence_rows,
        "alerts": [{k: v for k, v in a.items() if k != "geometry_obj"} for a in alerts],
        "receptors_at_risk": [] if risk is None else [
            {"receptor_id": r["receptor_id"], "kind": r["kind"], "name": r.get("name"),
             "flow_distance_m": round(float(r["flow_distance_m"]), 1),
             "travel_time_h": r.get("travel_time_h"), "alert_ids": list(r["alert_ids"])}
            for r in risk.receptors
        ],
        "receptors_checked": [r.receptor_id for r in receptors],
        "water": water,
        "scenes_used": [
            {"id": it.id, "date": it.date.isoformat(), "role": "history" if it.date < req.start else "monitored",
             "clear_share": round(s, 3), "platform": it.platform}
            for it, s in zip(used, arrays.clear_share, strict=True)
        ],
        "parameters": {"disturbance": req.params.as_dict(), "tile_size": req.tile_size,
                       "max_flow_distance_m": req.max_flow_distance_m, "backend": req.backend},
        "notes": notes,
        "run": {"started": started.isoformat(timespec="seconds"),
                "finished": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
                "python": platform.python_version(), "numpy": np.__version__,
                "rasterio": rasterio.__version__, "gdal": rasterio.__gdal_version__},
    }
    _write_outputs(req, summary, arrays, alerts, risk, periods, receptors)
    if req.evidence:
        from minewatch.evidence import write_evidence

        write_evidence(req, summary, used, arrays, alerts, risk, periods, receptors, progress)
    return summary


def _water_section(req: AnalysisRequest, used, grid: Grid, alerts, periods, arrays: RunArrays,
                   progress: Progress) -> dict:
    """``summary["water"]``: field samples (when given) and the river signal (needs a DEM)."""
    import shapely

    from minewatch.analysis.water.run_section import river_signal_section, samples_section

    water: dict = {"samples": samples_section(req.sample_check) if req.sample_check is not None else None}
    if req.river_signal:
        geoms = [a["geometry_obj"] for a in alerts] or [p.geometry for p in periods]
        source = shapely.union_all(geoms) if geoms else None
        water["river_signal"], arrays.water_chart = river_signal_section(
            used, grid, req.dem, source, monitored_from=req.start, max_distance_m=req.max_flow_distance_m,
            progress=progress)
    return water


def _write_outputs(req, summary, arrays: RunArrays, alerts, risk, periods, receptors) -> None:
    from minewatch.reports.html import render_report

    out = req.out
    out.mkdir(parents=True, exist_ok=True)
    grid = arrays.grid
    _write_raster(out / "disturbance_date.tif", arrays.onset, grid, nodata=None,
                  DESCRIPTION="onset of new mining disturbance, days since 1970-01-01, 0 = none")
    _write_raster(out / "confidence.tif", arrays.confidence, grid,
                  DESCRIPTION="confidence of the disturbance call, 0..1")
    _write_raster(out / "footprint.tif", arrays.footprint, grid,
                  DESCRIPTION="surface in the last monitored year: 0 other, 1 bare ground, 2 open water")
    features = [{"type": "Feature", "properties": {k: v for k, v in a.items() if k not in ("geometry", "geometry_obj")},
                 "geometry": a["geometry"]} for a in alerts]
    write_text(out / "alerts.geojson", json.dumps({"type": "FeatureCollection", "features": features}, indent=1))
    if not req.evidence:  # else minewatch.evidence writes it, with provenance, in req.lang
        write_text(out / "report.html", render_report(summary, arrays, alerts, risk, periods, receptors))
    write_text(out / "summary.json", json.dumps(summary, indent=2, ensure_ascii=False))
