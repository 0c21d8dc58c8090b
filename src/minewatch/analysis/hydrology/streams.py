"""Stream extraction from flow accumulation."""

from __future__ import annotations

import numpy as np

from minewatch.analysis.hydrology import _kernels as K
from minewatch.analysis.hydrology.flow import FlowGrid
from minewatch.errors import InputError


def extract_streams(flow: FlowGrid, threshold_cells: int | None = None,
                    threshold_km2: float | None = None) -> np.ndarray:
    """Boolean stream mask: cells whose upstream area reaches a threshold.

    Give either ``threshold_cells`` (accumulated cells, the cell itself
    included) or ``threshold_km2`` (upstream area). Without either, 1 % of the
    valid cells is used.
    """
    if flow.accumulation is None:
        raise InputError("the flow grid has no accumulation; build it with accumulate=True")
    if threshold_km2 is not None:
        if threshold_km2 <= 0:
            raise InputError(f"stream threshold must be positive, got {threshold_km2} km²")
        from minewatch.analysis.hydrology.flow import d8_accumulation

        area = d8_accumulation(flow.dirs, weights=flow.cell_area_m2())
        return (area >= threshold_km2 * 1e6) & flow.valid
    if threshold_cells is None:
        threshold_cells = max(2, int(0.01 * int(flow.valid.sum())))
    if threshold_cells < 1:
        raise InputError(f"stream threshold must be at least 1 cell, got {threshold_cells}")
    return (flow.accumulation >= threshold_cells) & flow.valid


def stream_lines(flow: FlowGrid, streams: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]]:
    """Split a stream mask into segments (head or junction to next junction or outlet).

    Returns
    -------
    list of (x, y) coordinate arrays of cell centres in the DEM CRS, each in
    downstream order.
    """
    rows, cols = flow.shape
    cells, offsets = K.stream_segments(np.ascontiguousarray(flow.dirs).ravel(), rows, cols,
                                       np.ascontiguousarray(streams, dtype=bool).ravel())
    out = []
    for s in range(len(offsets) - 1):
        seg = cells[offsets[s]:offsets[s + 1]]
        x, y = flow.dem.xy(seg // cols, seg % cols)
        out.append((np.asarray(x), np.asarray(y)))
    return out
