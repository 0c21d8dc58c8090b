"""New mining disturbance, its onset and its alert level, per pixel, from a stack of screened indices.

Each pixel's history (the clear observations before the monitored period) is fitted by
:func:`~minewatch.analysis.change.fit_history`; the monitored observations then go, in date
order, through the sequential monitor :func:`~minewatch.analysis.change.scan`, which updates the
probability of change at each clear observation (module :mod:`minewatch.analysis.change.monitor`,
docs/method.md). A departure counts towards *new mining disturbance* only when:

1. its direction is one mining produces: vegetation lost (NDVI down), bare mineral ground
   exposed (BSI or SWIR1 changed), or water appearing where there was none (MNDWI up: pit
   lakes, tailings ponds), by at least the physical ``min_change`` of that index;
2. the land stays unvegetated afterwards (for ``probable`` and ``confirmed``): at most
   ``1 - post_quantile`` of the observations since onset have NDVI >= ``max_post_ndvi`` (a
   burn scar regrows and a field is cropped again; a pit, dump or pond does not).

Pixels whose history was already mining (bare, then stable) do not depart from it, so land
mined before the period is not new. Levels: 0 none, 1 possible, 2 probable, 3 confirmed; a
flagged pixel whose observations return to the history model is *retracted* (level 0, its
onset kept).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np
from scipy import ndimage

from minewatch.analysis.change import MonitorCarry, MonitorParams, fit_history, scan
from minewatch.analysis.change.monitor import POSSIBLE, PROBABLE


@dataclass(frozen=True)
class DisturbanceParams:
    """The monitor's settings and the small-patch rule (see the module docstring)."""

    change: MonitorParams = field(default_factory=MonitorParams)
    min_area_px: int = 8

    def as_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> DisturbanceParams:
        d = dict(d)
        return cls(change=MonitorParams.from_dict(d.pop("change", {}) or {}), **d)


@dataclass
class TileDisturbance:
    """Per-pixel results of one tile (or the whole grid), (h, w) arrays."""

    onset: np.ndarray  #: int32 days since 1970-01-01 of every pixel flagged at any level (or retracted), 0 = none
    confidence: np.ndarray  #: float32 posterior probability of change, 0 where level is 0
    level: np.ndarray  #: uint8 0 none, 1 possible, 2 probable, 3 confirmed
    first_seen: np.ndarray  #: int32 day of the acquisition on which it was first flagged, 0 = none
    probable_on: np.ndarray  #: int32 day it first reached probable, 0 = not (yet)
    confirmed_on: np.ndarray  #: int32 day it first reached confirmed, 0 = not (yet)
    retracted: np.ndarray  #: bool: was probable or confirmed, then the observations returned to the history

    @classmethod
    def from_carry(cls, carry: MonitorCarry) -> TileDisturbance:
        """The batch outputs of a monitoring state. A retracted episode is kept when it had reached
        probable; one that never rose above possible is forgotten (sensor noise, mostly)."""
        retracted = carry.retracted & (carry.level == 0) & (carry.peak >= PROBABLE)
        flagged = (carry.level > 0) | retracted
        keep = lambda a: np.where(flagged, a, 0).astype(np.int32)  # noqa: E731
        conf = np.where(carry.level > 0, carry.probability(), 0).astype(np.float32)
        return cls(keep(carry.onset), conf, carry.level.copy(), keep(carry.first_seen), keep(carry.probable_on),
                   keep(carry.confirmed_on), retracted)

    @classmethod
    def empty(cls, shape: tuple[int, int]) -> TileDisturbance:
        return cls.from_carry(MonitorCarry.empty(shape))

    def put(self, rows: slice, cols: slice, tile: TileDisturbance) -> None:
        """Copy ``tile`` into this grid's window ``rows, cols``."""
        for name in self.__dataclass_fields__:
            getattr(self, name)[rows, cols] = getattr(tile, name)


def map_tile(stack: np.ndarray, days: np.ndarray, monitor_start: int, monitor_end: int,
             params: DisturbanceParams) -> TileDisturbance:
    """Map new mining disturbance in one tile.

    Parameters
    ----------
    stack
        (T, B, h, w) float32 change indices in :data:`CHANGE_INDICES` order, NaN = not clear.
    days
        (T,) days since 1970-01-01.
    """
    days = np.asarray(days, np.int64)
    hist = days < monitor_start
    mon = (days >= monitor_start) & (days <= monitor_end)
    model = fit_history(stack[hist], days[hist], params.change)
    carry = scan(model, stack[mon], days[mon], None, params.change)
    return TileDisturbance.from_carry(carry)


def _labels(mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    labels, n = ndimage.label(mask, structure=np.ones((3, 3), bool))
    return labels, np.bincount(labels.ravel(), minlength=n + 1)


def clean_small_patches(dist: TileDisturbance, min_area_px: int) -> TileDisturbance:
    """The small-patch rule, in place: patches (8-connected) of level >= probable smaller than
    ``min_area_px`` pixels fall back to possible (specks are only ever possible), and retracted
    patches that small are dropped."""
    labels, sizes = _labels(dist.level >= PROBABLE)
    small = sizes < min_area_px
    small[0] = False
    dist.level[small[labels]] = POSSIBLE
    labels, sizes = _labels(dist.retracted)
    small = sizes < min_area_px
    small[0] = False
    drop = small[labels]
    dist.retracted[drop] = False
    for a in (dist.onset, dist.first_seen, dist.probable_on, dist.confirmed_on):
        a[drop] = 0
    return dist
