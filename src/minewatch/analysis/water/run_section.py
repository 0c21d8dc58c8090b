"""The water section of one monitoring run (``minewatch analyze``): field samples and a river signal.

Two independent parts, both optional:

* **field samples** - a lab file imported and checked against a drinking-water
  standard with :mod:`minewatch.analysis.water.workflow`; the section is
  :func:`samples_section` (JSON-ready).
* **river signal** - the river through the scene traced over the DEM (D8): the
  flow path from the mine's outlet downstream, and the main stem *upstream* of
  the point where the mine's path joins the river (following, cell by cell, the
  donor of largest flow accumulation). Per monitored date the clear water
  pixels along that line (:func:`~minewatch.analysis.water.river_pixels.river_pixels`,
  NDWI > 0) give NDTI, the red/blue iron ratio and the Dogliotti turbidity, split
  by chainage into upstream (< 0) and downstream (> 0) of the mine, compared per
  date with :func:`~minewatch.analysis.water.river_signal.analyse_river_signal`
  and :func:`~minewatch.analysis.water.river_signal.upstream_downstream_test`.

When there is no DEM, no river upstream of the mine or no clear water pixels, the
section says so (``status`` and ``reason``) instead of failing.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
from shapely.geometry import LineString

from minewatch.analysis.water import workflow
from minewatch.errors import MinewatchError

#: ESRI D8 code -> (drow, dcol) of the receiving cell.
D8 = {1: (0, 1), 2: (1, 1), 4: (1, 0), 8: (1, -1), 16: (0, -1), 32: (-1, -1), 64: (-1, 0), 128: (-1, 1)}
WATER_VALUES = ("ndti", "turbidity_dogliotti", "iron_ratio")
VALUE_LABELS = {"ndti": "NDTI (red - green)/(red + green)",
                "turbidity_dogliotti": "turbidity, FNU (Dogliotti 2015 on L2A surface reflectance: approximate)",
                "iron_ratio": "iron ratio red/blue"}


def import_run_samples(path: str | Path, mapping: str | Path | None = None, *,
                       standard: str = workflow.DEFAULT_STANDARD) -> dict:
    """Import and check a lab file (raises the workflow's :class:`InputError` on a bad file)."""
    return workflow.import_samples(path, mapping, standard=standard)


def samples_section(res: dict) -> dict:
    """``summary["water"]["samples"]``: :func:`workflow.summary_dict` plus the exceedances and indices."""
    out = workflow.summary_dict(res)
    comp = res["compared"]
    ex = comp[comp["exceeds"]] if len(comp) else comp
    cols = [c for c in ("station_id", "station_name", "date", "parameter", "fraction", "value", "unit",
                        "limit", "lower_limit", "status") if c in ex.columns]
    out["exceedances"] = [{k: workflow._jsonable(v) for k, v in r.items()}
                          for r in ex[cols].astype(object).to_dict(orient="records")]
    for r in out["exceedances"]:
        r["date"] = str(r["date"]) if r.get("date") is not None else None
    idx = res["indices"]
    out["indices"] = [{str(k): workflow._jsonable(v) for k, v in r.items()}
                      for r in idx.astype(object).to_dict(orient="records")]
    for r in out["indices"] + out["per_station_date"]:
        if "date" in r and r["date"] is not None:
            r["date"] = str(r["date"])
    return out


# --------------------------------------------------------------------------- river line over the DEM
def _donors(dirs: np.ndarray, r: int, c: int) -> list[tuple[int, int]]:
    h, w = dirs.shape
    out = []
    for code, (dr, dc) in D8.items():
        rr, cc = r - dr, c - dc  # a neighbour whose receiver is (r, c)
        if 0 <= rr < h and 0 <= cc < w and int(dirs[rr, cc]) == code:
            out.append((rr, cc))
    return out


def river_line(dem: str | Path, source, *, max_distance_m: float = 20_000.0,
               upstream_m: float = 5_000.0, min_share: float = 0.2):
    """The river past the mine as one line digitised downstream (EPSG:4326), or ``None``.

    The mine's D8 path downstream is followed to its confluence (the first step
    where flow accumulation grows by half or more); from there the main stem is
    traced upstream through the donor of largest accumulation, while that donor
    carries at least ``min_share`` of the confluence's accumulation, for at most
    ``upstream_m``.

    Returns
    -------
    (LineString or None, dict)
        The line and facts about it (``upstream_cells``, ``downstream_cells``,
        ``confluence_accumulation``); the line is ``None`` when no stream enters
        the mine's path from upstream.
    """
    from pyproj import Transformer
    from rasterio.transform import xy

    from minewatch.analysis.hydrology import flow_grid, flow_path, point_cell, read_dem
    from minewatch.analysis.water_risk import receptors_downstream

    flow = flow_grid(read_dem(dem))
    res = receptors_downstream(flow, [("mine", source)], [], max_distance_m=max_distance_m)
    if not res.paths:
        return None, {"reason": "the mine has no cell on the DEM"}
    first = res.paths[0]["geometry"].coords[0]
    r0, c0 = point_cell(flow, first[0], first[1])
    rows, cols, _dist = flow_path(flow, int(r0), int(c0), max_distance_m)
    acc = flow.accumulation
    k = 0
    for i in range(1, len(rows)):
        if acc[rows[i], cols[i]] >= 1.5 * acc[rows[i - 1], cols[i - 1]]:
            k = i
            break
    conf = (int(rows[k]), int(cols[k]))
    up = []
    cur = conf
    step_m = float(np.mean(flow.dx_m)) if np.ndim(flow.dx_m) else float(flow.dx_m)
    limit = int(upstream_m / max(step_m, 1.0))
    came_from = (int(rows[k - 1]), int(cols[k - 1])) if k > 0 else None
    while len(up) < limit:
        donors = [d for d in _donors(flow.dirs, *cur) if d != came_from]
        if not donors:
            break
        best = max(donors, key=lambda d: acc[d])
        if acc[best] < min_share * acc[conf]:
            break
        up.append(best)
        cur, came_from = best, None
    facts = {"upstream_cells": len(up), "downstream_cells": len(rows) - k,
             "confluence_accumulation_cells": int(acc[conf])}
    if len(up) < 2:
        return None, {**facts, "reason": "no stream enters the mine's downstream path from upstream on the DEM"}
    cells = list(reversed(up)) + list(zip(rows[k:].tolist(), cols[k:].tolist(), strict=True))
    rr, cc = np.array(cells).T
    xs, ys = xy(flow.dem.transform, rr, cc, offset="center")
    lon, lat = Transformer.from_crs(flow.dem.crs, "EPSG:4326", always_xy=True).transform(xs, ys)
    return LineString(np.column_stack([lon, lat])), facts


# --------------------------------------------------------------------------- river signal
def _clean(x):
    if isinstance(x, dict):
        return {str(k): _clean(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_clean(v) for v in x]
    if isinstance(x, (np.bool_, bool)):
        return bool(x)
    if isinstance(x, (np.integer,)):
        return int(x)
    if isinstance(x, (float, np.floating)):
        return None if not math.isfinite(float(x)) else round(float(x), 6)
    return x


def river_points(items, grid, line: LineString, reach, *, monitored_from, max_offset_m: float | None = None,
                 progress=None) -> pd.DataFrame:
    """Clear water pixels along ``line`` on each monitored date, with chainage and water indices."""
    from pyproj import Transformer
    from rasterio.windows import Window, from_bounds

    from minewatch.analysis.water.river_pixels import river_pixels
    from minewatch.analysis.water.river_signal import add_water_indices
    from minewatch.imagery.load import load_tile
    from minewatch.imagery.masks import CLEAR, screen_tile

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
    present = {b for it in items for b in it.assets}
    refl = [b for b in ("blue", "green", "red", "nir") if b in present]
    bands = refl + [b for b in ("swir16", "swir22", "scl", "qa_pixel", "datamask") if b in present]
    data = load_tile(items, bands, grid, window)
    if "green" not in data:
        data["green"] = data["blue"]
    clear = screen_tile(items, data) == CLEAR
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


def river_signal_section(items, grid, dem: str | Path | None, source, *, monitored_from,
                         max_distance_m: float = 20_000.0, progress=None) -> tuple[dict, bytes | None]:
    """``summary["water"]["river_signal"]`` and the chart PNG (``None`` when there is nothing to plot).

    Parameters
    ----------
    items : list of SceneItem
        All scenes of the run (history too: the cloud screening is temporal).
    grid : Grid
        The analysis grid.
    dem : path or None
        The run's DEM.
    source : shapely geometry (EPSG:4326) or None
        The mine: the union of the alerts, else of the licences.
    monitored_from : datetime.date
        First monitored day; earlier scenes are only used for screening.
    """
    from minewatch.analysis.water.chainage import river_reach
    from minewatch.analysis.water.river_signal import analyse_river_signal, upstream_downstream_test

    method = ("river traced over the DEM (D8): the mine's flow path downstream and the main stem upstream "
              "of its confluence; clear water pixels (NDWI > 0) within the offset of that line on each "
              "monitored date; chainage 0 = the point of the line nearest the mine")
    if dem is None:
        return {"status": "not assessed", "reason": "no DEM given (--dem): the river cannot be traced"}, None
    if source is None or source.is_empty:
        return {"status": "not assessed", "reason": "no mine geometry (no alert and no licence)"}, None
    try:
        line, facts = river_line(dem, source, max_distance_m=max_distance_m)
    except MinewatchError as exc:
        return {"status": "not assessed", "reason": f"river tracing failed: {exc}"}, None
    if line is None:
        return {"status": "no water upstream", "reason": facts.pop("reason"), "method": method, **facts}, None
    reach = river_reach(line, source)
    pts = river_points(items, grid, line, reach, monitored_from=monitored_from, progress=progress)
    base = {"method": method, "river_length_km": round(reach.geodesic_length_km, 3),
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
    return _clean(summary), png


def updown_chart(per_date: list[dict], values: list[str]) -> bytes | None:
    """PNG: per monitored date, the median of each index upstream and downstream of the mine.

    One panel per index; dates where a side has fewer than 3 water pixels are drawn hollow.
    """
    import io

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    if not per_date or not values:
        return None
    fig, axes = plt.subplots(len(values), 1, figsize=(9, 2.4 * len(values) + 0.6), sharex=True,
                             constrained_layout=True)
    axes = np.atleast_1d(axes)
    titles = {"ndti": "NDTI", "turbidity_dogliotti": "turbidity (FNU, approx.)", "iron_ratio": "iron ratio red/blue"}
    for ax, v in zip(axes, values, strict=True):
        for side, colour in (("upstream", "#2166ac"), ("downstream", "#b2182b")):
            d = [pd.Timestamp(r["date"]) for r in per_date if r.get(v) and r[v][f"median_{side}"] is not None]
            y = [r[v][f"median_{side}"] for r in per_date if r.get(v) and r[v][f"median_{side}"] is not None]
            n = [r[v][f"n_{side}"] for r in per_date if r.get(v) and r[v][f"median_{side}"] is not None]
            ax.plot(d, y, "-", color=colour, lw=1, alpha=0.6)
            full = [k for k, m in enumerate(n) if m >= 3]
            few = [k for k, m in enumerate(n) if m < 3]
            ax.plot([d[k] for k in full], [y[k] for k in full], "o", ms=4, color=colour,
                    label=f"{side} of the mine")
            ax.plot([d[k] for k in few], [y[k] for k in few], "o", ms=4, mfc="none", color=colour)
        ax.set_ylabel(titles.get(v, v))
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize=8, loc="upper left")
    axes[0].set_title("Water pixels along the river: median upstream vs downstream of the mine, per date "
                      "(hollow: fewer than 3 pixels)", fontsize=9)
    buf = io.BytesIO()
    fig.savefig(buf, dpi=100, format="png")
    plt.close(fig)
    return buf.getvalue()
