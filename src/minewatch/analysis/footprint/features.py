"""Stage (a) of the footprint classes: per tile, per calendar year, the few features the rules need.

The tile loop (:func:`minewatch.run.tiles.analyse_tiles`) calls :func:`year_features` on each tile's
bands and clear mask; only these per-year layers are kept for the full grid (never per-date data).

Per year, over the clear observations of the **second half** of the year (July to December: the
state at the end of the year; the whole year where the second half has no clear observation):

* the median reflectance of :data:`BANDS` (blue, green, red, NIR, SWIR1, SWIR2);
* ``ndvi_p90``: the 90th percentile of NDVI (the greenest the pixel got: vegetation, even a crop
  that is bare half the year, reaches it; mine ground never does);
* ``water_share``: the share of those observations that are water (NDWI > 0 or MNDWI > 0: the
  20 m SWIR band of MNDWI alone misses ponds a few 10 m pixels across);

and, over the whole year:

* ``ndvi_last``: the median NDVI of the pixel's last :data:`LAST_N` clear observations of the year
  (whether ground that turned late in the year was already bare at its end);
* ``n_clear``: the number of clear observations.
"""

from __future__ import annotations

import numpy as np

from minewatch.analysis.indices import mndwi, ndvi, ndwi

#: The median bands of the per-year composite, in order.
BANDS = ("blue", "green", "red", "nir", "swir16", "swir22")
#: Every per-year layer, in order (axis 1 of :func:`year_features`).
FEATURES = BANDS + ("ndvi_p90", "water_share", "ndvi_last", "n_clear")
#: How many of a year's last clear observations make ``ndvi_last``.
LAST_N = 2
#: The first month of the "end of year" half.
LATE_FROM_MONTH = 7


def _quantile(values: np.ndarray, use: np.ndarray, q: float) -> np.ndarray:
    """Per pixel, the ``q`` quantile (linear, as ``np.nanquantile``) of ``values[use]`` along axis 0.

    Sorting once with the unused values pushed to the end is many times faster than
    ``np.nanmedian`` / ``np.nanpercentile`` on a ``(T, h, w)`` stack; NaN where nothing is used.
    """
    use = use & np.isfinite(values)
    n = use.sum(axis=0)
    ranked = np.sort(np.where(use, values, np.inf), axis=0)
    pos = q * np.maximum(n - 1, 0)
    lo = np.floor(pos).astype(np.intp)
    hi = np.minimum(lo + 1, np.maximum(n - 1, 0))
    a = np.take_along_axis(ranked, lo[None], axis=0)[0]
    b = np.take_along_axis(ranked, hi[None], axis=0)[0]
    with np.errstate(invalid="ignore"):
        out = a + (b - a) * (pos - lo)
    out = np.where(pos == lo, a, out)  # an exact rank (or one value): no inf - inf
    return np.where(n > 0, out, np.nan).astype(np.float32)


def year_features(data: dict[str, np.ndarray], clear: np.ndarray, years_of_items: np.ndarray,
                  months_of_items: np.ndarray, years: list[int]) -> np.ndarray:
    """``(len(years), len(FEATURES), h, w)`` float32 features of one tile (module docstring).

    Parameters
    ----------
    data : dict
        Band name -> ``(T, h, w)`` reflectance of the tile (``green`` and ``swir16`` may be absent:
        blue stands in for green, SWIR2 for SWIR1).
    clear : (T, h, w) bool
        Clear observations.
    years_of_items, months_of_items : (T,) int
        Calendar year and month of each scene.
    years : list of int
        The years to compute, in order.

    Returns NaN features (``n_clear`` 0) where a year has no clear observation.
    """
    T, h, w = clear.shape
    out = np.full((len(years), len(FEATURES), h, w), np.nan, np.float32)
    green = data.get("green", data["blue"])
    swir16 = data.get("swir16", data["swir22"])
    bands = {"blue": data["blue"], "green": green, "red": data["red"], "nir": data["nir"], "swir16": swir16,
             "swir22": data["swir22"]}
    for k, year in enumerate(years):
        in_year = years_of_items == year
        idx = np.flatnonzero(in_year)
        if idx.size == 0:
            out[k, FEATURES.index("n_clear")] = 0
            continue
        c = clear[idx]
        n_clear = c.sum(axis=0)
        late_idx = idx[months_of_items[idx] >= LATE_FROM_MONTH]
        late = clear[late_idx].any(axis=0) if late_idx.size else np.zeros((h, w), bool)
        # per pixel: the late half where it has a clear observation there, else the whole year
        use = c & np.where(late[None], (months_of_items[idx] >= LATE_FROM_MONTH)[:, None, None], True)
        for b, name in enumerate(BANDS):
            out[k, b] = _quantile(bands[name][idx], use, 0.5)
        nd = ndvi(bands["red"][idx], bands["nir"][idx])
        out[k, FEATURES.index("ndvi_p90")] = _quantile(nd, use, 0.9)
        wet = (ndwi(green[idx], bands["nir"][idx]) > 0) | (mndwi(green[idx], swir16[idx]) > 0)
        n_use = use.sum(axis=0)
        with np.errstate(invalid="ignore", divide="ignore"):
            out[k, FEATURES.index("water_share")] = np.where(n_use > 0, (wet & use).sum(axis=0) / n_use, np.nan)
        # the last LAST_N clear observations of the year: rank clear observations from the end
        rank = np.cumsum(c[::-1], axis=0)[::-1]
        last = c & (rank <= LAST_N)
        out[k, FEATURES.index("ndvi_last")] = _quantile(nd, last, 0.5)
        out[k, FEATURES.index("n_clear")] = n_clear
    return out
