"""Imagery tiles of a run, drawn by rio-tiler from the run's COGs (web-mercator XYZ, PNG).

Layers (see docs/web.md): ``before`` / ``after`` (true colour of ``composite_before.tif`` /
``composite_after.tif``), ``before-swir`` / ``after-swir`` (SWIR false colour: swir22, nir, red),
and ``footprint`` (``footprint.tif``: bare ground purple, open water blue). The two composites of a
run share one stretch (2nd to 98th percentile of both), so before and after compare by eye.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import numpy as np
import rasterio
from rasterio.enums import Resampling
from rio_tiler.errors import TileOutsideBounds  # at import: rio_tiler is not safe to import from
from rio_tiler.io import Reader  # several threads at once (the server's thread pool)

from minewatch.errors import InputError

#: Layer name -> (file, 1-based band indexes of red, green, blue on screen).
IMAGERY = {
    "before": ("composite_before.tif", (1, 2, 3)),
    "after": ("composite_after.tif", (1, 2, 3)),
    "before-swir": ("composite_before.tif", (4, 5, 1)),
    "after-swir": ("composite_after.tif", (4, 5, 1)),
}
FOOTPRINT = "footprint.tif"
#: footprint.tif codes -> RGBA.
FOOTPRINT_COLOURS = {0: (0, 0, 0, 0), 1: (170, 60, 200, 200), 2: (30, 110, 220, 200)}
LAYERS = (*IMAGERY, "footprint")


def available_layers(run_dir: Path) -> list[str]:
    """The tile layers a run folder can serve (older runs have no composites)."""
    files = {p.name for p in run_dir.iterdir()} if run_dir.is_dir() else set()
    out = [name for name, (file, _) in IMAGERY.items() if file in files]
    if FOOTPRINT in files:
        out.append("footprint")
    return out


@lru_cache(maxsize=64)
def _stretch(run_dir: str, mtime: float) -> tuple[tuple[float, float], ...]:
    """Per band of the composites, the 2nd and 98th percentile over both dates (one read of an
    overview or a decimated read)."""
    samples = []
    for file, _ in (IMAGERY["before"], IMAGERY["after"]):
        path = Path(run_dir) / file
        if not path.exists():
            continue
        with rasterio.open(path) as src:
            scale = max(1, max(src.width, src.height) // 512)
            data = src.read(out_shape=(src.count, max(1, src.height // scale), max(1, src.width // scale)),
                            resampling=Resampling.nearest)
        samples.append(data.reshape(data.shape[0], -1))
    if not samples:
        return ((0.0, 0.3),) * 5
    both = np.concatenate(samples, axis=1)
    out = []
    for band in both:
        band = band[np.isfinite(band)]
        lo, hi = (np.percentile(band, [2, 98]) if band.size else (0.0, 0.3))
        out.append((float(lo), float(hi) if hi > lo else float(lo) + 1e-3))
    return tuple(out)


def render_tile(run_dir: Path, layer: str, z: int, x: int, y: int, *, size: int = 256) -> bytes | None:
    """One PNG tile of ``layer`` of the run in ``run_dir``; ``None`` when the tile is outside the
    run's extent. Raises :class:`InputError` for an unknown layer or one the run lacks."""
    if layer not in LAYERS:
        raise InputError(f"unknown tile layer {layer!r}", hint="one of " + ", ".join(LAYERS))
    if layer == "footprint":
        path = run_dir / FOOTPRINT
        indexes: tuple[int, ...] = (1,)
    else:
        file, indexes = IMAGERY[layer]
        path = run_dir / file
    if not path.exists():
        raise InputError(f"this run has no {path.name} (layer {layer!r})",
                         hint="runs made before the composites were written have no imagery tiles")
    try:
        with Reader(str(path)) as src:
            img = src.tile(x, y, z, tilesize=size, indexes=indexes,
                           resampling_method="nearest" if layer == "footprint" else "bilinear")
    except TileOutsideBounds:
        return None
    if layer == "footprint":
        return img.render(img_format="PNG", colormap=FOOTPRINT_COLOURS)
    stretch = _stretch(str(run_dir), (run_dir / IMAGERY["after"][0]).stat().st_mtime
                       if (run_dir / IMAGERY["after"][0]).exists() else 0.0)
    # NaN (no clear observation) is masked by rio-tiler from the file's nodata; one range for the
    # three bands keeps the colours' balance
    lo = min(stretch[i - 1][0] for i in indexes)
    hi = max(stretch[i - 1][1] for i in indexes)
    img.array = np.ma.MaskedArray(np.nan_to_num(img.array.data, nan=lo), mask=img.array.mask)
    img = img.rescale(in_range=[(lo, hi)] * len(indexes))
    return img.render(img_format="PNG")
