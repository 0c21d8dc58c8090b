"""Cloud, shadow and snow screening that does not trust the scene classification alone.

Sentinel-2's SCL misses thin cloud and many shadows, flags dark pit water as
shadow and bright tailings as cloud. Landsat's QA_PIXEL has similar habits.
minewatch therefore combines, per pixel and date:

* **Snow** by the Fmask spectral test (Zhu & Woodcock 2012): NDSI above a
  threshold with NIR and green bright enough that water is not mistaken for snow.
* **Bright-white test**: green above 0.3 with NDSI above 0.1 (visible brighter
  than SWIR1) is cloud or partly snow-covered ground; removed.
* **A temporal test** in the spirit of Tmask / MAJA (Zhu & Woodcock 2014;
  Hagolle et al. 2010): an observation is cloud if its blue reflectance is well
  above the darkest of up to 3 valid dates before *and* of up to 3 after (clouds
  come in runs of dates), and shadow if its NIR and SWIR fall well below the
  brightest neighbours on both sides. A real
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

from minewatch.imagery.catalog import CATEGORICAL

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
WHITE_GREEN = 0.3


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


@njit(cache=True, inline="always")
def _med3(v: np.ndarray, lo: int, hi: int) -> float:
    """Median of v[lo:hi] for 0 <= hi - lo <= 3 (NaN when empty), without allocating."""
    n = hi - lo
    if n <= 0:
        return np.nan
    if n == 1:
        return v[lo]
    if n == 2:
        return 0.5 * (v[lo] + v[lo + 1])
    a, b, c = v[lo], v[lo + 1], v[lo + 2]
    return a + b + c - max(a, max(b, c)) - min(a, min(b, c))


@njit(cache=True, inline="always")
def _min_max(v: np.ndarray, lo: int, hi: int) -> tuple[float, float]:
    if hi <= lo:
        return np.nan, np.nan
    mn = v[lo]
    mx = v[lo]
    for i in range(lo + 1, hi):
        mn = min(mn, v[i])
        mx = max(mx, v[i])
    return mn, mx


@njit(parallel=True, cache=True)
def _screen(blue, green, nir, swir, hint, out):  # pragma: no cover - compiled
    t_len, n = blue.shape
    for p in prange(n):
        idx = np.empty(t_len, np.int64)
        vb = np.empty(t_len, np.float32)
        vn = np.empty(t_len, np.float32)
        vs = np.empty(t_len, np.float32)
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
            if ndsi > 0.1 and g > WHITE_GREEN:
                out[t, p] = CLOUD  # bright and white with a SWIR dip: cloud or mixed snow
                continue
            out[t, p] = CLEAR
            idx[m] = t
            vb[m] = b
            vn[m] = r
            vs[m] = s
            m += 1
        for k in range(m):
            t = idx[k]
            lo_prev = max(0, k - 3)
            hi_next = min(m, k + 4)
            pb = _med3(vb, lo_prev, k)
            nb = _med3(vb, k + 1, hi_next)
            pn = _med3(vn, lo_prev, k)
            nn = _med3(vn, k + 1, hi_next)
            pb_min, _ = _min_max(vb, lo_prev, k)
            nb_min, _ = _min_max(vb, k + 1, hi_next)
            _, pn_max = _min_max(vn, lo_prev, k)
            _, nn_max = _min_max(vn, k + 1, hi_next)
            _, ps_max = _min_max(vs, lo_prev, k)
            _, ns_max = _min_max(vs, k + 1, hi_next)
            b = vb[k]
            r = vn[k]
            s = vs[k]
            h = hint[t, p]
            if np.isnan(pb) and np.isnan(nb):
                # A lone observation: nothing to compare with, trust the hint.
                if h == CLOUD or h == SHADOW:
                    out[t, p] = h
                continue
            if np.isnan(pb):
                pb, pn, pb_min, pn_max, ps_max = nb, nn, nb_min, nn_max, ns_max
            if np.isnan(nb):
                nb, nn, nb_min, nn_max, ns_max = pb, pn, pb_min, pn_max, ps_max
            # Brighter than the darkest neighbour on each side (clouds come in runs of dates).
            if b > max(pb_min, nb_min) + CLOUD_SPIKE:
                out[t, p] = CLOUD
            # Darker than the brightest neighbour on each side in NIR and SWIR.
            elif r < min(pn_max, nn_max) - SHADOW_SPIKE and s < min(ps_max, ns_max) - 0.5 * SHADOW_SPIKE:
                out[t, p] = SHADOW
            elif h == CLOUD and b > min(pb, nb) + HINT_MARGIN:
                out[t, p] = CLOUD
            elif h == SHADOW and r < max(pn, nn) - HINT_MARGIN:
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


def screen_tile(items, data: dict[str, np.ndarray]) -> np.ndarray:
    """Screen a tile loaded by :func:`minewatch.imagery.load.load_tile` (``{band: (T, h, w)}``).

    Combines the provider's hints (:func:`screening_hints`) with :func:`screen_observations`;
    a missing green band is replaced by blue in ``data``.
    Returns the per-observation status codes (T, h, w).
    """
    hint = screening_hints(items, data)
    return screen_observations(data["blue"], data["green"], data["nir"], data["swir16"], hint)


def screening_candidates(blue: np.ndarray, green: np.ndarray, nir: np.ndarray, swir16: np.ndarray,
                         hint: np.ndarray) -> np.ndarray:
    """Which observations the temporal test compares with each other (bool, same shape).

    An observation is a candidate when the per-observation tests alone (no data, snow, bright
    white) leave it clear; the temporal test of :func:`screen_observations` compares each
    candidate with up to 3 candidates before and 3 after it. This is the same kernel run on
    every observation alone, with the provider's cloud and shadow hints left out.
    """
    alone = np.where((hint == CLOUD) | (hint == SHADOW), 0, hint).astype(np.uint8).reshape(1, -1)
    flat = lambda a: np.asarray(a, np.float32).reshape(1, -1)  # noqa: E731
    status = screen_observations(flat(blue), flat(green), flat(nir), flat(swir16), alone)
    return (status == CLEAR).reshape(np.shape(blue))


def screening_hints(items, data: dict[str, np.ndarray]) -> np.ndarray:
    """The per-observation hints of a tile (``{band: (T, h, w)}``) for :func:`screen_observations`.

    From the provider's masks (SCL, QA_PIXEL, a 0 in an item's ``datamask``); an observation
    missing any reflectance band that was loaded (NaN: no data, a band the item lacks, a file
    left out or unreadable) is NODATA, never CLEAR. A missing green band is replaced by blue
    in ``data``.
    """
    if "green" not in data:
        data["green"] = data["blue"]
    hint = np.zeros(data["blue"].shape, np.uint8)
    if "scl" in data:
        hint = np.maximum(hint, hints_from_scl(data["scl"]))
    if "qa_pixel" in data:
        hint = np.maximum(hint, hints_from_qa_pixel(data["qa_pixel"]))
    if "datamask" in data:
        has_mask = np.array(["datamask" in it.assets for it in items])[:, None, None]
        hint[(data["datamask"] == 0) & has_mask] = NODATA
    for band, values in data.items():
        if band not in CATEGORICAL:
            hint[np.isnan(values)] = NODATA
    return hint
