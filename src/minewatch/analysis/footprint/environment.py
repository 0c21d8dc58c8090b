"""Environmental condition around a mine, per year, from the footprint classes and their features.

* **Vegetation in rings** around each year's mine footprint (0-250 m and 250-1000 m): the mean
  greenest NDVI (p90 of the year's clear observations, as in the features) of pixels vegetated
  over the series and never mine, and its **anomaly**: each pixel's difference to its own median
  over every year of the series, less the same anomaly far from the mine (beyond 1000 m): a dry
  year lowers every pixel, and only what the rings lose beyond the rest of the scene is put
  forward.
* **Tailings and mine water**: the area of the tailings pond (water inside the tailings class)
  and of mine water, their turbidity (NDTI, red vs green; a relative index, not NTU) and
  iron-oxide colour (red / blue reflectance ratio), the distance from the pond to the outer edge
  of its facility (a pond that reaches toward its dam leaves it less freeboard), and two flags:
  ``pond_toward_dam`` (that distance fell by :data:`DAM_APPROACH_M` or more since the year
  before, or is under it) and ``pond_emptied`` (the pond lost more than half its area in a year).

Every figure comes with the number of clear observations behind it (median per pixel).
"""

from __future__ import annotations

import warnings

import numpy as np
from scipy import ndimage

from minewatch.analysis.footprint.classify import (
    MINE_CLASSES, MINE_WATER, NOT_ASSESSED, OTHER_BARE, TAILINGS, FootprintRules)
from minewatch.analysis.footprint.features import FEATURES

#: The vegetation rings around the footprint, metres from its edge.
RINGS_M = ((0.0, 250.0), (250.0, 1000.0))
#: Anomalies are taken relative to vegetated pixels beyond this distance from the footprint.
CONTROL_FROM_M = 1000.0
#: A ring whose NDVI anomaly, net of the control, is below this is flagged.
RING_DECLINE = -0.05
#: A pond within this distance of its facility's edge, or this much closer than a year before,
#: is flagged as growing toward its dam.
DAM_APPROACH_M = 30.0
#: A pond that loses more than this share of its area in a year is flagged as emptied.
EMPTIED_SHARE = 0.5


def _mean(values: np.ndarray) -> float | None:
    values = values[np.isfinite(values)]
    return round(float(values.mean()), 4) if values.size else None


def _median(values: np.ndarray) -> float | None:
    values = values[np.isfinite(values)]
    return round(float(np.median(values)), 4) if values.size else None


def _water_state(m: np.ndarray, f: dict, px_ha: float) -> dict:
    with np.errstate(invalid="ignore", divide="ignore"):
        ndti = (f["red"] - f["green"]) / (f["red"] + f["green"])
        iron = f["red"] / f["blue"]
    return {"area_ha": round(int(m.sum()) * px_ha, 4), "pixels": int(m.sum()),
            "ndti_median": _median(ndti[m]), "red_blue_ratio_median": _median(iron[m]),
            "median_clear_obs": _median(f["n_clear"][m])}


def environment(classes: np.ndarray, feat: np.ndarray, years: list[int], pixel_m: float,
                rules: FootprintRules = FootprintRules()) -> dict:
    """``summary["environment"]``: vegetation rings and mine-water state per year (module docstring)."""
    px_ha = pixel_m * pixel_m / 10_000.0
    ndvi = feat[:, FEATURES.index("ndvi_p90")]
    n_clear = feat[:, FEATURES.index("n_clear")]
    ever_mine = np.isin(classes, MINE_CLASSES).any(axis=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        usual = np.nanmedian(ndvi, axis=0)
    vegetated = (usual >= rules.veg_ndvi) & ~ever_mine & ~(classes == OTHER_BARE).any(axis=0)
    anomaly = ndvi - usual[None]
    out_years = []
    prev_pond = None
    for k, year in enumerate(years):
        c = classes[k]
        f = {name: feat[k, i] for i, name in enumerate(FEATURES)}
        assessed = c != NOT_ASSESSED
        mine = np.isin(c, MINE_CLASSES)
        entry: dict = {"year": year, "vegetation": None}
        if mine.any():
            dist = ndimage.distance_transform_edt(~mine) * pixel_m
            control = vegetated & assessed & (dist > CONTROL_FROM_M)
            base = _mean(anomaly[k][control])
            rings = []
            for a, b in RINGS_M:
                m = vegetated & assessed & (dist > a) & (dist <= b)
                anom = _mean(anomaly[k][m])
                net = None if anom is None or base is None else round(anom - base, 4)
                rings.append({"from_m": a, "to_m": b, "pixels": int(m.sum()), "ndvi_p90_mean": _mean(ndvi[k][m]),
                              "ndvi_anomaly": anom, "ndvi_anomaly_net_of_control": net,
                              "decline": bool(net is not None and net < RING_DECLINE),
                              "median_clear_obs": _median(n_clear[k][m])})
            entry["vegetation"] = {"rings": rings, "control": {
                "from_m": CONTROL_FROM_M, "pixels": int(control.sum()), "ndvi_anomaly": base,
                "median_clear_obs": _median(n_clear[k][control])}}
        water = f["water_share"] >= rules.water_share
        facility = c == TAILINGS
        pond = facility & water
        tail = _water_state(pond, f, px_ha)
        tail["facility_area_ha"] = round(int(facility.sum()) * px_ha, 4)
        tail["pond_to_edge_m"] = None
        if pond.any():
            edge = ndimage.distance_transform_edt(facility) * pixel_m
            tail["pond_to_edge_m"] = round(float(edge[pond].min() - pixel_m / 2), 1)
        closer = (prev_pond is not None and prev_pond["pond_to_edge_m"] is not None
                  and tail["pond_to_edge_m"] is not None
                  and prev_pond["pond_to_edge_m"] - tail["pond_to_edge_m"] >= DAM_APPROACH_M)
        tail["pond_toward_dam"] = bool(closer or (tail["pond_to_edge_m"] is not None
                                                  and tail["pond_to_edge_m"] < DAM_APPROACH_M))
        tail["pond_emptied"] = bool(prev_pond is not None and prev_pond["pixels"] > 0
                                    and tail["pixels"] < (1 - EMPTIED_SHARE) * prev_pond["pixels"])
        entry["tailings_pond"] = tail
        entry["mine_water"] = _water_state(c == MINE_WATER, f, px_ha)
        prev_pond = tail
        out_years.append(entry)
    return {
        "definition": (
            "vegetation: mean greenest NDVI (90th percentile of the clear observations of July-December) of "
            "pixels vegetated over the series and never mine, in rings from the edge of each year's mine "
            "footprint; anomaly = each pixel's NDVI less its median over the series' years, net of the same "
            f"anomaly beyond {CONTROL_FROM_M:.0f} m (a drought year lowers the whole scene); water: tailings pond "
            "= water inside the tailings class, turbidity as NDTI (red-green)/(red+green), a relative index, not "
            "NTU; iron-oxide colour as the red/blue reflectance ratio; pond_to_edge_m is the distance from the "
            "pond to the outer edge of its facility, the scale of the grid (one pixel) being its limit"),
        "rings_m": [list(r) for r in RINGS_M],
        "years": out_years,
    }
