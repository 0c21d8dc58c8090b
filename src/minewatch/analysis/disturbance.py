"""New mining disturbance and its onset date, per pixel, from a stack of screened indices.

The change engine's persistent-change test
(:func:`minewatch.analysis.change.detect_persistent_change`) fits each pixel's history (season
of NDVI, NBR, MNDWI, BSI and SWIR1) and finds the first *lasting* departure from
it in the monitored period. A lasting change counts as *new mining disturbance*
only if:

1. its direction is one mining produces: vegetation lost (NDVI down), bare
   mineral ground exposed (BSI or SWIR1 changed), or water appearing where there
   was none (MNDWI up: pit lakes, tailings ponds);
2. the land stays unvegetated afterwards: the 90th percentile of NDVI over all
   later observations stays below ``max_post_ndvi`` (a burn scar regrows and a
   field is cropped again, if only in one season; a pit, dump or pond is not).

Pixels whose history was already mining (bare, then stable) have no lasting
departure from it, so land mined before the period is not new.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np
from scipy import ndimage

from minewatch.analysis.change import PersistentParams, detect_persistent_change
from minewatch.analysis.indices import CHANGE_INDICES


@dataclass(frozen=True)
class DisturbanceParams:
    """Rules that turn lasting spectral changes into mining disturbance (see module docstring)."""

    change: PersistentParams = field(
        default_factory=lambda: PersistentParams(rmse_floor=(0.03, 0.03, 0.03, 0.02, 0.01))
    )
    ndvi_drop: float = 0.10
    mndwi_rise: float = 0.15
    bsi_change: float = 0.06
    swir_change: float = 0.04
    max_post_ndvi: float = 0.35
    min_area_px: int = 8

    def as_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> DisturbanceParams:
        d = dict(d)
        change = dict(d.pop("change", {}) or {})
        if isinstance(change.get("rmse_floor"), list):
            change["rmse_floor"] = tuple(change["rmse_floor"])
        return cls(change=PersistentParams(**change), **d)


@dataclass
class TileDisturbance:
    onset: np.ndarray  # int32 days since epoch, 0 = none
    confidence: np.ndarray  # float32 [0, 1]


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
    res = detect_persistent_change(stack, days, monitor_start, monitor_end, params.change, backend=backend)
    changed = res.date > 0
    mag = res.magnitude
    direction = (
        (mag[_band("ndvi")] < -params.ndvi_drop)
        | (mag[_band("mndwi")] > params.mndwi_rise)
        | (np.abs(mag[_band("bsi")]) > params.bsi_change)
        | (np.abs(mag[_band("swir16")]) > params.swir_change)
    )
    unvegetated = np.nan_to_num(res.post_quantile[_band("ndvi")], nan=1.0) < params.max_post_ndvi
    mining = changed & direction & unvegetated
    onset = np.where(mining, res.date, 0).astype(np.int32)
    confidence = np.where(mining, res.confidence, 0).astype(np.float32)
    return TileDisturbance(onset, confidence)


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
