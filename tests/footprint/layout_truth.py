"""Per-year footprint class truth derived from the default demo generator's own layout.

Stands in for ``scene/truth/footprint_class.tif`` until the demo writes it: the layout is
rebuilt from the scene's seed and size, and each year's state at 31 December is read from the
mine plan (codes of the shared legend). Roads (the gravel access road predates the mine) are
left out of the scoring (255).
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import numpy as np

from minewatch.demo import layout as L
from minewatch.demo.geo import Grid, days
from minewatch.demo.surface import _END_ALL, SurfaceModel


def layout_truth(scene: Path, years: list[int]) -> np.ndarray:
    """``(len(years), n, n)`` uint8 class truth of the demo scene under ``scene``."""
    meta = json.loads((Path(scene) / "truth" / "truth.json").read_text())
    n = int(meta["size_px"])
    lay = L.build_layout(Grid(n), int(meta["seed"]))
    model = SurfaceModel(lay)
    out = np.zeros((len(years), n, n), np.uint8)
    natural = np.isin(lay.cover, (L.RIVER, L.POND, L.OUTCROP))
    for k, year in enumerate(years):
        t = days(dt.date(year, 12, 31))
        mined = (lay.onset > 0) & (lay.onset <= t)
        cls = out[k]
        cls[natural] = 7
        cls[lay.cover == L.ROAD] = 255
        kind = np.where(mined, lay.kind, 0)
        cls[np.isin(kind, (L.K_PIT, L.K_PREPIT, L.K_UNLIC))] = 1
        cls[np.isin(kind, (L.K_DUMP, L.K_PREDUMP))] = 2
        cls[kind == L.K_TAIL] = 3
        if t >= days(L.PIT_WATER_FROM):
            prog = np.clip((t - days(L.PIT_WATER_FROM)) / (_END_ALL - days(L.PIT_WATER_FROM)), 0, 1)
            pit = np.isin(kind, (L.K_PIT, L.K_PREPIT))
            lake = pit & (model.lake_dist < 3.0 + 6.0 * prog) & (lay.onset <= t - 120)
            cls[lake] = 4
    return out
