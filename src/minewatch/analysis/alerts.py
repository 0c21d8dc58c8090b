"""Alert polygons from the disturbance rasters and the licence check.

An alert is one 8-connected patch of pixels flagged at any level (or retracted) whose pixels
share the same licence situation at onset (authorised by licence X, or outside every valid
licence): a pit that crosses its boundary gives separate alerts for the parts inside and
outside. Each alert carries its area by onset year, so a mine that keeps growing shows its growth
inside one alert, and its area by level. Its level is the highest level of its pixels; it is
retracted when none of its pixels is flagged any more (all fell back to their history model).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import numpy as np
import shapely
from rasterio import features
from scipy import ndimage
from shapely.geometry import mapping, shape

from minewatch.analysis.change import LEVEL_NAMES
from minewatch.analysis.compliance import ComplianceResult
from minewatch.analysis.disturbance import TileDisturbance
from minewatch.analysis.geometry import reproject_geometry
from minewatch.analysis.licences import LicencePeriod
from minewatch.dates import from_day
from minewatch.imagery.load import Grid


@dataclass(frozen=True)
class Alert:
    """One alert: a patch of new disturbance with one licence situation at onset."""

    alert_id: str  #: ``A0001``..., numbered by onset then area
    number: int  #: its value in the alert raster (A0001 -> 1)
    onset_date: dt.date  #: 10th percentile of the patch's pixel onsets
    area_ha: float
    area_by_year_ha: dict[str, float]  #: area by onset year
    n_pixels: int
    licence_id: str | None  #: the licence authorising it at onset, ``None`` when outside
    licence_status_at_onset: str  #: active | expired | suspended | revoked | not_yet_valid | no_licence
    confidence: float  #: mean pixel probability of change, 0..1
    geometry: shapely.Geometry = field(repr=False)  #: EPSG:4326
    level: int = 2  #: highest level of its pixels: 1 possible, 2 probable, 3 confirmed (0 when retracted)
    first_seen: dt.date | None = None  #: acquisition on which it was first reported, at any level
    confirmed_on: dt.date | None = None  #: acquisition on which it first reached confirmed
    retracted: bool = False  #: every pixel fell back to its history model
    area_by_level_ha: dict[str, float] = field(default_factory=dict)  #: possible/probable/confirmed/retracted
    footprint_class: str | None = None  #: the footprint class it turned into (None: not classed mine)

    @property
    def level_name(self) -> str:
        return "retracted" if self.retracted else LEVEL_NAMES[self.level]

    def properties(self) -> dict:
        """The alert's properties as summary.json and alerts.geojson list them (contract order)."""
        return {
            "area_by_year_ha": self.area_by_year_ha, "area_ha": self.area_ha, "n_pixels": self.n_pixels,
            "licence_id": self.licence_id, "licence_status_at_onset": self.licence_status_at_onset,
            "confidence": self.confidence, "alert_id": self.alert_id, "onset_date": self.onset_date.isoformat(),
            "level": self.level, "level_name": self.level_name,
            "first_seen": self.first_seen.isoformat() if self.first_seen else None,
            "confirmed_on": self.confirmed_on.isoformat() if self.confirmed_on else None,
            "retracted": self.retracted, "area_by_level_ha": self.area_by_level_ha,
            "footprint_class": self.footprint_class,
        }

    def record(self) -> dict:
        """:meth:`properties` plus the GeoJSON geometry (summary.json's ``alerts`` entries)."""
        return {**self.properties(), "geometry": mapping(self.geometry)}

    def feature(self) -> dict:
        """A GeoJSON Feature (alerts.geojson)."""
        return {"type": "Feature", "properties": self.properties(), "geometry": mapping(self.geometry)}


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
    dist: TileDisturbance,
    compliance: ComplianceResult,
    periods: list[LicencePeriod],
    grid: Grid,
) -> tuple[list[Alert], np.ndarray]:
    """Return the alerts (sorted by onset, then larger first) and the alert-number raster (0 = none)."""
    onset, confidence = dist.onset, dist.confidence
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
    patches = []
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
        area_ha = round(float(sub.sum() * px_ha), 4)
        levels = dist.level[sl][sub]
        level = int(levels.max())
        seen = dist.first_seen[sl][sub]
        confirmed = dist.confirmed_on[sl][sub][levels == 3]
        by_level = {LEVEL_NAMES[k]: round(float((levels == k).sum() * px_ha), 4) for k in (1, 2, 3)}
        by_level["retracted"] = round(float(dist.retracted[sl][sub].sum() * px_ha), 4)
        patches.append((onset10, -area_ha, lab, dict(
            level=level,
            first_seen=from_day(int(seen[seen > 0].min())) if (seen > 0).any() else None,
            confirmed_on=from_day(int(confirmed[confirmed > 0].min())) if (confirmed > 0).any() else None,
            retracted=level == 0,
            area_by_level_ha=by_level,
            area_by_year_ha={str(y): round(float(c * px_ha), 4) for y, c in
                             zip(*np.unique(years[sl][sub], return_counts=True), strict=True)},
            area_ha=area_ha,
            n_pixels=int(sub.sum()),
            licence_id=period.licence_id if period else None,
            licence_status_at_onset="active" if period else _outside_reason(sl, sub, onset10, compliance, periods),
            confidence=round(float(np.mean(confidence[sl][sub][levels > 0])) if level else 0.0, 3),
            geometry=reproject_geometry(shapely.union_all(shapes_by_label[lab]), grid.crs.to_wkt(), 4326),
        )))
    patches.sort(key=lambda p: (p[0], p[1]))
    relabel = np.zeros(next_label + 1, np.int32)
    alerts = []
    for i, (onset10, _, lab, fields) in enumerate(patches, start=1):
        alerts.append(Alert(alert_id=f"A{i:04d}", number=i, onset_date=from_day(onset10), **fields))
        relabel[lab] = i
    return alerts, relabel[label_raster]
