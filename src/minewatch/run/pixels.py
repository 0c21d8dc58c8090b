"""What the tile loop keeps of the pixels it read, so nothing is read or screened twice.

The tile loop reads every band of every scene once, tile by tile. Two later steps need
some of those pixels again, over windows that are only known once every tile is done:

* the **alert evidence** (before/after chips and time series of each alert): pixels near
  disturbance. Per tile, the store keeps the pixels within :data:`EVIDENCE_MARGIN_PX` of
  the tile's disturbed patches (after the same small-patch rule as the full grid, patches
  touching the tile's edge kept since they may go on in the next tile);
* the **river signal**: clear water pixels along the river. Per tile, the store keeps the
  pixels that are water (NDWI > 0) on at least one clear monitored observation: any other
  pixel is left out by the river signal whatever the river's course.

Kept pixels hold every reflectance band and the clear mask, for every scene. A window is
rebuilt from them by :meth:`PixelStore.window`; for the evidence, pixels of the window the
store does not hold (an alert larger than the margin) are read and screened through the
same reader, and counted in :attr:`PixelStore.rereads` (0 on the demo).

Kept pixels live in memory up to ``memory_budget`` bytes, then in ``.npy`` files under the
run's scratch folder, memory-mapped back.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from rasterio.windows import Window
from scipy import ndimage

from minewatch.imagery.catalog import SceneItem
from minewatch.imagery.load import Grid, load_tile
from minewatch.imagery.masks import CLEAR, screen_tile

#: How far around disturbance the evidence pixels reach (a chip is the alert's box grown by
#: half its size and 8 px, at least 48 px across).
EVIDENCE_MARGIN_PX = 64
#: Above this share of a tile's pixels, its arrays are kept whole (no copy).
DENSE_SHARE = 0.5
#: Kept pixels held in memory before spilling to the scratch folder.
MEMORY_BUDGET = 2 * 1024**3


@dataclass
class KeptPixels:
    """The kept pixels of one tile: where they are and their values (T, n) per band."""

    window: Window
    rows: np.ndarray  # int32 row in the tile of each kept pixel
    cols: np.ndarray
    evidence: np.ndarray  # bool: kept for the evidence (else only as a water pixel)
    values: dict[str, np.ndarray]  # band -> (T, n) float32
    clear: np.ndarray  # (T, n) bool

    def nbytes(self) -> int:
        return sum(v.nbytes for v in self.values.values()) + self.clear.nbytes


def _evidence_mask(disturbed: np.ndarray, min_area_px: int) -> np.ndarray:
    """Pixels within the margin of the tile's patches that may be alerts."""
    labels, n = ndimage.label(disturbed, structure=np.ones((3, 3), bool))
    if n == 0:
        return np.zeros(disturbed.shape, bool)
    sizes = np.bincount(labels.ravel())
    edge = np.unique(np.concatenate([labels[0], labels[-1], labels[:, 0], labels[:, -1]]))
    keep = sizes >= min_area_px
    keep[edge] = True
    keep[0] = False
    patches = keep[labels]
    if not patches.any():
        return patches
    far = ndimage.distance_transform_cdt(~patches, metric="chessboard")
    return far <= EVIDENCE_MARGIN_PX


def _water_mask(data: dict[str, np.ndarray], clear: np.ndarray, monitored: np.ndarray) -> np.ndarray:
    """Pixels that are water (NDWI > 0, as the river signal tests it) on a clear monitored scene."""
    green = data.get("green", data["blue"])
    water = np.zeros(clear.shape[1:], bool)
    for t in np.flatnonzero(monitored):  # one date at a time: no (T, h, w) float64 temporaries
        g, n = green[t].astype(float), data["nir"][t].astype(float)
        with np.errstate(invalid="ignore", divide="ignore"):
            water |= ((g - n) / (g + n) > 0.0) & clear[t]
    return water


def kept_pixels(window: Window, data: dict[str, np.ndarray], clear: np.ndarray, disturbed: np.ndarray,
                monitored: np.ndarray, min_area_px: int) -> KeptPixels | None:
    """What later steps need of one analysed tile (``None``: nothing).

    Parameters
    ----------
    window : Window
        The tile on the grid.
    data : dict
        The tile's bands as :func:`~minewatch.imagery.load.load_tile` read them.
    clear : (T, h, w) bool
        The clear mask of the screening.
    disturbed : (h, w) bool
        Disturbed pixels in the tile (before the full grid's small-patch rule).
    monitored : (T,) bool
        The monitored scenes.
    min_area_px : int
        The small-patch rule.
    """
    evidence = _evidence_mask(disturbed, min_area_px)
    keep = evidence | _water_mask(data, clear, monitored)
    T = clear.shape[0]
    if keep.mean() > DENSE_SHARE:  # most of the tile: keep the arrays themselves, no copy
        rows, cols = (a.ravel() for a in np.indices(keep.shape, np.int32))
        values = {b: v.reshape(T, -1) for b, v in data.items() if v.dtype == np.float32}
        return KeptPixels(window, rows, cols, evidence.ravel(), values, clear.reshape(T, -1))
    rows, cols = np.nonzero(keep)
    if rows.size == 0:
        return None
    values = {b: np.ascontiguousarray(v[:, rows, cols]) for b, v in data.items() if v.dtype == np.float32}
    return KeptPixels(window, rows.astype(np.int32), cols.astype(np.int32), evidence[rows, cols], values,
                      np.ascontiguousarray(clear[:, rows, cols]))


class PixelStore:
    """Pixels of a run kept for the alert evidence and the river signal (module docstring)."""

    def __init__(self, items: Sequence[SceneItem], grid: Grid, bands: Sequence[str], scratch: Path,
                 *, skipped: list | None = None, memory_budget: int = MEMORY_BUDGET) -> None:
        self.items = list(items)
        self.grid = grid
        self.bands = list(bands)  # every band read (for a re-read)
        self.scratch = Path(scratch)
        self.skipped = skipped  # where a failed re-read is recorded (SkippedAsset list)
        self.memory_budget = memory_budget
        self.tiles: list[KeptPixels] = []
        self.rereads = 0  # windows read again for the evidence
        self._in_memory = 0

    def add(self, kept: KeptPixels | None) -> None:
        """Hold the kept pixels of one analysed tile (:func:`kept_pixels`); spill past the budget."""
        if kept is None:
            return
        if self._in_memory + kept.nbytes() > self.memory_budget:
            self._spill(kept, len(self.tiles))
        else:
            self._in_memory += kept.nbytes()
        self.tiles.append(kept)

    def _spill(self, kept: KeptPixels, number: int) -> None:
        self.scratch.mkdir(parents=True, exist_ok=True)
        for name, arr in [*kept.values.items(), ("clear", kept.clear)]:
            path = self.scratch / f"tile{number:05d}_{name}.npy"
            np.save(path, arr)
            loaded = np.load(path, mmap_mode="r")
            if name == "clear":
                kept.clear = loaded
            else:
                kept.values[name] = loaded

    def window(self, window: Window, bands: Sequence[str], *, complete: bool) -> tuple[dict, np.ndarray]:
        """Bands ``(T, h, w)`` (NaN where not kept) and the clear mask of ``window``.

        ``complete=True`` (the evidence) reads and screens the pixels of the window the store
        does not hold for the evidence; ``complete=False`` (the river signal) leaves them out.
        """
        r0, c0 = int(window.row_off), int(window.col_off)
        h, w = int(window.height), int(window.width)
        T = len(self.items)
        out = {b: np.full((T, h, w), np.nan, np.float32) for b in bands}
        clear = np.zeros((T, h, w), bool)
        covered = np.zeros((h, w), bool)
        for kept in self.tiles:
            rr = kept.rows + int(kept.window.row_off) - r0
            cc = kept.cols + int(kept.window.col_off) - c0
            inside = (rr >= 0) & (rr < h) & (cc >= 0) & (cc < w)
            if not inside.any():
                continue
            idx = np.flatnonzero(inside)
            for b in bands:
                if b in kept.values:
                    out[b][:, rr[idx], cc[idx]] = kept.values[b][:, idx]
            clear[:, rr[idx], cc[idx]] = kept.clear[:, idx]
            ev = idx[kept.evidence[idx]]
            covered[rr[ev], cc[ev]] = True
        if complete and not covered.all():
            self._read_missing(window, bands, out, clear, covered)
        return out, clear

    def _read_missing(self, window: Window, bands, out: dict, clear: np.ndarray, covered: np.ndarray) -> None:
        """Read and screen the box of the window's pixels the store does not hold."""
        rows, cols = np.nonzero(~covered)
        box = Window(int(window.col_off) + int(cols.min()), int(window.row_off) + int(rows.min()),
                     int(cols.max() - cols.min() + 1), int(rows.max() - rows.min() + 1))
        data = load_tile(self.items, self.bands, self.grid, box, skipped=self.skipped)
        ok = screen_tile(self.items, data) == CLEAR
        self.rereads += 1
        sub = (slice(int(rows.min()), int(rows.max()) + 1), slice(int(cols.min()), int(cols.max()) + 1))
        miss = ~covered[sub]
        for b in bands:
            if b in data:
                out[b][:, sub[0], sub[1]][:, miss] = data[b][:, miss]
        clear[:, sub[0], sub[1]][:, miss] = ok[:, miss]
