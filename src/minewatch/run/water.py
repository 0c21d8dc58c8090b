"""The water section of a run: field samples and the river signal (``summary["water"]``).

* **field samples**: the lab file imported and checked against a drinking-water standard
  when the inputs were resolved (:mod:`minewatch.analysis.water.workflow`); here only turned
  into the summary's JSON.
* **river signal**: the river through the scene traced over the routed DEM
  (:func:`~minewatch.analysis.hydrology.river.river_line`); per monitored date the clear water
  pixels along it (kept by the tile loop in the :class:`~minewatch.run.pixels.PixelStore`) give
  NDTI, the red/blue iron ratio and the Dogliotti turbidity, upstream (chainage < 0) against
  downstream of the mine.

When there is no DEM, no river upstream of the mine or no clear water pixels, the section says
so (``status`` and ``reason``) instead of failing.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import shapely
from rasterio.windows import Window, from_bounds

from minewatch.analysis.hydrology.river import river_line
from minewatch.analysis.water import workflow
from minewatch.analysis.water.chainage import river_reach
from minewatch.analysis.water.river_pixels import river_pixels
from minewatch.analysis.water.river_signal import add_water_indices, analyse_river_signal, upstream_downstream_test
from minewatch.errors import MinewatchError
from minewatch.jsonable import jsonable
from minewatch.reports.figures import updown_chart
from minewatch.run.inputs import ResolvedInputs
from minewatch.run.pixels import PixelStore
from minewatch.run.request import MonitoringRequest, Progress
from minewatch.run.result import WaterSection

WATER_VALUES = ("ndti", "turbidity_dogliotti", "iron_ratio")
VALUE_LABELS = {"ndti": "NDTI (red - green)/(red + green)",
                "turbidity_dogliotti": "turbidity, FNU (Dogliotti 2015 on L2A surface reflectance: approximate)",
                "iron_ratio": "iron ratio red/blue"}
RIVER_METHOD = ("river traced over the DEM (D8): the mine's flow path downstream and the main stem upstream "
                "of its confluence; clear water pixels (NDWI > 0) within the offset of that line on each "
                "monitored date; chainage 0 = the point of the line nearest the mine")


def samples_section(res: dict) -> dict:
    """``summary["water"]["samples"]``: the check's summary plus its exceedances and indices."""
    out = workflow.summary_dict(res)
    comp = res["compared"]
    ex = comp[comp["exceeds"]] if len(comp) else comp
    cols = [c for c in ("station_id", "station_name", "date", "parameter", "fraction", "value", "unit",
                        "limit", "lower_limit", "status") if c in ex.columns]
    out["exceedances"] = jsonable(ex[cols].astype(object).to_dict(orient="records"))
    for r in out["exceedances"]:
        r["date"] = str(r["date"]) if r.get("date") is not None else None
    out["indices"] = jsonable(res["indices"].astype(object).to_dict(orient="records"))
    for r in out["indices"] + out["per_station_date"]:
        if "date" in r and r["date"] is not None:
            r["date"] = str(r["date"])
    return out


def river_points(store: PixelStore, line, reach, *, monitored_from, max_offset_m: float | None = None,
                 progress: Progress | None = None) -> pd.DataFrame:
    """Clear water pixels along ``line`` on each monitored date, with chainage and water indices."""
    from pyproj import Transformer

    grid, items = store.grid, store.items
    res = abs(grid.transform.a)
    off = max_offset_m if max_offset_m is not None else max(30.0, 2.0 * res)
    x, y = Transformer.from_crs("EPSG:4326", grid.crs, always_xy=True).transform(*np.array(line.coords).T)
    pad = off + 3 * res
    win = from_bounds(x.min() - pad, y.min() - pad, x.max() + pad, y.max() + pad, grid.transform)
    c0, r0 = max(0, math.floor(win.col_off)), max(0, math.floor(win.row_off))
    c1 = min(grid.width, math.ceil(win.col_off + win.width))
    r1 = min(grid.height, math.ceil(win.row_off + win.height))
    if c1 <= c0 or r1 <= r0:
        return pd.DataFrame()
    window = Window(c0, r0, c1 - c0, r1 - r0)
    refl = [b for b in ("blue", "green", "red", "nir") if b in store.bands]
    data, clear = store.window(window, refl, complete=False)
    if "green" not in data:
        data["green"] = data["blue"]
    transform = grid.transform * grid.transform.translation(c0, r0)
    frames = []
    monitored = [t for t, it in enumerate(items) if it.date >= monitored_from]
    for n, t in enumerate(monitored):
        if progress:
            progress("river signal", n, len(monitored))
        b = {k: data[k][t] for k in ("blue", "green", "red", "nir")}
        pts = river_pixels(b, transform, grid.crs, reach, date=items[t].date.isoformat(), max_offset_m=off,
                           green="green", nir="nir", ndwi_min=0.0, valid=clear[t])
        if len(pts):
            frames.append(pts)
    if progress:
        progress("river signal", len(monitored), len(monitored))
    if not frames:
        return pd.DataFrame()
    pts = pd.concat(frames, ignore_index=True)
    return add_water_indices(pts, blue="blue", green="green", red="red", nir="nir")


def river_signal_section(inputs: ResolvedInputs, store: PixelStore, source, *, monitored_from,
                         max_distance_m: float, progress: Progress | None = None) -> tuple[dict, bytes | None]:
    """``summary["water"]["river_signal"]`` and the chart PNG (``None`` when there is nothing to plot).

    ``source`` is the mine (EPSG:4326): the union of the alerts, else of the licences.
    """
    if inputs.flow is None:
        return {"status": "not assessed", "reason": "no DEM given (--dem): the river cannot be traced"}, None
    if source is None or source.is_empty:
        return {"status": "not assessed", "reason": "no mine geometry (no alert and no licence)"}, None
    try:
        line, facts = river_line(inputs.flow, source, max_distance_m=max_distance_m)
    except MinewatchError as exc:
        return {"status": "not assessed", "reason": f"river tracing failed: {exc}"}, None
    if line is None:
        return {"status": "no water upstream", "reason": facts.pop("reason"), "method": RIVER_METHOD,
                **facts}, None
    reach = river_reach(line, source)
    pts = river_points(store, line, reach, monitored_from=monitored_from, progress=progress)
    base = {"method": RIVER_METHOD, "river_length_km": round(reach.geodesic_length_km, 3),
            "source_to_river_km": round(reach.source_offset_km, 3), **facts,
            "river_line": {"type": "LineString", "coordinates": [list(map(float, c)) for c in line.coords]}}
    if pts.empty:
        return {"status": "no clear water pixels", "reason": "no clear water pixel (NDWI > 0) lies along the "
                "traced river on any monitored date", **base}, None
    n_up = int((pts["chainage_km"] < 0).sum())
    if n_up == 0:
        return {"status": "no water upstream", "reason": "no clear water pixel upstream of the mine on any "
                "monitored date", **base, "n_points": len(pts)}, None
    per_date: dict[str, dict] = {}
    for value in WATER_VALUES:
        if value not in pts.columns:
            continue
        t = upstream_downstream_test(pts, value)
        for r in t.to_dict(orient="records"):
            d = per_date.setdefault(str(r["date"]), {"date": str(r["date"])})
            d[value] = {k: r[k] for k in ("n_upstream", "n_downstream", "median_upstream", "median_downstream",
                                          "ratio", "p_value", "testable")}
    bin_km = max(0.05, round(reach.geodesic_length_km / 20.0, 3))
    try:
        result = analyse_river_signal(pts, reach, "ndti", bin_km=bin_km, max_offset_m=1e9, min_points=3)
        s = result["summary"]
        analysis = {k: s[k] for k in ("value", "bin_km", "threshold", "threshold_rule", "gradient", "fronts")}
    except MinewatchError as exc:
        analysis = {"error": str(exc)}
    rows = [per_date[d] for d in sorted(per_date)]
    png = updown_chart(rows, [v for v in WATER_VALUES if v in pts.columns])
    summary = {"status": "assessed", **base, "n_points": len(pts), "n_points_upstream": n_up,
               "n_points_downstream": int((pts["chainage_km"] > 0).sum()),
               "values": {k: VALUE_LABELS[k] for k in WATER_VALUES if k in pts.columns},
               "per_date": rows, "ndti_profile": analysis}
    return jsonable(summary, digits=6), png


def water_section(req: MonitoringRequest, inputs: ResolvedInputs, store: PixelStore, alerts,
                  progress: Progress) -> WaterSection:
    """The run's water section (see the module docstring)."""
    section = WaterSection(samples=samples_section(inputs.samples) if inputs.samples is not None else None)
    if req.water.river_signal:
        geoms = [a.geometry for a in alerts] or [p.geometry for p in inputs.periods]
        source = shapely.union_all(geoms) if geoms else None
        section.river_signal, section.chart_png = river_signal_section(
            inputs, store, source, monitored_from=req.period.start,
            max_distance_m=req.detection.max_flow_distance_m, progress=progress)
    return section
