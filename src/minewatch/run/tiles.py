"""The tiles of a run as tasks: each tile's pixels read once, screened, detected, composited and kept.

:func:`process_tile` is one task: a pure function of the request, the picklable
:class:`TileInputs` and a window, returning a :class:`TileResult`. It runs in this process
(serial) or on Dask workers (:mod:`minewatch.run.cluster`); finished tiles are checkpointed
(:mod:`minewatch.run.checkpoint`) and :func:`analyse_tiles` merges them, in tile order, into
the run's rasters.

Per tile: :func:`~minewatch.imagery.load.load_tile` reads every band of every scene;
:func:`~minewatch.imagery.masks.screen_tile` labels each observation; the change indices of
the clear observations go through :func:`~minewatch.analysis.disturbance.map_tile` (history
fit, then the sequential monitor over the monitored acquisitions); median composites of the year
before the period and of its last year are made for the report, and the per-year features of the
footprint classes (:mod:`minewatch.analysis.footprint.features`); what
the evidence and the river signal need is kept in the :class:`~minewatch.run.pixels.PixelStore`.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
from rasterio.windows import Window

from minewatch.analysis.composites import COMPOSITE_BANDS, median_composite
from minewatch.analysis.disturbance import TileDisturbance, clean_small_patches, map_tile
from minewatch.analysis.footprint.features import FEATURES, year_features
from minewatch.analysis.indices import change_stack
from minewatch.dates import to_day
from minewatch.imagery.catalog import SceneItem, SkippedAsset
from minewatch.imagery.load import Grid, load_tile
from minewatch.imagery.masks import CLEAR, NODATA, screen_tile
from minewatch.run.checkpoint import TileCheckpoint, request_key
from minewatch.run.inputs import MASK_BANDS, ResolvedInputs
from minewatch.run.pixels import KeptPixels, PixelStore, kept_pixels
from minewatch.run.request import MonitoringRequest, Progress

if TYPE_CHECKING:
    from minewatch.run.cluster import Executor


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


@dataclass(frozen=True)
class TileInputs:
    """What a tile task needs of the resolved inputs: small and picklable (no registry, no DEM)."""

    items: tuple[SceneItem, ...]
    bands: tuple[str, ...]
    grid: Grid

    @classmethod
    def of(cls, inputs: ResolvedInputs) -> TileInputs:
        return cls(tuple(inputs.items), tuple(inputs.bands), inputs.grid)


@dataclass
class TileResult:
    """Everything one tile contributes to the run (see :class:`RunRasters` for the arrays' meaning)."""

    window: Window
    disturbance: TileDisturbance  #: before the full grid's small-patch rule
    before: np.ndarray
    after: np.ndarray
    clear_count: np.ndarray  #: (T,) clear pixels per scene
    valid_count: np.ndarray  #: (T,) valid pixels per scene
    assessment: np.ndarray
    last_clear: np.ndarray
    clear_per_year: np.ndarray
    features: np.ndarray  #: (years, FEATURES, h, w) footprint features per year
    kept: KeptPixels | None  #: pixels kept for the evidence and the river signal
    skipped: list[SkippedAsset] = field(default_factory=list)  #: band files that failed while read


def _years(items) -> list[int]:
    return sorted({it.date.year for it in items})


def process_tile(req: MonitoringRequest, inputs: TileInputs, window: Window) -> TileResult:
    """Analyse one tile (see the module docstring): a pure function of its arguments."""
    items, grid, params = list(inputs.items), inputs.grid, req.detection.params
    days = np.array([it.day for it in items], np.int64)
    start_day, end_day = to_day(req.period.start), to_day(req.period.end)
    history = days < start_day
    item_years = np.array([it.date.year for it in items])
    item_months = np.array([it.date.month for it in items])
    skipped: list[SkippedAsset] = []
    data = load_tile(items, list(inputs.bands), grid, window, skipped=skipped)
    status = screen_tile(items, data)
    for band in MASK_BANDS:  # the provider's masks were only hints for the screening
        data.pop(band, None)
    clear = status == CLEAR
    valid = status != NODATA
    stack = change_stack(data)
    stack[~np.broadcast_to(clear[:, None], stack.shape)] = np.nan
    tile = map_tile(stack, days, start_day, end_day, params)
    del stack
    last = len(items) - 1 - clear[::-1].argmax(axis=0)  # index of each pixel's last clear scene
    sel_before = (days < start_day) & (days >= start_day - 365)
    sel_after = (days <= end_day) & (days > end_day - 365)
    return TileResult(
        window=window, disturbance=tile,
        before=median_composite(data, clear, sel_before), after=median_composite(data, clear, sel_after),
        clear_count=clear.reshape(len(items), -1).sum(axis=1), valid_count=valid.reshape(len(items), -1).sum(axis=1),
        assessment=assess(clear, valid, history, params.change.min_history_obs),
        last_clear=np.where(clear.any(axis=0), days[last], 0).astype(np.int32),
        clear_per_year=np.stack([clear[item_years == y].sum(axis=0) for y in _years(items)]).astype(np.uint16),
        features=year_features(data, clear, item_years, item_months, _years(items)),
        kept=kept_pixels(window, data, clear, tile.onset > 0, ~history, params.min_area_px),
        skipped=skipped)


def tile_key(req: MonitoringRequest, tile_inputs: TileInputs) -> str:
    """The hash of everything the tiles' results depend on (the checkpoint's key)."""
    return request_key(tile_inputs, req.period, req.detection)


def _tile_results(req: MonitoringRequest, tile_inputs: TileInputs, tiles: list[Window], executor: Executor,
                  checkpoint: TileCheckpoint) -> Iterator[tuple[int, TileResult]]:
    """Every tile's result: those checkpointed by an earlier run, then the others as they finish
    (each checkpointed as soon as it arrives)."""
    done = checkpoint.finished()
    yield from checkpoint.iter_finished()
    todo = [i for i in range(len(tiles)) if i not in set(done)]
    key = tile_key(req, tile_inputs)
    for j, result in executor.map(process_tile, (req, tile_inputs), [(tiles[i],) for i in todo],
                                  [f"tile-{key}-{i}" for i in todo]):
        checkpoint.save(todo[j], result)
        yield todo[j], result


def analyse_tiles(req: MonitoringRequest, inputs: ResolvedInputs, store: PixelStore, progress: Progress,
                  executor: Executor | None = None, checkpoint: TileCheckpoint | None = None) -> RunRasters:
    """Run every tile of the grid through ``executor`` (default: this process), skipping those
    ``checkpoint`` holds, and merge the results in tile order (see the module docstring)."""
    from minewatch.run.cluster import SerialExecutor

    executor = executor or SerialExecutor()
    checkpoint = checkpoint or TileCheckpoint(None)
    items, grid, params = inputs.items, inputs.grid, req.detection.params
    h, w = grid.shape
    dist = TileDisturbance.empty((h, w))
    before = np.full((len(COMPOSITE_BANDS), h, w), np.nan, np.float32)
    after = np.full_like(before, np.nan)
    clear_count = np.zeros(len(items), np.int64)
    valid_count = np.zeros(len(items), np.int64)
    assessment = np.zeros((h, w), np.uint8)
    last_clear = np.zeros((h, w), np.int32)
    years = _years(items)
    clear_per_year = np.zeros((len(years), h, w), np.uint16)
    features = np.full((len(years), len(FEATURES), h, w), np.nan, np.float32)
    tiles = list(grid.tiles(req.detection.tile_size))
    pending: dict[int, KeptPixels | None] = {}  # kept pixels of tiles that finished before an earlier one
    next_kept = 0
    skipped: dict[int, list[SkippedAsset]] = {}
    progress("analysing tiles", 0, len(tiles))
    results = _tile_results(req, TileInputs.of(inputs), tiles, executor, checkpoint)
    for done, (i, tile) in enumerate(results, start=1):
        rows = slice(int(tile.window.row_off), int(tile.window.row_off + tile.window.height))
        cols = slice(int(tile.window.col_off), int(tile.window.col_off + tile.window.width))
        dist.put(rows, cols, tile.disturbance)
        before[:, rows, cols] = tile.before
        after[:, rows, cols] = tile.after
        clear_count += tile.clear_count
        valid_count += tile.valid_count
        assessment[rows, cols] = tile.assessment
        last_clear[rows, cols] = tile.last_clear
        clear_per_year[:, rows, cols] = tile.clear_per_year
        features[:, :, rows, cols] = tile.features
        pending[i] = tile.kept
        while next_kept in pending:  # into the store in tile order, as soon as the order allows
            store.add(pending.pop(next_kept))
            next_kept += 1
        skipped[i] = tile.skipped
        progress("analysing tiles", done, len(tiles))
    for i in sorted(skipped):  # one entry per item and band however many tiles failed, as load_tile does
        for s in skipped[i]:
            if not any((k.item_id, k.band, k.stage) == (s.item_id, s.band, s.stage) for k in inputs.skipped):
                inputs.skipped.append(s)
    clean_small_patches(dist, params.min_area_px)
    share = [float(c) / v if v else 0.0 for c, v in zip(clear_count, valid_count, strict=True)]
    return RunRasters(grid, dist, before, after, share, assessment, last_clear, years, clear_per_year,
                      features)
