"""The river past a mine: its flow path downstream and the main stem upstream of where they join.

The mine's D8 path downstream is followed to its confluence (the first step where flow
accumulation grows by half or more); from there the main stem is traced upstream through
the donor of largest accumulation, while that donor carries at least ``min_share`` of the
confluence's accumulation, for at most ``upstream_m``. The river signal of a run
(:mod:`minewatch.analysis.water.river_signal`) compares water upstream and downstream
along this line.
"""

from __future__ import annotations

import numpy as np
from pyproj import Transformer
from rasterio.transform import xy
from shapely.geometry import LineString

from minewatch.analysis.hydrology.flow import D8_OFFSETS, FlowGrid
from minewatch.analysis.hydrology.paths import flow_path, point_cell
from minewatch.analysis.hydrology.receptors import receptors_downstream


def _donors(dirs: np.ndarray, r: int, c: int) -> list[tuple[int, int]]:
    h, w = dirs.shape
    out = []
    for code, (dr, dc) in D8_OFFSETS.items():
        rr, cc = r - dr, c - dc  # a neighbour whose receiver is (r, c)
        if 0 <= rr < h and 0 <= cc < w and int(dirs[rr, cc]) == code:
            out.append((rr, cc))
    return out


def river_line(flow: FlowGrid, source, *, max_distance_m: float = 20_000.0,
               upstream_m: float = 5_000.0, min_share: float = 0.2):
    """The river past the mine as one line digitised downstream (EPSG:4326), or ``None``.

    Parameters
    ----------
    flow : FlowGrid
        The routed DEM.
    source : shapely geometry (EPSG:4326)
        The mine.

    Returns
    -------
    (LineString or None, dict)
        The line and facts about it (``upstream_cells``, ``downstream_cells``,
        ``confluence_accumulation_cells``); the line is ``None`` (and the facts hold a
        ``reason``) when no stream enters the mine's path from upstream.
    """
    res = receptors_downstream(flow, [("mine", source)], [], max_distance_m=max_distance_m)
    if not res.paths:
        return None, {"reason": "the mine has no cell on the DEM"}
    first = res.paths[0]["geometry"].coords[0]
    r0, c0 = point_cell(flow, first[0], first[1])
    rows, cols, _dist = flow_path(flow, int(r0), int(c0), max_distance_m)
    acc = flow.accumulation
    k = 0
    for i in range(1, len(rows)):
        if acc[rows[i], cols[i]] >= 1.5 * acc[rows[i - 1], cols[i - 1]]:
            k = i
            break
    conf = (int(rows[k]), int(cols[k]))
    up = []
    cur = conf
    step_m = float(np.mean(flow.dx_m)) if np.ndim(flow.dx_m) else float(flow.dx_m)
    limit = int(upstream_m / max(step_m, 1.0))
    came_from = (int(rows[k - 1]), int(cols[k - 1])) if k > 0 else None
    while len(up) < limit:
        donors = [d for d in _donors(flow.dirs, *cur) if d != came_from]
        if not donors:
            break
        best = max(donors, key=lambda d: acc[d])
        if acc[best] < min_share * acc[conf]:
            break
        up.append(best)
        cur, came_from = best, None
    facts = {"upstream_cells": len(up), "downstream_cells": len(rows) - k,
             "confluence_accumulation_cells": int(acc[conf])}
    if len(up) < 2:
        return None, {**facts, "reason": "no stream enters the mine's downstream path from upstream on the DEM"}
    cells = list(reversed(up)) + list(zip(rows[k:].tolist(), cols[k:].tolist(), strict=True))
    rr, cc = np.array(cells).T
    xs, ys = xy(flow.dem.transform, rr, cc, offset="center")
    lon, lat = Transformer.from_crs(flow.dem.crs, "EPSG:4326", always_xy=True).transform(xs, ys)
    return LineString(np.column_stack([lon, lat])), facts
