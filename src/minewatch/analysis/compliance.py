"""The licence check of disturbance: was each disturbed pixel authorised on its onset day?

A pixel whose disturbance began on day *d* is *inside a valid licence* if some
:class:`~minewatch.analysis.licences.LicencePeriod` covers it and contains *d*;
otherwise it is *outside licence* (expired, suspended, revoked, not yet valid, or
beyond every boundary all count).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from minewatch.analysis.geometry import rasterize
from minewatch.analysis.licences import LicencePeriod
from minewatch.imagery.load import Grid


@dataclass
class ComplianceResult:
    """Per pixel: index of the licence period authorising the disturbance at onset (-1: none)."""

    period_index: np.ndarray  # int16 (h, w)
    outside: np.ndarray  # bool (h, w): disturbed and authorised by no period at onset
    inside_masks: dict[str, np.ndarray]  # licence_id -> bool mask of its (union of) boundaries

    def any_licence(self) -> np.ndarray:
        """Bool mask of the pixels inside any licence boundary (whatever its validity)."""
        return np.logical_or.reduce(list(self.inside_masks.values()))


def check_compliance(onset: np.ndarray, periods: list[LicencePeriod], grid: Grid) -> ComplianceResult:
    """Evaluate each disturbed pixel (onset > 0, days since epoch) against the licence periods."""
    disturbed = onset > 0
    index = np.full(onset.shape, -1, np.int16)
    inside: dict[str, np.ndarray] = {}
    for k, period in enumerate(periods):
        mask = rasterize(period.geometry, grid)
        inside[period.licence_id] = inside.get(period.licence_id, np.zeros_like(mask)) | mask
        ok = disturbed & mask & (onset >= period.active_from) & (onset <= period.active_to) & (index < 0)
        index[ok] = k
    return ComplianceResult(index, disturbed & (index < 0), inside)
