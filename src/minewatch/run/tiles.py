"""The tile loop of a run: each tile's pixels read once, screened, detected, composited and kept.

Per tile: :func:`~minewatch.imagery.load.load_tile` reads every band of every scene;
:func:`~minewatch.imagery.masks.screen_tile` labels each observation; the change indices of
the clear observations go through :func:`~minewatch.analysis.disturbance.map_tile` (history
fit, then the sequential monitor over the monitored acquisitions); median
composites of the year before the period and of its last year are made for the report, and the
per-year features of the footprint classes (:mod:`minewatch.analysis.footprint.features`); what
the evidence and the river signal need is kept in the :class:`~minewatch.run.pixels.PixelStore`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from minewatch.analysis.composites import COMPOSITE_BANDS, median_composite
from minewatch.analysis.disturbance import TileDisturbance, clean_small_patches, map_tile
from minewatch.analysis.footprint.features import FEATURES, year_features
from minewatch.analysis.indices import change_stack
from minewatch.dates import to_day
from minewatch.imagery.load import Grid, load_tile
from minewatch.imagery.masks import CLEAR, NODATA, screen_tile
from minewatch.run.inputs import MASK_BANDS, ResolvedInputs
from minewatch.run.pixels import PixelStore
from minewatch.run.request import MonitoringRequest, Progress


#: Codes of ``assessment.tif``: why a pixel could (0) or could not be assessed.
ASSESSED, NO_DATA, FEW_HISTORY, NO_MONITORED = 0, 1, 2, 3
ASSESSMENT_CODES = {ASSESSED: "assessed", NO_DATA: "no data", FEW_HISTORY: "too few clear history observations",
                    NO_MONITORED: "no clear observation in the monitored period"}


@dataclass
class RunRasters:
    """Full-grid results of the tile loop."""

    grid: Grid
    disturbance: TileDisturbance  #: onset, level, first_seen, ... of new disturbance, per pixel
    before: np.ndarray  #: (5, h, w) median composite of COMPOSITE_BANDS, the year before the period
    after: np.ndarray  #: same, the period's last year
    clear_share: list[float]  #: per scene, the share of its valid pixels that were clear
    assessment: np.ndarray  #: uint8 :data:`ASSESSMENT_CODES` per pixel
    last_clear: np.ndarray  #: int32 day of each pixel's last clear observation, 0 = none
    years: list[int]  #: the calendar years of the scenes
    clear_per_year: np.ndarray  #: (years, h, w) uint16 clear observations per pixel and year
    year_features: np.ndarray  #: (years, FEATURES, h, w) float32 footprint features per year

    @property
    def onset(self) -> np.ndarray:
        """int32 onset of every pixel flagged at any level or retracted (``disturbance_date.tif``)."""
        return self.disturbance.onset

    @property
    def confidence(self) -> np.ndarray:
        """float32 posterior probability of change (0 where not flagged)."""
        return self.disturbance.confidence

    @property
    def level(self) -> np.ndarray:
        """uint8 alert level (``alert_level.tif``): 0 none, 1 possible, 2 probable, 3 confirmed."""
        return self.disturbance.level


def assess(clear: np.ndarray, valid: np.ndarray, history: np.ndarray, min_history_obs: int) -> np.ndarray:
    """Per pixel, whether the change model can assess it (:data:`ASSESSMENT_CODES`).

    A pixel is assessed when it has at least ``min_history_obs`` clear observations in the history
    (what the change model needs to fit its season) and at least one in the monitored period.
    """
    out = np.full(clear.shape[1:], ASSESSED, np.uint8)
    out[clear[~history].sum(axis=0) == 0] = NO_MONITORED
    out[clear[history].sum(axis=0) < min_history_obs] = FEW_HISTORY
    out[~valid.any(axis=0)] = NO_DATA
    return out


def analyse_tiles(req: MonitoringRequest, inputs: ResolvedInputs, store: PixelStore,
                  progress: Progress) -> RunRasters:
    """Run the tile loop over the whole grid (see the module docstring)."""
    items, grid, params = inputs.items, inputs.grid, req.detection.params
    days = np.array([it.day for it in items], np.int64)
    start_day, end_day = to_day(req.period.start), to_day(req.period.end)
    monitored = days >= start_day
    h, w = grid.shape
    dist = TileDisturbance.empty((h, w))
    before = np.full((len(COMPOSITE_BANDS), h, w), np.nan, np.float32)
    after = np.full_like(before, np.nan)
    clear_count = np.zeros(len(items), np.int64)
    valid_count = np.zeros(len(items), np.int64)
    assessment = np.zeros((h, w), np.uint8)
    last_clear = np.zeros((h, w), np.int32)
    item_years = np.array([it.date.year for it in items])
    years = sorted(set(item_years.tolist()))
    clear_per_year = np.zeros((len(years), h, w), np.uint16)
    item_months = np.array([it.date.month for it in items])
    features = np.full((len(years), len(FEATURES), h, w), np.nan, np.float32)
    history = days < start_day
    sel_before = (days < start_day) & (days >= start_day - 365)
    sel_after = (days <= end_day) & (days > end_day - 365)
    tiles = list(grid.tiles(req.detection.tile_size))
    for i, window in enumerate(tiles):
        progress("analysing tiles", i, len(tiles))
        data = load_tile(items, inputs.bands, grid, window, skipped=inputs.skipped)
        status = screen_tile(items, data)
        for band in MASK_BANDS:  # the provider's masks were only hints for the screening
            data.pop(band, None)
        clear = status == CLEAR
        valid = status != NODATA
        clear_count += clear.reshape(len(items), -1).sum(axis=1)
        valid_count += valid.reshape(len(items), -1).sum(axis=1)
        stack = change_stack(data)
        stack[~np.broadcast_to(clear[:, None], stack.shape)] = np.nan
        tile = map_tile(stack, days, start_day, end_day, params)
        del stack
        rows = slice(int(window.row_off), int(window.row_off + window.height))
        cols = slice(int(window.col_off), int(window.col_off + window.width))
        assessment[rows, cols] = assess(clear, valid, history, params.change.min_history_obs)
        last = len(items) - 1 - clear[::-1].argmax(axis=0)  # index of each pixel's last clear scene
        last_clear[rows, cols] = np.where(clear.any(axis=0), days[last], 0)
        for k, year in enumerate(years):
            clear_per_year[k, rows, cols] = clear[item_years == year].sum(axis=0)
        dist.put(rows, cols, tile)
        before[:, rows, cols] = median_composite(data, clear, sel_before)
        after[:, rows, cols] = median_composite(data, clear, sel_after)
        features[:, :, rows, cols] = year_features(data, clear, item_years, item_months, years)
        store.keep(window, data, clear, tile.onset > 0, monitored, params.min_area_px)
    progress("analysing tiles", len(tiles), len(tiles))
    clean_small_patches(dist, params.min_area_px)
    share = [float(c) / v if v else 0.0 for c, v in zip(clear_count, valid_count, strict=True)]
    return RunRasters(grid, dist, before, after, share, assessment, last_clear, years, clear_per_year,
                      features)

