"""Alert polygons from the onset raster and the licence check.

An alert is one 8-connected patch of new disturbance whose pixels share the
same licence situation at onset (authorised by licence X, or outside every
valid licence): a pit that crosses its boundary gives separate alerts for the
parts inside and outside. Each alert carries its area by onset year, so a mine
that keeps growing shows its growth inside one alert.
"""

from __future__ import annotations

import numpy as np
import shapely
from rasterio import features
from scipy import ndimage
from shapely.geometry import mapping, shape

from minewatch.analysis.compliance import ComplianceResult, LicencePeriod, from_day, reproject_geometry
from minewatch.imagery.load import Grid


def _outside_reason(sl, sub, day: int, compliance: ComplianceResult, periods: list[LicencePeriod]) -> str:
    """Why a patch is outside licence: the state at onset of a licence whose boundary holds
    most of it (expired, suspended, revoked, not_yet_valid), else ``no_licence``."""
    best, best_share = None, 0.0
    for period in periods:
        share = float(compliance.inside_masks[period.licence_id][sl][sub].mean())
        if share > best_share:
            best, best_share = period, share
    if best is None or best_share < 0.5:
        return "no_licence"
    if day < best.active_from:
        return "not_yet_valid"
    if best.status in ("suspended", "revoked"):
        return best.status
    return "expired"


def build_alerts(
    onset: np.ndarray,
    confidence: np.ndarray,
    compliance: ComplianceResult,
    periods: list[LicencePeriod],
    grid: Grid,
) -> tuple[list[dict], np.ndarray]:
    """Return the alert records (EPSG:4326 GeoJSON geometry) and the alert-id raster (0 = none)."""
    disturbed = onset > 0
    years = np.zeros(onset.shape, np.int32)
    if disturbed.any():
        dates = onset[disturbed].astype("int64").astype("datetime64[D]")
        years[disturbed] = dates.astype("datetime64[Y]").astype(int) + 1970
    key = np.where(disturbed, compliance.period_index.astype(np.int32) + 2, 0)
    label_raster = np.zeros(onset.shape, np.int32)
    next_label = 0
    for value in np.unique(key[key > 0]):
        lab, n = ndimage.label(key == value, structure=np.ones((3, 3), bool))
        label_raster[lab > 0] = lab[lab > 0] + next_label
        next_label += n
    if next_label == 0:
        return [], label_raster

    shapes_by_label: dict[int, list] = {}
    for geom, value in features.shapes(label_raster, mask=label_raster > 0, transform=grid.transform,
                                       connectivity=8):
        shapes_by_label.setdefault(int(value), []).append(shape(geom))

    px_ha = grid.pixel_area_m2() / 10_000.0
    alerts = []
    index = ndimage.find_objects(label_raster)
    for lab in range(1, next_label + 1):
        sl = index[lab - 1]
        if sl is None:
            continue
        sub = label_raster[sl] == lab
        days = onset[sl][sub]
        pidx = int(compliance.period_index[sl][sub][0])
        period = periods[pidx] if pidx >= 0 else None
        onset10 = int(np.percentile(days, 10, method="lower"))
        status = "active" if period else _outside_reason(sl, sub, onset10, compliance, periods)
        geom = shapely.union_all(shapes_by_label[lab])
        geom84 = reproject_geometry(geom, grid.crs.to_wkt(), 4326)
        alerts.append(
            {
                "onset_day": onset10,
                "area_by_year_ha": {str(y): round(float(c * px_ha), 4) for y, c in
                                    zip(*np.unique(years[sl][sub], return_counts=True), strict=True)},
                "area_ha": round(float(sub.sum() * px_ha), 4),
                "n_pixels": int(sub.sum()),
                "licence_id": period.licence_id if period else None,
                "licence_status_at_onset": status,
                "confidence": round(float(np.mean(confidence[sl][sub])), 3),
                "label": lab,
                "geometry_obj": geom84,
            }
        )
    alerts.sort(key=lambda a: (a["onset_day"], -a["area_ha"]))
    relabel = np.zeros(next_label + 1, np.int32)
    for i, alert in enumerate(alerts, start=1):
        alert["alert_id"] = f"A{i:04d}"
        alert["onset_date"] = from_day(alert.pop("onset_day")).isoformat()
        alert["geometry"] = mapping(alert["geometry_obj"])
        relabel[alert.pop("label")] = i
    return alerts, relabel[label_raster]
