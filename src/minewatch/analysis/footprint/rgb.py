"""The tailings rule with visible bands only (single-date RGB chips: no NIR, no SWIR, no time).

Without NIR and SWIR, water, vegetation and mineral ground cannot be told apart by their indices, and
without a time series nothing says what was there before. What is left of the tailings rule of
:mod:`~minewatch.analysis.footprint.classify` is its spectral core: fine deposits are **bright and
flat** in the visible (red / blue between :attr:`RgbRules.min_iron` and the rule's ``fine_iron``:
no strong iron-oxide red and no vegetation's green peak, red above green: NDTI > 0) and **brighter
than their surroundings** (the chip's median brightness times :attr:`RgbRules.contrast`), in
compact patches of at least :attr:`RgbRules.min_ha` with their holes filled (a pond inside its
beach).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from minewatch.analysis.footprint.classify import FootprintRules


@dataclass(frozen=True)
class RgbRules:
    min_iron: float = 1.0  #: red / blue at least this (grey-white to yellowish fines)
    min_bright: float = 0.11  #: mean visible reflectance at least this
    contrast: float = 1.3  #: and at least this times the chip's median brightness
    min_ha: float = 1.0  #: smallest patch kept


def tailings_rgb(blue: np.ndarray, green: np.ndarray, red: np.ndarray, pixel_m: float,
                 rules: RgbRules = RgbRules(), footprint: FootprintRules = FootprintRules()) -> np.ndarray:
    """Boolean tailings mask of a single-date RGB reflectance chip (module docstring)."""
    with np.errstate(invalid="ignore", divide="ignore"):
        iron = red / blue
        ndti = (red - green) / (red + green)
    bright = (blue + green + red) / 3.0
    fine = ((iron >= rules.min_iron) & (iron < footprint.fine_iron) & (ndti > 0)
            & (bright >= rules.min_bright) & (bright >= rules.contrast * np.nanmedian(bright)))
    fine = ndimage.binary_opening(fine, np.ones((3, 3), bool))
    labels, n = ndimage.label(fine, np.ones((3, 3), bool))
    if n == 0:
        return fine
    min_px = rules.min_ha * 10_000.0 / (pixel_m * pixel_m)
    keep = np.bincount(labels.ravel()) >= min_px
    keep[0] = False
    return ndimage.binary_fill_holes(keep[labels])
