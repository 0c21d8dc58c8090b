"""New mining disturbance and its onset date, per pixel, from a stack of screened indices.

The change engine (:mod:`minewatch.analysis.change`) fits each pixel's history
(season and trend of NDVI, NBR, MNDWI, BSI and SWIR1) and reports the first
date when several consecutive observations leave it. Not every lasting change
is mining, so a break counts as *new mining disturbance* only if:

1. it is dated inside the monitored period;
2. its direction is one mining produces: vegetation lost (NDVI down), bare
   mineral ground exposed (BSI or SWIR1 changed), or water appearing where there
   was none (MNDWI up: pit lakes, tailings ponds);
3. the land stays unvegetated afterwards: the 75th percentile of NDVI over all
   later observations stays below ``max_post_ndvi`` (a burn scar or a harvested
   field greens up again; a pit, dump or pond does not);
4. it lasts: most later observations (``min_persistence``) resemble the new
   state more than the pixel's history (see :func:`persistence`).

Pixels whose history was already mining (bare, then stable) have no break
against their own history, so land mined before the period is not new.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy import ndimage

from minewatch.analysis.change import ChangeParams, detect_breaks
from minewatch.analysis.indices import CHANGE_INDICES


@dataclass(frozen=True)
class DisturbanceParams:
    """Rules that turn spectral breaks into mining disturbance (see module docstring)."""

    change: ChangeParams = field(
        default_factory=lambda: ChangeParams(
            method="cold", harmonics=1, trend=False, consecutive=4, threshold=0.99,
            history="all", min_history_obs=8, rmse_floor=(0.03, 0.03, 0.03, 0.02, 0.01),
        )
    )
    ndvi_drop: float = 0.10
    mndwi_rise: float = 0.15
    bsi_change: float = 0.06
    swir_change: float = 0.04
    max_post_ndvi: float = 0.35
    min_persistence: float = 0.6
    min_area_px: int = 8

    def as_dict(self) -> dict:
        from dataclasses import asdict

        d = asdict(self)
        d["change"] = asdict(self.change)
        return d


@dataclass
class TileDisturbance:
    onset: np.ndarray  # int32 days since epoch, 0 = none
    confidence: np.ndarray  # float32 [0, 1]
    breaks: np.ndarray  # bool: any confirmed break in the period (before mining rules)


def _band(name: str) -> int:
    return CHANGE_INDICES.index(name)


def map_tile(
    stack: np.ndarray,
    days: np.ndarray,
    monitor_start: int,
    monitor_end: int,
    params: DisturbanceParams,
    backend: str = "auto",
) -> TileDisturbance:
    """Map new mining disturbance in one tile.

    Parameters
    ----------
    stack
        (T, B, h, w) float32 change indices in :data:`CHANGE_INDICES` order, NaN = not clear.
    days
        (T,) days since 1970-01-01.
    """
    res = detect_breaks(stack, days, monitor_start, params.change, backend=backend)
    in_period = res.flag & (res.date >= monitor_start) & (res.date <= monitor_end)
    mag = res.magnitude
    direction = (
        (mag[_band("ndvi")] < -params.ndvi_drop)
        | (mag[_band("mndwi")] > params.mndwi_rise)
        | (np.abs(mag[_band("bsi")]) > params.bsi_change)
        | (np.abs(mag[_band("swir16")]) > params.swir_change)
    )
    after = days[:, None, None] >= np.where(in_period, res.date, np.iinfo(np.int32).max)[None]
    ndvi = np.where(after, stack[:, _band("ndvi")], np.nan)
    with np.errstate(all="ignore"):
        import warnings

        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            post_ndvi = np.nanpercentile(ndvi, 75, axis=0)
    unvegetated = np.nan_to_num(post_ndvi, nan=1.0) < params.max_post_ndvi
    scale = np.maximum(res.rmse, np.asarray(params.change.rmse_floor, np.float32).reshape(-1, 1, 1))
    share = persistence(stack, days, monitor_start, np.where(in_period, res.date, 0), scale)
    persistent = share >= params.min_persistence
    mining = in_period & direction & unvegetated & persistent
    onset = np.where(mining, res.date, 0).astype(np.int32)
    confidence = np.where(mining, res.confidence * share, 0).astype(np.float32)
    return TileDisturbance(onset, confidence, in_period)


def _nanmedian(a: np.ndarray, axis: int) -> np.ndarray:
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return np.nanmedian(a, axis=axis)


def persistence(stack: np.ndarray, days: np.ndarray, monitor_start: int, date: np.ndarray,
                scale: np.ndarray) -> np.ndarray:
    """Share of the observations from ``date`` on that are closer to the post-break median
    than to the history median (standardised by ``scale`` per band); 0 where ``date`` is 0.

    A lasting change (a pit, a dump, a pond) scores near 1; a burn scar that regrows or a
    field that is cropped again drifts back towards its history and scores lower.
    """
    hist = days < monitor_start
    after = (days[:, None, None] >= date[None]) & (date[None] > 0)
    d_post = np.zeros(after.shape, np.float32)
    d_hist = np.zeros(after.shape, np.float32)
    for b in range(stack.shape[1]):
        x = stack[:, b]
        hist_med = _nanmedian(x[hist], axis=0)
        post_med = _nanmedian(np.where(after, x, np.nan), axis=0)
        d_post += np.nan_to_num(((x - post_med) / scale[b]) ** 2)
        d_hist += np.nan_to_num(((x - hist_med) / scale[b]) ** 2)
    valid = after & np.isfinite(stack).all(axis=1)
    stays = valid & (d_post < d_hist)
    n = valid.sum(axis=0)
    return np.where(n > 0, stays.sum(axis=0) / np.maximum(n, 1), 0).astype(np.float32)


def clean_small_patches(onset: np.ndarray, min_area_px: int) -> np.ndarray:
    """Drop disturbed patches (8-connected) smaller than ``min_area_px`` pixels."""
    disturbed = onset > 0
    labels, n = ndimage.label(disturbed, structure=np.ones((3, 3), bool))
    if n == 0:
        return onset
    sizes = np.bincount(labels.ravel())
    small = sizes < min_area_px
    small[0] = False
    out = onset.copy()
    out[small[labels]] = 0
    return out
