"""Spectral indices on surface reflectance (NaN in, NaN out).

Each function takes reflectance arrays of any (same) shape. Band names follow
the common vocabulary (Sentinel-2 band in brackets).
"""

from __future__ import annotations

import numpy as np


def _nd(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(a - b) / (a + b) in float32, or float64 for float64 inputs; NaN where undefined."""
    with np.errstate(divide="ignore", invalid="ignore"):
        out = (a - b) / (a + b)
    out = out.astype(np.result_type(a, b, np.float32), copy=False)
    out[~np.isfinite(out)] = np.nan
    return out


def ndvi(red: np.ndarray, nir: np.ndarray) -> np.ndarray:
    """Normalised difference vegetation index (Rouse et al. 1974): (NIR - red)/(NIR + red)."""
    return _nd(nir, red)


def ndwi(green: np.ndarray, nir: np.ndarray) -> np.ndarray:
    """Normalised difference water index (McFeeters 1996): (green - NIR)/(green + NIR)."""
    return _nd(green, nir)


def mndwi(green: np.ndarray, swir16: np.ndarray) -> np.ndarray:
    """Modified NDWI (Xu 2006): (green - SWIR1)/(green + SWIR1) [B03, B11]."""
    return _nd(green, swir16)


def nbr(nir: np.ndarray, swir22: np.ndarray) -> np.ndarray:
    """Normalised burn ratio (Key & Benson 2006): (NIR - SWIR2)/(NIR + SWIR2) [B08, B12]."""
    return _nd(nir, swir22)


def bsi(blue: np.ndarray, red: np.ndarray, nir: np.ndarray, swir16: np.ndarray) -> np.ndarray:
    """Bare soil index (Rikimaru et al. 2002): ((SWIR1 + red) - (NIR + blue)) / ((SWIR1 + red) + (NIR + blue))."""
    return _nd(swir16 + red, nir + blue)


def ferric_iron(red: np.ndarray, blue: np.ndarray) -> np.ndarray:
    """Ferric iron ratio red/blue [B04/B02] (iron oxides on waste rock, acid mine drainage)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        out = (red / blue).astype(np.float32)
    out[~np.isfinite(out)] = np.nan
    return out


def ndti(red: np.ndarray, green: np.ndarray) -> np.ndarray:
    """Normalised difference turbidity index (Lacaux et al. 2007): (red - green)/(red + green)."""
    return _nd(red, green)


def brightness(blue: np.ndarray, green: np.ndarray, red: np.ndarray, nir: np.ndarray,
               swir16: np.ndarray, swir22: np.ndarray) -> np.ndarray:
    """Mean reflectance of the six optical bands (broadband albedo proxy)."""
    return ((blue + green + red + nir + swir16 + swir22) / 6.0).astype(np.float32)


#: The indices the change engine watches, in order, and how to compute them from a band dict.
CHANGE_INDICES: tuple[str, ...] = ("ndvi", "nbr", "mndwi", "bsi", "swir16")


def change_stack(bands: dict[str, np.ndarray]) -> np.ndarray:
    """Stack the change indices of ``bands`` ({name: (T, h, w)}) into (T, B, h, w) float32."""
    stack = [
        ndvi(bands["red"], bands["nir"]),
        nbr(bands["nir"], bands["swir22"]),
        mndwi(bands["green"], bands["swir16"]),
        bsi(bands["blue"], bands["red"], bands["nir"], bands["swir16"]),
        bands["swir16"].astype(np.float32),
    ]
    return np.stack(stack, axis=1)
