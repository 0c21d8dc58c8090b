"""The typed result of one monitoring run, and the summary built from it in one place.

:class:`RunResult` holds what a run computed (rasters, alerts, compliance, receptors at
risk, water section, notes); :func:`build_summary` turns it into ``summary.json`` (the batch
contract, docs/batch-contract.md). Writers, the report and the evidence package read the
result and the summary; none recomputes a figure.
"""

from __future__ import annotations

import datetime as dt
import platform
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import rasterio

from minewatch import __version__
from minewatch.analysis.alerts import Alert
from minewatch.analysis.change import LEVEL_NAMES
from minewatch.analysis.change.monitor import PROBABLE
from minewatch.analysis.compliance import ComplianceResult
from minewatch.analysis.hydrology.receptors import RiskResult
from minewatch.analysis.licences import LicencePeriod, Receptor
from minewatch.dates import from_day, to_day
from minewatch.imagery.catalog import SceneItem, SkippedAsset
from minewatch.imagery.load import Grid
from minewatch.run.footprint import FootprintSection
from minewatch.run.request import MonitoringRequest
from minewatch.run.tiles import ASSESSED, ASSESSMENT_CODES, RunRasters

FOOTPRINT_DEFINITION = (
    "bare ground (NDVI < 0.2) or open water (NIR < 0.05 and NDVI < 0) in the median of clear observations of the "
    "last monitored year: the mine as it stands, with any natural bare ground or water in the scene")


@dataclass
class WaterSection:
    """``summary["water"]``: field samples and the river signal, and the river chart."""

    samples: dict | None = None
    river_signal: dict | None = None
    chart_png: bytes | None = None

    def summary(self, river_signal: bool) -> dict:
        out: dict = {"samples": self.samples}
        if river_signal:
            out["river_signal"] = self.river_signal
        return out


@dataclass
class RunResult:
    """Everything one run computed."""

    request: MonitoringRequest
    catalog: Path  #: the STAC catalog read (given or fetched)
    dem: Path | None  #: the DEM read (given or fetched)
    items: list[SceneItem]  #: the scenes used, by date
    grid: Grid
    rasters: RunRasters
    footprint: np.ndarray  #: uint8: 0 other, 1 bare ground, 2 open water (the period's last year)
    classes: FootprintSection  #: footprint classes per year, their areas, the environment
    compliance: ComplianceResult
    alerts: list[Alert]
    alert_raster: np.ndarray  #: int32 alert number per pixel (A0001 -> 1), 0 = none
    periods: list[LicencePeriod]
    receptors: list[Receptor]
    risk: RiskResult | None  #: receptors downstream (None without a DEM or without alerts)
    water: WaterSection
    history_start: dt.date
    started: dt.datetime
    notes: list[str] = field(default_factory=list)
    skipped: list[SkippedAsset] = field(default_factory=list)  #: assets left out (header or read), and why
    finished: dt.datetime | None = None
    summary: dict = field(default_factory=dict)  #: what summary.json holds (:func:`build_summary`)
    run_id: str | None = None  #: the registry's id of a site run

    @property
    def site(self) -> str | None:
        return self.request.site

    @property
    def water_assessed(self) -> bool:
        """Whether receptors downstream were assessed (a DEM and receptors were given)."""
        return self.dem is not None and bool(self.receptors)


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


def counted_onset(res: RunResult) -> np.ndarray:
    """Onset of the pixels the totals count (level >= probable), 0 elsewhere."""
    return np.where(res.rasters.level >= PROBABLE, res.rasters.onset, 0)


def _licence_rows(res: RunResult, px_ha: float) -> list[dict]:
    disturbed = counted_onset(res) > 0
    comp = res.compliance
    rows = []
    for lid in dict.fromkeys(p.licence_id for p in res.periods):
        p = [q for q in res.periods if q.licence_id == lid][-1]  # newest version
        mask = comp.inside_masks[lid]
        rows.append({
            "licence_id": lid,
            "holder": p.holder,
            "commodity": p.commodity,
            "status": p.status,
            "disturbed_area_ha": round(float((disturbed & mask).sum() * px_ha), 4),
            "footprint_ha": round(float(((res.footprint > 0) & mask).sum() * px_ha), 4),
            "authorised_disturbed_area_ha": round(
                float(sum(((comp.period_index == k) & disturbed).sum() for k, q in enumerate(res.periods)
                          if q.licence_id == lid) * px_ha), 4),
        })
    return rows


def _assessment(res: RunResult, px_ha: float) -> dict:
    """``summary["assessment"]``: where the change model could judge, and how much it saw, per year."""
    r, req = res.rasters, res.request
    codes = r.assessment
    end_day = to_day(req.period.end)
    counts = np.bincount(codes.ravel(), minlength=len(ASSESSMENT_CODES))
    seen = r.last_clear > 0
    age = end_day - r.last_clear[seen]
    start = req.period.start.year
    return {
        "definition": (f"a pixel is assessed when it has at least {req.detection.params.change.min_history_obs} "
                       f"clear observations before {req.period.start} (to model its seasons) and at least one "
                       f"in the monitored period; elsewhere nothing can be said, and no disturbance there "
                       f"means 'not assessed', not 'none'"),
        "min_history_clear_obs": req.detection.params.change.min_history_obs,
        "assessed_ha": round(float(counts[ASSESSED] * px_ha), 4),
        "assessed_share": round(float(counts[ASSESSED] / codes.size), 4),
        "not_assessed_ha": {ASSESSMENT_CODES[c]: round(float(counts[c] * px_ha), 4)
                            for c in ASSESSMENT_CODES if c != ASSESSED},
        "clear_obs_per_year": [
            {"year": y, "role": "history" if y < start else "monitored" if y > start or req.period.start.month == 1
             and req.period.start.day == 1 else "history and monitored",
             "median_clear_obs_per_pixel": float(np.median(r.clear_per_year[k])),
             "share_of_pixels_with_a_clear_obs": round(float((r.clear_per_year[k] > 0).mean()), 4)}
            for k, y in enumerate(r.years)],
        "skipped_assets": [s.as_dict() for s in res.skipped],
        "last_clear_obs": {
            "median_days_before_end": float(np.median(age)) if age.size else None,
            "share_of_pixels_within_30_days": round(float((age <= 30).sum() / codes.size), 4),
            "share_of_pixels_within_90_days": round(float((age <= 90).sum() / codes.size), 4),
        },
    }


def build_summary(res: RunResult, shown: Callable[[Path], Path] = Path) -> dict:
    """``summary.json`` of a run (docs/batch-contract.md); ``shown`` maps a path of the run's staging
    folder to where it will be published."""
    req, grid = res.request, res.grid
    px_ha = grid.pixel_area_m2() / 10_000.0
    onset = counted_onset(res)  # totals count level >= probable
    disturbed = onset > 0
    outside = res.compliance.outside & disturbed
    level = res.rasters.level
    first_alert = min((a.onset_date for a in res.alerts if a.level >= PROBABLE), default=None)
    any_licence = res.compliance.any_licence()
    footprint = res.footprint
    first = int(onset[disturbed].min()) if disturbed.any() else None
    det = req.detection
    return {
        "minewatch_version": __version__,
        "catalog": str(shown(res.catalog)),
        "site": res.site,
        "period": {"history_start": res.history_start.isoformat(), "start": req.period.start.isoformat(),
                   "end": req.period.end.isoformat()},
        "grid": {"crs": grid.crs.to_string(), "resolution_m": grid.res, "width": grid.width,
                 "height": grid.height, "pixel_area_m2": round(grid.pixel_area_m2(), 3)},
        "disturbance": {
            "total_area_ha": round(float(disturbed.sum() * px_ha), 4),
            "outside_licence_area_ha": round(float(outside.sum() * px_ha), 4),
            "outside_every_boundary_ha": round(float((disturbed & ~any_licence).sum() * px_ha), 4),
            "first_date": from_day(first).isoformat() if first else None,
            "first_alert_date": first_alert.isoformat() if first_alert else None,
            "n_alerts": len(res.alerts),
            "counted_levels": "probable and confirmed (level >= 2)",
            "area_by_level_ha": {LEVEL_NAMES[k]: round(float((level == k).sum() * px_ha), 4) for k in (1, 2, 3)},
            "retracted_area_ha": round(float(res.rasters.disturbance.retracted.sum() * px_ha), 4),
            "n_alerts_by_level": {name: sum(a.level_name == name for a in res.alerts)
                                  for name in ("possible", "probable", "confirmed", "retracted")},
            "timeline": _area_timeline(onset, outside, px_ha),
        },
        "footprint": {
            "definition": FOOTPRINT_DEFINITION,
            "bare_ha": round(float((footprint == 1).sum() * px_ha), 4),
            "water_ha": round(float((footprint == 2).sum() * px_ha), 4),
            "inside_licences_ha": round(float(((footprint > 0) & any_licence).sum() * px_ha), 4),
            "outside_licences_ha": round(float(((footprint > 0) & ~any_licence).sum() * px_ha), 4),
        },
        "footprint_legend": res.classes.legend,
        "footprint_by_year": res.classes.by_year,
        "environment": {**res.classes.environment, "river_signal": "see water.river_signal"
                        if req.water.river_signal else None},
        "assessment": _assessment(res, px_ha),
        "licences": _licence_rows(res, px_ha),
        "alerts": [a.record() for a in res.alerts],
        "receptors_at_risk": [] if res.risk is None else [
            {"receptor_id": r["receptor_id"], "kind": r["kind"], "name": r.get("name"),
             "flow_distance_m": round(float(r["flow_distance_m"]), 1),
             "travel_time_h": r.get("travel_time_h"), "alert_ids": list(r["alert_ids"])}
            for r in res.risk.receptors
        ],
        "receptors_checked": [r.receptor_id for r in res.receptors],
        "water": res.water.summary(req.water.river_signal),
        "scenes_used": [
            {"id": it.id, "date": it.date.isoformat(),
             "role": "history" if it.date < req.period.start else "monitored",
             "clear_share": round(s, 3), "platform": it.platform}
            for it, s in zip(res.items, res.rasters.clear_share, strict=True)
        ],
        "parameters": {"disturbance": det.params.as_dict(), "tile_size": det.tile_size,
                       "max_flow_distance_m": det.max_flow_distance_m, "backend": det.backend},
        "notes": list(res.notes),
        "run": {"started": res.started.isoformat(timespec="seconds"),
                "finished": (res.finished or dt.datetime.now(dt.timezone.utc)).isoformat(timespec="seconds"),
                "python": platform.python_version(), "numpy": np.__version__,
                "rasterio": rasterio.__version__, "gdal": rasterio.__gdal_version__},
    }
