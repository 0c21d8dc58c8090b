"""Cloud, shadow and snow screening that does not trust the scene classification alone.

Sentinel-2's SCL misses thin cloud and many shadows, flags dark pit water as
shadow and bright tailings as cloud. Landsat's QA_PIXEL has similar habits.
minewatch therefore combines, per pixel and date:

* **Snow** by the Fmask spectral test (Zhu & Woodcock 2012): NDSI above a
  threshold with NIR and green bright enough that water is not mistaken for snow.
* **A temporal test** in the spirit of Tmask / MAJA (Zhu & Woodcock 2014;
  Hagolle et al. 2010): an observation is cloud if its blue reflectance is well
  above *both* its neighbours in time (the median of up to 3 valid dates before
  and 3 after), and shadow if its NIR and SWIR fall well below both. A real
  change of the land (a new dump, a pond filling) is a *step*, not a spike, so
  it is kept; a cloud is a spike and is removed.
* **The scene classification as a hint**: an SCL/QA cloud flag is accepted when
  the observation is at least slightly brighter than one of its neighbours, a
  shadow flag when it is darker than one. Persistent dark water or bright
  tailings, flagged on many dates but never different from their neighbours,
  stay in the series.

What survives is screened again by the change engine, which needs several
consecutive anomalous observations before it calls a change.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

#: Codes of the per-observation screening result.
CLEAR, NODATA, CLOUD, SHADOW, SNOW = 0, 1, 2, 3, 4

SCL_NODATA = (0, 1)
SCL_SHADOW = (3,)
SCL_CLOUD = (8, 9, 10)
SCL_SNOW = (11,)

#: Thresholds (reflectance units) of the screening; documented in docs/method.md.
CLOUD_SPIKE = 0.04
SHADOW_SPIKE = 0.04
HINT_MARGIN = 0.01
NDSI_SNOW = 0.3


def hints_from_scl(scl: np.ndarray) -> np.ndarray:
    """Per-observation hints from Sentinel-2 SCL codes: 0 none, 1 nodata, 2 cloud, 3 shadow, 4 snow."""
    hint = np.zeros(scl.shape, np.uint8)
    hint[np.isin(scl, SCL_CLOUD)] = CLOUD
    hint[np.isin(scl, SCL_SHADOW)] = SHADOW
    hint[np.isin(scl, SCL_SNOW)] = SNOW
    hint[scl == 1] = NODATA
    return hint


def hints_from_qa_pixel(qa: np.ndarray) -> np.ndarray:
    """Hints from Landsat Collection 2 QA_PIXEL bits (0 fill, 1 dilated cloud, 2 cirrus,
    3 cloud, 4 cloud shadow, 5 snow)."""
    qa = qa.astype(np.uint16)
    hint = np.zeros(qa.shape, np.uint8)
    bit = lambda n: (qa >> n) & 1  # noqa: E731
    hint[(bit(1) | bit(2) | bit(3)) == 1] = CLOUD
    hint[bit(4) == 1] = SHADOW
    hint[bit(5) == 1] = SNOW
    hint[(bit(0) == 1) & (qa != 0)] = NODATA
    return hint


@njit(cache=True)
def _median_of(values: np.ndarray, idx: np.ndarray, lo: int, hi: int) -> float:
    n = hi - lo
    if n <= 0:
        return np.nan
    buf = np.empty(n, np.float32)
    for k in range(n):
        buf[k] = values[idx[lo + k]]
    buf.sort()
    if n % 2 == 1:
        return buf[n // 2]
    return 0.5 * (buf[n // 2 - 1] + buf[n // 2])


@njit(parallel=True, cache=True)
def _screen(blue, green, nir, swir, hint, out):  # pragma: no cover - compiled
    t_len, n = blue.shape
    for p in prange(n):
        idx = np.empty(t_len, np.int64)
        m = 0
        for t in range(t_len):
            b = blue[t, p]
            g = green[t, p]
            r = nir[t, p]
            s = swir[t, p]
            if np.isnan(b) or np.isnan(g) or np.isnan(r) or np.isnan(s) or hint[t, p] == NODATA:
                out[t, p] = NODATA
                continue
            ndsi = (g - s) / (g + s + 1e-6)
            if (ndsi > NDSI_SNOW and r > 0.11 and g > 0.1) or (
                hint[t, p] == SNOW and ndsi > 0.15 and g > 0.1
            ):
                out[t, p] = SNOW
                continue
            out[t, p] = CLEAR
            idx[m] = t
            m += 1
        for k in range(m):
            t = idx[k]
            lo_prev = max(0, k - 3)
            hi_next = min(m, k + 4)
            pb = _median_of(blue[:, p], idx, lo_prev, k)
            nb = _median_of(blue[:, p], idx, k + 1, hi_next)
            pn = _median_of(nir[:, p], idx, lo_prev, k)
            nn = _median_of(nir[:, p], idx, k + 1, hi_next)
            ps = _median_of(swir[:, p], idx, lo_prev, k)
            ns = _median_of(swir[:, p], idx, k + 1, hi_next)
            b = blue[t, p]
            r = nir[t, p]
            s = swir[t, p]
            if np.isnan(pb) and np.isnan(nb):
                # A lone observation: nothing to compare with, trust the hint.
                if hint[t, p] == CLOUD or hint[t, p] == SHADOW:
                    out[t, p] = hint[t, p]
                continue
            if np.isnan(pb):
                pb, pn, ps = nb, nn, ns
            if np.isnan(nb):
                nb, nn, ns = pb, pn, ps
            if b > max(pb, nb) + CLOUD_SPIKE:
                out[t, p] = CLOUD
            elif r < min(pn, nn) - SHADOW_SPIKE and s < min(ps, ns) - 0.5 * SHADOW_SPIKE:
                out[t, p] = SHADOW
            elif hint[t, p] == CLOUD and b > min(pb, nb) + HINT_MARGIN:
                out[t, p] = CLOUD
            elif hint[t, p] == SHADOW and r < max(pn, nn) - HINT_MARGIN:
                out[t, p] = SHADOW


def screen_observations(
    blue: np.ndarray,
    green: np.ndarray,
    nir: np.ndarray,
    swir16: np.ndarray,
    hint: np.ndarray | None = None,
) -> np.ndarray:
    """Classify every observation of a (T, h, w) stack as CLEAR, NODATA, CLOUD, SHADOW or SNOW.

    Parameters
    ----------
    blue, green, nir, swir16
        Surface reflectance (float, NaN = no data), shape (T, h, w).
    hint
        Optional per-observation hints from the provider's mask
        (:func:`hints_from_scl`, :func:`hints_from_qa_pixel`), same shape.
    """
    shape = blue.shape
    t_len = shape[0]
    flat = lambda a: np.ascontiguousarray(a.reshape(t_len, -1), dtype=np.float32)  # noqa: E731
    hint_flat = (
        np.zeros((t_len, int(np.prod(shape[1:]))), np.uint8)
        if hint is None
        else np.ascontiguousarray(hint.reshape(t_len, -1), dtype=np.uint8)
    )
    out = np.empty(hint_flat.shape, np.uint8)
    _screen(flat(blue), flat(green), flat(nir), flat(swir16), hint_flat, out)
    return out.reshape(shape)
