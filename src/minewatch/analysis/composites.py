"""Median composites of clear observations."""

from __future__ import annotations

import warnings

import numpy as np

#: The bands of the run's composites, in their order (true colour, then SWIR2 and NIR).
COMPOSITE_BANDS = ("red", "green", "blue", "swir22", "nir")


def median(stack: np.ndarray, clear: np.ndarray, sel: np.ndarray) -> np.ndarray:
    """Per pixel, the median of ``stack[t]`` over the clear observations of the scenes in ``sel``.

    Parameters
    ----------
    stack : (T, h, w) float
        One band of every scene.
    clear : (T, h, w) bool
        Clear observations.
    sel : (T,) bool
        The scenes to composite.

    Returns
    -------
    (h, w) float32, NaN where no selected observation is clear.
    """
    if not sel.any():
        return np.full(stack.shape[1:], np.nan, np.float32)
    vals = np.where(clear[sel], stack[sel], np.nan)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return np.nanmedian(vals, axis=0).astype(np.float32)


def median_composite(bands: dict[str, np.ndarray], clear: np.ndarray, sel: np.ndarray,
                     names: tuple[str, ...] = COMPOSITE_BANDS) -> np.ndarray:
    """``(len(names), h, w)`` float32: :func:`median` of each band in ``names``."""
    return np.stack([median(bands[name], clear, sel) for name in names])


def surface_footprint(composite: np.ndarray) -> np.ndarray:
    """Bare ground / open water in a ``(COMPOSITE_BANDS, h, w)`` median composite: 0 other, 1 bare, 2 water."""
    red, nir = composite[COMPOSITE_BANDS.index("red")], composite[COMPOSITE_BANDS.index("nir")]
    with np.errstate(all="ignore"):
        ndvi = (nir - red) / (nir + red)
    out = np.zeros(red.shape, np.uint8)
    out[ndvi < 0.2] = 1
    out[(nir < 0.05) & (ndvi < 0)] = 2
    return out
