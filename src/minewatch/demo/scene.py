"""Generate the synthetic demo scene: a Sentinel-2 L2A STAC catalog, licences,
receptors, a DEM and the ground truth, deterministically from a seed.

See docs/demo-scene.md for what the scene contains and how the truth is computed.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pystac
import rasterio
import shapely

from minewatch.demo import layout as L
from minewatch.demo import scenarios
from minewatch.demo.atmosphere import (
    Climate, apply_atmosphere, atmosphere, downsample_state, draw_weather, simulate_scl)
from minewatch.demo.geo import (
    BASELINE_04_DATE, Grid, acquisition_dates, mgrs_tile, parse_date)
from minewatch.demo.noise import block_mean
from minewatch.demo.spectra import BANDS, IDX10, IDX20
from minewatch.errors import InputError

COLLECTION_ID = "sentinel-2-l2a"
NOISE_SIGMA = 0.006  # sensor noise, reflectance units
MARKER = "scene.json"
GENERATOR_VERSION = "1"

_EXT = [
    "https://stac-extensions.github.io/eo/v1.1.0/schema.json",
    "https://stac-extensions.github.io/projection/v1.2.0/schema.json",
    "https://stac-extensions.github.io/raster/v1.1.0/schema.json",
    "https://stac-extensions.github.io/view/v1.0.0/schema.json",
    "https://stac-extensions.github.io/mgrs/v1.0.0/schema.json",
    "https://stac-extensions.github.io/grid/v1.1.0/schema.json",
]
_FWHM = {"B02": 0.098, "B03": 0.045, "B04": 0.038, "B05": 0.019, "B06": 0.018, "B07": 0.028,
         "B08": 0.145, "B8A": 0.033, "B11": 0.143, "B12": 0.242}


@dataclass(frozen=True)
class DemoScene:
    """Paths and facts of a generated demo scene (all paths absolute)."""

    root: Path
    catalog: Path
    licences: Path
    receptors: Path
    dem: Path
    truth_dir: Path
    crs: str
    n_items: int
    monitor_start: str = "2020-01-01"
    monitor_end: str = "2024-12-31"
    scenario: str = "default"


def _scene_paths(root: Path, crs: str, n_items: int, spec: scenarios.ScenarioSpec) -> DemoScene:
    return DemoScene(root=root, catalog=root / "catalog" / "catalog.json",
                     licences=root / "licences.geojson", receptors=root / "receptors.geojson",
                     dem=root / "dem.tif", truth_dir=root / "truth", crs=crs, n_items=n_items,
                     monitor_start=spec.monitor_start, monitor_end=spec.monitor_end, scenario=spec.name)


def _check_args(seed: int, size_px: int, cadence_days: int, start: dt.date, end: dt.date) -> None:
    if not isinstance(seed, (int, np.integer)) or isinstance(seed, bool) or seed < 0:
        raise InputError(f"seed={seed!r} is not usable for the demo scene", hint="use a whole number >= 0")
    if not isinstance(size_px, int) or size_px < 60 or size_px % 4:
        raise InputError(f"size_px={size_px!r} is not usable for the demo scene",
                         hint="use a multiple of 4 between 60 and 2000 (default 400)")
    if size_px > 2000:
        raise InputError(f"size_px={size_px} is too large for the demo scene", hint="use at most 2000")
    if not isinstance(cadence_days, int) or cadence_days < 1:
        raise InputError(f"cadence_days={cadence_days!r} must be a positive whole number of days")
    if end < start:
        raise InputError(f"demo period ends ({end}) before it starts ({start})",
                         hint="give start <= end as YYYY-MM-DD")
    if start.year < 2010 or end.year > 2030:
        raise InputError(f"demo period {start}..{end} is outside the modelled years 2010-2030")


def _prepare_out_dir(out_dir: Path) -> None:
    if out_dir.exists():
        if not out_dir.is_dir():
            raise InputError(f"demo output {out_dir} exists and is not a directory",
                             hint="choose another --out path")
        entries = list(out_dir.iterdir())
        if entries and not (out_dir / MARKER).exists():
            raise InputError(f"demo output directory {out_dir} is not empty and holds no earlier demo scene",
                             hint="choose an empty or new directory")


def _write_tif(path: Path, arr: np.ndarray, transform, nodata, cog: bool = True, crs: str = "EPSG:32644") -> None:
    prof = dict(driver="COG" if cog else "GTiff", width=arr.shape[1], height=arr.shape[0], count=1,
                dtype=arr.dtype.name, crs=crs, transform=transform, nodata=nodata,
                compress="deflate")
    if cog:
        prof.update(overviews="NONE", level=1, predictor=2 if arr.dtype.kind in "ui" else 3)
    else:
        prof.update(tiled=True, blockxsize=256, blockysize=256)
    with rasterio.open(path, "w", **prof) as dst:
        dst.write(arr, 1)


def _geojson(path: Path, features: list[dict]) -> None:
    path.write_text(json.dumps({"type": "FeatureCollection", "features": features}, indent=1) + "\n")


def _write_vectors(root: Path, lay: L.Layout) -> None:
    feats = []
    for lic in lay.licences:
        ring = L.design_ring_to_lonlat(lay, lic.ring)
        if L.signed_ring_area(ring) < 0:  # RFC 7946: exterior rings counter-clockwise
            ring = ring[::-1]
        feats.append({"type": "Feature",
                      "properties": {"licence_id": lic.licence_id, "holder": lic.holder,
                                     "commodity": lic.commodity, "status": lic.status,
                                     "valid_from": lic.valid_from, "valid_to": lic.valid_to},
                      "geometry": {"type": "Polygon", "coordinates": [ring]}})
    _geojson(root / "licences.geojson", feats)
    feats = []
    for r in lay.receptors:
        (lon, lat), = L.design_ring_to_lonlat(lay, [r.xy])
        feats.append({"type": "Feature",
                      "properties": {"receptor_id": r.receptor_id, "kind": r.kind, "name": r.name},
                      "geometry": {"type": "Point", "coordinates": [lon, lat]}})
    _geojson(root / "receptors.geojson", feats)


def _asset(key: str, band: str, res: int, shape: tuple[int, int], transform, offset: float,
           common: str, wl: int) -> pystac.Asset:
    extra = {
        "proj:shape": list(shape),
        "proj:transform": [transform.a, transform.b, transform.c, transform.d, transform.e, transform.f],
        "raster:bands": [{"nodata": 0, "data_type": "uint16", "bits_per_sample": 15,
                          "spatial_resolution": res, "scale": 0.0001, "offset": offset}],
        "eo:bands": [{"name": band, "common_name": common, "center_wavelength": wl / 1000.0,
                      "full_width_half_max": _FWHM[band]}],
        "gsd": res,
    }
    return pystac.Asset(f"./{band}.tif", title=f"{band} ({common}) - {res}m", media_type=pystac.MediaType.COG,
                        roles=["data"], extra_fields=extra)


def generate_scene(out_dir: Path, seed: int = 7, start: str | None = None, end: str | None = None,
                   cadence_days: int | None = None, size_px: int | None = None, progress: bool = False,
                   scenario: str = "default") -> DemoScene:
    """Generate a synthetic demo scene under ``out_dir``.

    Parameters
    ----------
    out_dir : directory to create (or an earlier demo scene to replace); must
        otherwise be new or empty.
    seed : random seed; the same seed gives byte-identical files.
    start, end : first and last possible acquisition date (YYYY-MM-DD).
    cadence_days : days between acquisitions (platforms alternate S2A / S2B).
    size_px : scene size in 10 m pixels (multiple of 4, >= 60); the geography is
        scaled so reduced scenes keep every feature.
    progress : show a rich progress bar while writing items.
    scenario : one of :data:`minewatch.demo.scenarios.NAMES`; ``start``, ``end``,
        ``cadence_days`` and ``size_px`` default to the scenario's (default scenario:
        2019-01-01..2024-12-31, every 10 days, 400 px).

    Returns
    -------
    DemoScene
        Absolute paths of the catalog, licences, receptors, DEM and truth.
    """
    out_dir = Path(out_dir).absolute()
    spec = scenarios.get(scenario)
    start = spec.start if start is None else start
    end = spec.end if end is None else end
    cadence_days = spec.cadence_days if cadence_days is None else cadence_days
    size_px = spec.size_px if size_px is None else size_px
    try:
        start_d, end_d = parse_date(start), parse_date(end)
    except ValueError as exc:
        raise InputError(f"demo period {start!r}..{end!r} is not a pair of dates ({exc})",
                         hint="give dates as YYYY-MM-DD") from None
    _check_args(seed, size_px, cadence_days, start_d, end_d)
    _prepare_out_dir(out_dir)
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    tmp = out_dir.parent / f".{out_dir.name}.partial-{os.getpid()}"
    if tmp.exists():
        shutil.rmtree(tmp)
    tmp.mkdir()
    try:
        n_items, crs = _generate_into(tmp, spec, seed, start_d, end_d, cadence_days, size_px, progress)
        if out_dir.exists():
            old = out_dir.parent / f".{out_dir.name}.old-{os.getpid()}"
            out_dir.rename(old)
            tmp.rename(out_dir)
            shutil.rmtree(old)
        else:
            tmp.rename(out_dir)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return _scene_paths(out_dir, crs, n_items, spec)


def _generate_into(root: Path, spec: scenarios.ScenarioSpec, seed: int, start: dt.date, end: dt.date,
                   cadence: int, n: int, progress: bool) -> tuple[int, str]:
    lay, model = spec.build(n, seed)
    grid = lay.grid
    (root / "truth").mkdir()
    _write_tif(root / "dem.tif", lay.dem, grid.transform, -9999.0, cog=False, crs=grid.crs)
    _write_vectors(root, lay)
    _write_tif(root / "truth" / "onset_date.tif", lay.onset.astype(np.int32), grid.transform, None, cog=False,
               crs=grid.crs)
    _write_tif(root / "truth" / "mine_class.tif", lay.mine_class, grid.transform, None, cog=False, crs=grid.crs)

    dates = acquisition_dates(start, end, cadence)
    tile = mgrs_tile(grid.bounds[0], grid.bounds[1], zone=grid.utm_zone, lat=spec.climate.lat)
    bbox = grid.bbox_lonlat()
    geom = {"type": "Polygon", "coordinates": [grid.footprint_lonlat()]}
    catalog = pystac.Catalog(id="minewatch-demo", description=spec.description, title="minewatch demo scene")
    col = pystac.Collection(
        id=COLLECTION_ID,
        description="Synthetic Sentinel-2 L2A surface reflectance in the layout of Earth Search v1.",
        extent=pystac.Extent(
            pystac.SpatialExtent([bbox]),
            pystac.TemporalExtent([[_dt(dates[0]) if dates else None, _dt(dates[-1]) if dates else None]])),
        license="CC0-1.0", title="Sentinel-2 Level-2A (synthetic)")
    catalog.add_child(col)

    per_date: list[dict] = []
    per_date_values = (len(IDX10) + len(IDX20) / 4) * n * n
    noise_bank = np.random.default_rng([seed, 4]).standard_normal(int(per_date_values * 4), dtype=np.float32)
    items_dir = root / "catalog" / COLLECTION_ID
    items_dir.mkdir(parents=True)
    with contextlib.ExitStack() as stack:
        stack.enter_context(rasterio.Env())
        advance = None
        if progress:
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
            bar = stack.enter_context(Progress(TextColumn("demo scene"), BarColumn(), MofNCompleteColumn(),
                                               TimeRemainingColumn()))
            task = bar.add_task("items", total=len(dates))
            advance = lambda: bar.advance(task)  # noqa: E731
        for i, date in enumerate(dates):
            item, stats = _make_item(root, items_dir, lay, model, spec.climate, seed, i, date, tile, bbox, geom,
                                     noise_bank)
            col.add_item(item)
            per_date.append(stats)
            if advance is not None:
                advance()
    catalog.normalize_hrefs(str(root / "catalog"))
    catalog.save(pystac.CatalogType.SELF_CONTAINED)

    truth = spec.write_truth(root, lay, start, end, parse_date(spec.monitor_start), parse_date(spec.monitor_end),
                             per_date)
    (root / "truth" / "truth.json").write_text(json.dumps(truth, indent=1) + "\n")
    meta = {"generator": "minewatch.demo.scene", "version": GENERATOR_VERSION, "seed": seed,
            "start": start.isoformat(), "end": end.isoformat(), "cadence_days": cadence, "size_px": n,
            "crs": grid.crs, "n_items": len(dates), "monitor_start": spec.monitor_start,
            "monitor_end": spec.monitor_end, "synthetic": True}
    if spec.name != "default":  # the default scene's marker stays as it always was
        meta["scenario"] = spec.name
    (root / MARKER).write_text(json.dumps(meta, indent=1) + "\n")
    return len(dates), grid.crs


def _dt(d: dt.date, sec: int = 0) -> dt.datetime:
    return dt.datetime(d.year, d.month, d.day, 5, 1, 0, tzinfo=dt.timezone.utc) + dt.timedelta(seconds=sec)


def _make_item(root: Path, items_dir: Path, lay, model, climate: Climate, seed: int, i: int,
               date: dt.date, tile: str, bbox, geom, noise_bank: np.ndarray) -> tuple[pystac.Item, dict]:
    grid = lay.grid
    n = grid.n
    rng = np.random.default_rng([seed, 2, date.toordinal()])
    w = draw_weather(rng, date, climate)
    snow_noise = None
    if w.snow_intensity > 0:
        from minewatch.demo.noise import smooth_field
        snow_noise = smooth_field(rng, (n, n), (max(n / 40, 1.0),))
    R, feats = model.render(date, w.snow_intensity, w.soil_moist, snow_noise)
    st = atmosphere(rng, w, n)
    R = apply_atmosphere(R, st, w, rng)
    # sensor noise, quantisation, processing-baseline offset
    b04 = date >= BASELINE_04_DATE
    add = 1000.0 if b04 else 0.0
    valid10 = st.valid
    st20 = downsample_state(st, {"snow": feats.snow, "water": feats.water, "pit_water": feats.pit_water,
                                 "deep_water": feats.deep_water, "bright_mine": feats.bright_mine})
    valid20 = st20["valid"]
    # sensor noise: independent per band and pixel, drawn from a per-scene bank at a random offset
    n10, n20 = len(IDX10) * n * n, len(IDX20) * (n // 2) ** 2
    o = int(rng.integers(0, noise_bank.size - n10 - n20))
    R10 = R[IDX10] + noise_bank[o:o + n10].reshape(len(IDX10), n, n) * np.float32(NOISE_SIGMA)
    R20 = block_mean(R[IDX20]) + noise_bank[o + n10:o + n10 + n20].reshape(len(IDX20), n // 2, n // 2) \
        * np.float32(NOISE_SIGMA * 0.8)
    dn10 = np.clip(np.rint(R10 * 10000.0 + add), 1, 65535).astype(np.uint16)
    dn20 = np.clip(np.rint(R20 * 10000.0 + add), 1, 65535).astype(np.uint16)
    dn10[:, ~valid10] = 0
    dn20[:, ~valid20] = 0
    # SCL from what the sensor delivered at 20 m
    full20 = np.empty((10, n // 2, n // 2), np.float32)
    full20[IDX20] = R20
    full20[IDX10] = block_mean(R10)
    scl, rates = simulate_scl(rng, full20, st20, w)

    platform = "sentinel-2a" if i % 2 == 0 else "sentinel-2b"
    item_id = f"S2{'A' if i % 2 == 0 else 'B'}_{tile}_{date:%Y%m%d}_0_L2A"
    d = items_dir / item_id
    d.mkdir()
    offset = -0.1 if b04 else 0.0
    assets = {}
    j10 = j20 = 0
    for bi, (key, band, wl, res, common) in enumerate(BANDS):
        if res == 10:
            arr, tr = dn10[j10], grid.transform
            j10 += 1
        else:
            arr, tr = dn20[j20], grid.transform20
            j20 += 1
        _write_tif(d / f"{band}.tif", arr, tr, 0, crs=grid.crs)
        assets[key] = _asset(key, band, res, arr.shape, tr, offset, common, wl)
    _write_tif(d / "SCL.tif", scl, grid.transform20, 0, crs=grid.crs)
    tr20 = grid.transform20
    assets["scl"] = pystac.Asset(
        "./SCL.tif", title="Scene classification map (SCL)", media_type=pystac.MediaType.COG,
        roles=["data"], extra_fields={
            "proj:shape": [n // 2, n // 2],
            "proj:transform": [tr20.a, tr20.b, tr20.c, tr20.d, tr20.e, tr20.f],
            "raster:bands": [{"nodata": 0, "data_type": "uint8", "spatial_resolution": 20}],
            "gsd": 20})

    valid_share = float(valid10.mean())
    denom = max(float(valid10.sum()), 1.0)
    cloud_pct = 100.0 * float(((st.opacity > 0.1) | (st.haze > 0.05))[valid10].sum()) / denom
    shadow_pct = 100.0 * float((st.shadow > 0.35)[valid10].sum()) / denom
    snow_pct = 100.0 * float((feats.snow > 0.5)[valid10].sum()) / denom
    haze_pct = 100.0 * float((st.haze > 0.05)[valid10].sum()) / denom
    nodata_pct = 100.0 * (1.0 - valid_share)
    zen, az = w.sun_zenith, w.sun_azimuth
    props = {
        "platform": platform,
        "constellation": "sentinel-2",
        "instruments": ["msi"],
        "eo:cloud_cover": round(cloud_pct, 2),
        "proj:epsg": grid.epsg,
        "proj:code": grid.crs,
        "mgrs:utm_zone": int(tile[:2]),
        "mgrs:latitude_band": tile[2],
        "mgrs:grid_square": tile[3:],
        "grid:code": f"MGRS-{tile}",
        "view:sun_azimuth": round(az, 3),
        "view:sun_elevation": round(90.0 - zen, 3),
        "s2:processing_baseline": "04.00" if b04 else "02.14",
        "s2:mgrs_tile": tile,
        "s2:product_type": "S2MSI2A",
        "s2:nodata_pixel_percentage": round(nodata_pct, 4),
        "s2:snow_ice_percentage": round(snow_pct, 4),
        "s2:cloud_shadow_percentage": round(100.0 * float((scl == 3).mean()), 4),
    }
    if w.swath_cut is not None:  # the footprint ends at the swath edge, as in real items
        geom, bbox = _swath_footprint(grid, w.swath_cut)
    item = pystac.Item(id=item_id, geometry=geom, bbox=bbox, datetime=_dt(date, 7 * (i % 37)),
                       properties=props, stac_extensions=list(_EXT), collection=COLLECTION_ID)
    for key, a in assets.items():
        item.add_asset(key, a)
    stats = {"date": date.isoformat(), "item_id": item_id, "cloud_pct": round(cloud_pct, 2),
             "haze_pct": round(haze_pct, 2), "shadow_pct": round(shadow_pct, 2), "snow_pct": round(snow_pct, 2),
             "nodata_pct": round(nodata_pct, 2),
             "scl_cloud_detected": _r(rates.get("cloud_detected")),
             "scl_shadow_detected": _r(rates.get("shadow_detected")),
             "scl_dark_water_as_shadow": _r(rates.get("dark_water_as_shadow")),
             "scl_bright_mine_as_cloud": _r(rates.get("bright_mine_as_cloud"))}
    return item, stats


def _swath_footprint(grid: Grid, cut: tuple[float, float, int]) -> tuple[dict, list[float]]:
    """WGS84 polygon and bbox of the part of the scene inside the swath."""
    n = grid.n
    x_top, slope, side = cut
    e0, e1 = x_top * n, x_top * n + slope * n  # edge column at the top and bottom rows
    if side == 0:
        half = shapely.Polygon([(e0, 0), (4 * n, 0), (4 * n, n), (e1, n)])
    else:
        half = shapely.Polygon([(n - e0, 0), (-3 * n, 0), (-3 * n, n), (n - e1, n)])
    part = shapely.box(0, 0, n, n).intersection(half)
    cols, rows = np.asarray(part.exterior.coords).T
    x, y = grid.pixel_to_xy(cols, rows)
    lon, lat = grid.to_lonlat().transform(x, y)
    ring = [[round(float(a), 7), round(float(b), 7)] for a, b in zip(lon, lat)]
    poly = shapely.Polygon(ring)
    if not poly.exterior.is_ccw:
        ring = ring[::-1]
    lons, lats = [p[0] for p in ring], [p[1] for p in ring]
    return {"type": "Polygon", "coordinates": [ring]}, [min(lons), min(lats), max(lons), max(lats)]


def _r(v: float | None) -> float | None:
    if v is None or not np.isfinite(v):
        return None
    return round(float(v), 4)
