"""A learned cloud mask: s2cloudless (Sentinel Hub's LightGBM pixel classifier).

Why s2cloudless: its model file ships *inside* the PyPI package
(``s2cloudless/models/pixel_s2_cloud_detector_lightGBM_v0.1.txt``), so nothing is
downloaded at run time. (``omnicloudmask`` downloads its weights on first use;
``cloudsen12-models`` ships no weights.) Install with ``pip install minewatch[cloud]``.

The model was trained on Sentinel-2 L1C top-of-atmosphere reflectance of ten
bands (B01, B02, B04, B05, B08, B8A, B09, B10, B11, B12). minewatch has L2A
surface reflectance, and often fewer bands, so missing bands are *imputed*:

==========  ==============================================================
B01         blue (B02)
B05         red + 0.3 * (nir - red)   (red edge sits between red and NIR)
B08 / B8A   each other when one is missing
B09         0.5 * B8A                 (water-vapour band, darker than NIR)
B10         0.05                      (cirrus; absent from every L2A product)
==========  ==============================================================

The B09 ratio and the B10 constant were chosen on the 2019-2020 aurora dates
against SCL (``bench/cloud_mask_vs_scl.py``); the naive choice (B10 = 0.005,
B09 = 0.75 * B8A) misses most thick clouds.

Blue, red, a NIR band and both SWIR bands are required. The imputation and the
L2A-vs-L1C difference make the probabilities approximate; ``docs/fetch.md``
reports how it compares with SCL on real cloudy dates.
"""

from __future__ import annotations

import numpy as np

from minewatch.errors import BackendUnavailableError, InputError

#: s2cloudless input order (its 10-band mode).
S2CLOUDLESS_BANDS = ("B01", "B02", "B04", "B05", "B08", "B8A", "B09", "B10", "B11", "B12")
REQUIRED = ("blue", "red", "swir16", "swir22")
CIRRUS_IMPUTED = 0.05
B09_RATIO = 0.5

_detector = None


def available() -> bool:
    """Whether s2cloudless (and its bundled model) can be used here."""
    try:
        import s2cloudless  # noqa: F401
    except ImportError:
        return False
    return True


def _get_detector():  # type: ignore[no-untyped-def]
    global _detector
    if _detector is None:
        try:
            from s2cloudless import S2PixelCloudDetector
        except ImportError:
            raise BackendUnavailableError(
                "the learned cloud mask needs s2cloudless",
                hint="pip install 'minewatch[cloud]'") from None
        _detector = S2PixelCloudDetector(threshold=0.4, all_bands=False, average_over=1,
                                         dilation_size=1)
    return _detector


def model_inputs(bands: dict[str, np.ndarray]) -> np.ndarray:
    """Stack (and impute) the ten s2cloudless inputs: ``(..., 10)`` float32 reflectance."""
    missing = [b for b in REQUIRED if b not in bands]
    if "nir" not in bands and "nir08" not in bands:
        missing.append("nir or nir08")
    if missing:
        raise InputError(f"cloud_probability needs bands {', '.join(missing)}",
                         hint="give reflectance arrays keyed blue, red, nir, swir16, swir22")
    f = {k: np.asarray(v, dtype=np.float32) for k, v in bands.items()}
    blue, red = f["blue"], f["red"]
    nir = f.get("nir", f.get("nir08"))
    nir08 = f.get("nir08", nir)
    coastal = f.get("coastal", blue)
    re1 = f.get("rededge1", red + 0.3 * (nir - red))
    nir09 = f.get("nir09", B09_RATIO * nir08)
    cirrus = f.get("cirrus", np.full_like(blue, CIRRUS_IMPUTED))
    stack = [coastal, blue, red, re1, nir, nir08, nir09, cirrus, f["swir16"], f["swir22"]]
    shape = blue.shape
    for name, arr in zip(S2CLOUDLESS_BANDS, stack):
        if arr.shape != shape:
            raise InputError(f"cloud_probability: band {name} has shape {arr.shape}, "
                             f"blue has {shape}; resample to one grid first")
    return np.stack(stack, axis=-1)


def cloud_probability(bands: dict[str, np.ndarray]) -> np.ndarray:
    """Per-pixel cloud probability (0..1) from s2cloudless.

    Parameters
    ----------
    bands
        Surface (or TOA) reflectance arrays (0..1, NaN = no data), all of one shape
        ``(H, W)`` or ``(T, H, W)``, keyed by common name: ``blue``, ``red``,
        ``nir`` (or ``nir08``), ``swir16``, ``swir22`` required; ``coastal``,
        ``rededge1``, ``nir08``, ``nir09`` used when present (else imputed, see the
        module docstring).

    Returns
    -------
    numpy.ndarray
        float32 probabilities with the input's shape; NaN where any input is NaN.

    Raises
    ------
    BackendUnavailableError
        s2cloudless is not installed (``pip install 'minewatch[cloud]'``).
    InputError
        A required band is missing or shapes differ.
    """
    x = model_inputs(bands)
    squeeze = x.ndim == 3
    if squeeze:
        x = x[np.newaxis]
    invalid = ~np.isfinite(x).all(axis=-1)
    x = np.where(np.isfinite(x), np.clip(x, 0.0, 2.0), 0.0).astype(np.float32)
    prob = _get_detector().get_cloud_probability_maps(x).astype(np.float32)
    prob[invalid] = np.nan
    return prob[0] if squeeze else prob


def cloud_mask(prob: np.ndarray, threshold: float = 0.4) -> np.ndarray:
    """Boolean cloud mask from probabilities (s2cloudless' default threshold 0.4)."""
    return np.nan_to_num(prob, nan=0.0) > threshold


# The SCL rendering decoder lives with the band vocabulary; re-exported here.
from minewatch.imagery.sources import SCL_PALETTE, decode_scl_rendering  # noqa: E402,F401
