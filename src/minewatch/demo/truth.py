"""Ground truth of the demo scene, computed from the written files by the issue's rules."""

from __future__ import annotations

import datetime as dt
import json
import math
from pathlib import Path

import numpy as np
import rasterio
import shapely
from pyproj import Transformer
from rasterio import features
from shapely.geometry import shape

from minewatch.demo import hydro
from minewatch.demo import layout as L
from minewatch.demo.geo import days, from_days

SNAP_RADIUS_M = 250.0
#: a receptor snaps to the nearest cell carrying at least this share of the largest flow
#: accumulation within the snap radius (the main stream there, not a hillslope rill)
SNAP_REL = 0.5


def licence_masks(licences_path: Path, crs: str, transform, n: int) -> list[tuple[dict, np.ndarray]]:
    """Rasterise every licence of ``licences.geojson`` (pixel-centre rule) on the scene grid."""
    data = json.loads(Path(licences_path).read_text())
    tr = Transformer.from_crs(4326, crs, always_xy=True)
    out = []
    for feat in data["features"]:
        geom = shapely.transform(shape(feat["geometry"]), lambda c: np.column_stack(tr.transform(c[:, 0], c[:, 1])))
        mask = features.rasterize([(geom, 1)], out_shape=(n, n), transform=transform, fill=0,
                                  dtype="uint8").astype(bool)
        out.append((feat["properties"], mask))
    return out


def valid_on(props: dict, onset: np.ndarray) -> np.ndarray:
    """Pixels whose onset lies inside the licence validity (and the licence is active)."""
    if props.get("status") != "active":
        return np.zeros(onset.shape, bool)
    ok = np.ones(onset.shape, bool)
    if props.get("valid_from"):
        ok &= onset >= days(dt.date.fromisoformat(props["valid_from"]))
    if props.get("valid_to"):
        ok &= onset <= days(dt.date.fromisoformat(props["valid_to"]))
    return ok


def downstream_receptors(root: Path, lay, sources: np.ndarray) -> tuple[list[dict], list[dict], np.ndarray,
                                                                       float, float]:
    """Receptors of ``receptors.geojson`` a D8 path from any ``sources`` pixel passes (over ``dem.tif``).

    Returns (downstream, not downstream, raw DEM, cell size m, snap radius m).
    """
    n = lay.n
    with rasterio.open(root / "dem.tif") as src:
        dem = src.read(1).astype(np.float64)
        cell = float(src.transform.a)
    zf = hydro.fill_depressions(dem)
    rec = hydro.d8_receivers(zf, cell)
    order = hydro.flow_order(zf)
    acc = hydro.accumulation(rec, order).reshape(dem.shape)
    dist = hydro.distance_from_sources(rec, order, sources, dem.shape, cell)
    snap_m = SNAP_RADIUS_M * lay.k
    rows, cols = np.mgrid[0:n, 0:n]
    receptors = json.loads((root / "receptors.geojson").read_text())["features"]
    to_utm = Transformer.from_crs(4326, lay.grid.crs, always_xy=True)
    down, not_down = [], []
    for f in receptors:
        lon, lat = f["geometry"]["coordinates"]
        x, y = to_utm.transform(lon, lat)
        gt = lay.grid.transform
        col, row = (x - gt.c) / gt.a, (y - gt.f) / gt.e
        d2 = ((cols + 0.5 - col) ** 2 + (rows + 0.5 - row) ** 2) * cell * cell
        win = d2 <= snap_m ** 2
        # the main stream nearby: cells carrying at least half the largest flow within the radius
        big = win & (acc >= SNAP_REL * acc[win].max())
        cand = np.where(big, d2, np.inf)
        sr, sc = np.unravel_index(int(np.argmin(cand)), cand.shape)
        info = {"receptor_id": f["properties"]["receptor_id"], "kind": f["properties"]["kind"],
                "name": f["properties"]["name"], "snapped_row": int(sr), "snapped_col": int(sc),
                "snap_distance_m": round(math.sqrt(float(d2[sr, sc])), 1),
                "snapped_accumulation_cells": int(acc[sr, sc])}
        if np.isfinite(dist[sr, sc]):
            info["flow_distance_m"] = round(float(dist[sr, sc]), 1)
            down.append(info)
        else:
            not_down.append(info)
    return down, not_down, dem, cell, snap_m


def _iso(d: int | None) -> str | None:
    return None if d is None else from_days(int(d)).isoformat()


def compute_truth(root: Path, lay: L.Layout, monitor_start: dt.date, monitor_end: dt.date,
                  per_date: list[dict]) -> dict:
    """Compute ``truth.json`` content from the files under ``root`` and the mine plan."""
    n = lay.n
    px_ha = (lay.grid.transform.a ** 2) / 10_000.0
    with rasterio.open(root / "truth" / "onset_date.tif") as src:
        onset = src.read(1)
    with rasterio.open(root / "truth" / "mine_class.tif") as src:
        mclass = src.read(1)
    ms, me = days(monitor_start), days(monitor_end)
    new = (onset >= ms) & (onset <= me)
    lic = licence_masks(root / "licences.geojson", lay.grid.crs, lay.grid.transform, n)
    covered = np.zeros((n, n), bool)
    for props, mask in lic:
        covered |= mask & valid_on(props, onset)
    outside = new & ~covered

    per_licence = []
    for props, mask in lic:
        inside_new = new & mask
        entry = {
            "licence_id": props["licence_id"], "status": props["status"],
            "valid_from": props["valid_from"], "valid_to": props["valid_to"],
            "area_ha": round(float(mask.sum() * px_ha), 2),
            "new_disturbance_ha": round(float(inside_new.sum() * px_ha), 2),
            "new_disturbance_licensed_ha": round(float((inside_new & valid_on(props, onset)).sum() * px_ha), 2),
        }
        if props.get("valid_to"):
            after = inside_new & (onset > days(dt.date.fromisoformat(props["valid_to"])))
            entry["new_disturbance_after_valid_to_ha"] = round(float(after.sum() * px_ha), 2)
            entry["first_onset_after_valid_to"] = _iso(onset[after].min()) if after.any() else None
        per_licence.append(entry)

    kind = lay.kind
    main = np.isin(kind, (L.K_PIT, L.K_DUMP, L.K_TAIL)) & new
    main_out = main & outside
    lic_a = next(m for p, m in lic if p["licence_id"] == "ML-0147")
    exp_b_props, lic_b = next((p, m) for p, m in lic if p["licence_id"] == "ML-0093")
    b_after = new & lic_b & (onset > days(dt.date.fromisoformat(exp_b_props["valid_to"])))
    dump_out = new & (kind == L.K_DUMP) & ~lic_a & ~lic_b
    unl = kind == L.K_UNLIC

    sources = (onset > 0) & (onset <= me)
    down, not_down, dem, cell, snap_m = downstream_receptors(root, lay, sources)
    raw_pits = _count_pits(dem)

    cloud = np.array([p["cloud_pct"] for p in per_date])
    snow = np.array([p["snow_pct"] for p in per_date])
    stage_areas = []
    for w in lay.stage_windows:
        a, b = days(dt.date.fromisoformat(w["start"])), days(dt.date.fromisoformat(w["end"]))
        sel = (onset >= a) & (onset <= b)
        stage_areas.append({**w, "area_ha": round(float(sel.sum() * px_ha), 2)})
    truth = {
        "generator": "minewatch.demo.scene",
        "seed": lay.seed,
        "crs": lay.grid.crs,
        "pixel_size_m": cell,
        "pixel_area_ha": px_ha,
        "size_px": n,
        "monitoring_period": {"start": monitor_start.isoformat(), "end": monitor_end.isoformat()},
        "rules": {
            "new_disturbance": "pixels of truth/onset_date.tif with monitor_start <= onset <= monitor_end",
            "outside_licence": "new-disturbance pixels that at their onset date lie in no licence with "
                               "status 'active' and valid_from <= onset <= valid_to (null = open); "
                               "licence polygons rasterised from licences.geojson by the pixel-centre rule",
            "downstream": "D8 steepest descent over dem.tif after priority-flood filling (epsilon 1e-4 m); "
                          f"each receptor is snapped to the nearest cell within {snap_m:.0f} m whose flow accumulation is "
                          f"at least {SNAP_REL:.0%} of the largest accumulation within that radius (the main "
                          "stream nearby); it is downstream when a D8 path from any mining pixel "
                          "(onset <= monitor_end) passes that cell; flow_distance_m is the shortest such path",
        },
        "new_disturbance_area_ha": round(float(new.sum() * px_ha), 2),
        "new_disturbance_pixels": int(new.sum()),
        "outside_licence_area_ha": round(float(outside.sum() * px_ha), 2),
        "outside_licence_pixels": int(outside.sum()),
        "pre_existing_mining_area_ha": round(float(((onset > 0) & (onset < ms)).sum() * px_ha), 2),
        "mine_class_area_ha": {L.MINE_CLASS_NAMES[c]: round(float((mclass == c).sum() * px_ha), 2)
                               for c in range(1, 6)},
        "per_licence": per_licence,
        "stages": stage_areas,
        "licence_crossing": {
            "description": "first onset of a main-mine pixel (pit, dump, tailings) outside every valid active licence",
            "date": _iso(onset[main_out].min()) if main_out.any() else None,
            "area_ha": round(float(main_out.sum() * px_ha), 2),
            "exit_licence_id": "ML-0147",
            "expired_licence_intrusion": {
                "licence_id": "ML-0093", "valid_to": exp_b_props["valid_to"],
                "first_onset": _iso(onset[b_after].min()) if b_after.any() else None,
                "area_ha": round(float(b_after.sum() * px_ha), 2)},
            "dump_outside_all_licences": {
                "first_onset": _iso(onset[dump_out].min()) if dump_out.any() else None,
                "area_ha": round(float(dump_out.sum() * px_ha), 2)},
        },
        "unlicensed_pit": {
            "onset": _iso(onset[unl].min()) if unl.any() else None,
            "onset_last": _iso(onset[unl].max()) if unl.any() else None,
            "area_ha": round(float(unl.sum() * px_ha), 2),
            "in_any_licence": bool(any((m & unl).any() for _, m in lic)),
        },
        "tailings_facility": {"construction_start": L.TAILINGS_START.isoformat(),
                              "deposition_start": L.TAILINGS_FILL.isoformat(),
                              "area_ha": round(float((kind == L.K_TAIL).sum() * px_ha), 2)},
        "pit_lake_from": L.PIT_WATER_FROM.isoformat(),
        "confounders": {
            "grass_fire": {"date": L.FIRE_DATE.isoformat(), "area_ha": round(float(lay.burn.sum() * px_ha), 2)},
            "cleared_plot": {"date": L.CLEARING_DATE.isoformat(),
                             "area_ha": round(float(lay.cleared.sum() * px_ha), 2)},
            "cropland_area_ha": round(float((lay.cover == L.CROP).sum() * px_ha), 2),
            "crop_fields": int(lay.field_id.max() + 1),
        },
        "receptors_downstream": down,
        "receptors_not_downstream": not_down,
        "dem": {"raw_local_pits": raw_pits, "filled_for_truth": True},
        "atmosphere": {
            "n_dates": len(per_date),
            "cloud_pct_definition": "share of valid pixels with thick-cloud opacity > 0.1 or haze thickness > 0.05",
            "dates_cloud_over_30pct": int((cloud > 30).sum()),
            "dates_cloud_over_90pct": int((cloud > 90).sum()),
            "dates_clear_under_5pct": int((cloud < 5).sum()),
            "mean_cloud_pct": round(float(cloud.mean()), 2) if cloud.size else None,
            "dates_with_snow_over_10pct": int((snow > 10).sum()),
            "dates_with_swath_nodata": int(sum(p["nodata_pct"] > 0 for p in per_date)),
            "per_date": per_date,
        },
    }
    return truth


def _count_pits(dem: np.ndarray) -> int:
    """Interior cells lower than all eight neighbours."""
    c = dem[1:-1, 1:-1]
    lower = np.ones(c.shape, bool)
    for dr in (-1, 0, 1):
        for dc in (-1, 0, 1):
            if dr or dc:
                lower &= c < dem[1 + dr:dem.shape[0] - 1 + dr, 1 + dc:dem.shape[1] - 1 + dc]
    return int(lower.sum())
