"""Areas of the footprint classes per year, and the class each alert turned into."""

from __future__ import annotations

import datetime as dt

import numpy as np

from minewatch.analysis.footprint.classify import FOOTPRINT_LEGEND, MINE_CLASSES, NOT_ASSESSED


def footprint_by_year(classes: np.ndarray, years: list[int], inside: np.ndarray, px_ha: float) -> list[dict]:
    """Per year, per class: pixels and hectares, inside and outside the licences.

    ``inside`` is the union of every licence polygon. Hectares are pixel counts times the pixel
    area rounded to 4 decimals, so every figure can be recounted from ``footprint_class.tif``.
    """
    out = []
    for k, year in enumerate(years):
        c = classes[k]
        rows = {}
        for code, name in FOOTPRINT_LEGEND.items():
            m = c == code
            n_in, n_all = int((m & inside).sum()), int(m.sum())
            rows[name] = {"pixels": n_all, "area_ha": round(n_all * px_ha, 4),
                          "inside_licences_ha": round(n_in * px_ha, 4),
                          "outside_licences_ha": round((n_all - n_in) * px_ha, 4)}
        mine = np.isin(c, MINE_CLASSES)
        out.append({"year": year, "classes": rows, "mine_area_ha": round(int(mine.sum()) * px_ha, 4),
                    "mine_outside_licences_ha": round(int((mine & ~inside).sum()) * px_ha, 4)})
    return out


def turned_into(classes: np.ndarray, years: list[int], pixels: np.ndarray, onset: dt.date) -> str | None:
    """The mine class most of ``pixels`` hold at the end of the onset year (or of the first later
    year where they are mine); ``None`` when they are never classed as mine."""
    start = next((k for k, y in enumerate(years) if y >= onset.year), len(years))
    for k in range(start, len(years)):
        vals = classes[k][pixels]
        mine = vals[np.isin(vals, MINE_CLASSES)]
        if mine.size * 2 >= max(vals[vals != NOT_ASSESSED].size, 1):  # most of the assessed pixels
            return FOOTPRINT_LEGEND[int(np.bincount(mine).argmax())]
    return None
