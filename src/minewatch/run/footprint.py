"""The footprint step of a run: classes per year, their areas, each alert's class, the environment.

Runs after the tile loop on its per-year features (:attr:`RunRasters.year_features`): the context
rules of :func:`~minewatch.analysis.footprint.classify.classify_years` (with the depth of each pixel
in its DEM depression when the run has a DEM), the areas per class and year inside / outside the
licences, the class each alert turned into, and the environmental condition around the mine.
"""

from __future__ import annotations

import dataclasses
import math
import time
from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from minewatch.analysis.alerts import Alert
from minewatch.analysis.footprint.areas import footprint_by_year, turned_into
from minewatch.analysis.footprint.classify import FOOTPRINT_LEGEND, FootprintRules, classify_years
from minewatch.analysis.footprint.environment import environment
from minewatch.imagery.load import Grid


@dataclass
class FootprintSection:
    """What the footprint step computed."""

    classes: np.ndarray  #: (years, h, w) uint8 codes of FOOTPRINT_LEGEND
    years: list[int]
    by_year: list[dict]  #: summary["footprint_by_year"]
    environment: dict  #: summary["environment"]
    seconds: float  #: time the context rules, areas and environment took

    @property
    def legend(self) -> dict[str, str]:
        return {str(k): v for k, v in FOOTPRINT_LEGEND.items()}


def depression_depth(flow, grid: Grid) -> np.ndarray | None:
    """Depth of each grid pixel below its depression-filled DEM, metres (``None`` without a DEM)."""
    if flow is None:
        return None
    from rasterio.warp import Resampling, reproject

    dem = flow.dem
    depth = np.where(flow.valid, flow.filled.astype(np.float32) - dem.data.astype(np.float32), np.nan)
    out = np.full(grid.shape, np.nan, np.float32)
    reproject(depth.astype(np.float32), out, src_transform=dem.transform, src_crs=dem.crs, src_nodata=np.nan,
              dst_transform=grid.transform, dst_crs=grid.crs, dst_nodata=np.nan, resampling=Resampling.bilinear)
    return out


def footprint_section(rasters, grid: Grid, flow, alerts: list[Alert], alert_raster: np.ndarray,
                      inside: np.ndarray, rules: FootprintRules = FootprintRules()
                      ) -> tuple[FootprintSection, list[Alert]]:
    """Classify the footprint per year and derive its figures; returns the section and the alerts
    with the class each turned into."""
    started = time.perf_counter()
    pixel_m = math.sqrt(grid.pixel_area_m2())
    classes = classify_years(rasters.year_features, pixel_m, depth=depression_depth(flow, grid), rules=rules)
    years = list(rasters.years)
    px_ha = grid.pixel_area_m2() / 10_000.0
    by_year = footprint_by_year(classes, years, inside, px_ha)
    env = environment(classes, rasters.year_features, years, pixel_m, rules)
    boxes = ndimage.find_objects(alert_raster)
    alerts = [dataclasses.replace(a, footprint_class=turned_into(
        classes[(slice(None), *boxes[a.number - 1])], years, alert_raster[boxes[a.number - 1]] == a.number,
        a.onset_date)) if a.number <= len(boxes) and boxes[a.number - 1] is not None else a for a in alerts]
    return FootprintSection(classes, years, by_year, env, time.perf_counter() - started), alerts
