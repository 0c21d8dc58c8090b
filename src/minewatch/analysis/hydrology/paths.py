"""Downstream flow paths, upstream catchments, flow distance and travel time.

Distances are along the D8 path, in metres: a step to a side neighbour counts
the cell width (east/west) or height (north/south) of the cell it leaves, a
diagonal step the hypotenuse of both. For geographic DEMs the sizes come from
the WGS84 ellipsoid at each row's latitude (:func:`cell_sizes_m`).
"""

from __future__ import annotations

import math

import numpy as np

from minewatch.analysis.hydrology import _kernels as K
from minewatch.analysis.hydrology.flow import FlowGrid
from minewatch.errors import InputError


def _flat_dirs(flow: FlowGrid) -> np.ndarray:
    return np.ascontiguousarray(flow.dirs).ravel()


def downstream_distance(flow: FlowGrid, sources: np.ndarray,
                        max_distance_m: float = math.inf) -> tuple[np.ndarray, np.ndarray]:
    """Cells downstream of a set of source cells, with the shortest flow distance.

    Parameters
    ----------
    flow : FlowGrid
    sources : numpy.ndarray
        Boolean mask of the grid's shape, or flat cell indices.
    max_distance_m : float
        Stop following a path once it is longer than this.

    Returns
    -------
    (cells, distance_m) : flat cell indices (sources first, at distance 0) and
        the along-flow distance from the nearest source cell upstream.
    """
    rows, cols = flow.shape
    src = np.asarray(sources)
    if src.dtype == bool:
        if src.shape != flow.shape:
            raise InputError(f"source mask shape {src.shape} differs from the DEM grid {flow.shape}")
        src = np.flatnonzero(src & flow.valid)
    src = src.astype(np.int64, copy=False)
    dist = np.full(rows * cols, np.inf)
    cells = K.downstream_from(_flat_dirs(flow), rows, cols, src, flow.dx_m, flow.dy_m,
                              float(max_distance_m), dist)
    return cells, dist[cells]


def flow_path(flow: FlowGrid, row: int, col: int,
              max_distance_m: float = math.inf) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The D8 path downstream of one cell.

    Returns
    -------
    (rows, cols, distance_m) : the cells in downstream order (the start cell
        first, at 0 m) until the path leaves the grid or passes ``max_distance_m``.
    """
    nrows, ncols = flow.shape
    if not (0 <= row < nrows and 0 <= col < ncols):
        raise InputError(f"cell ({row}, {col}) is outside the DEM grid {flow.shape}")
    d = _flat_dirs(flow)
    out = [row * ncols + col]
    dist = [0.0]
    c = out[0]
    while True:
        j = K.receiver(d, c, nrows, ncols)
        if j < 0:
            break
        step = K.step_length(d, c, ncols, flow.dx_m, flow.dy_m)
        if dist[-1] + step > max_distance_m:
            break
        out.append(j)
        dist.append(dist[-1] + step)
        c = j
    idx = np.asarray(out, dtype=np.int64)
    return idx // ncols, idx % ncols, np.asarray(dist)


def catchment(flow: FlowGrid, row: int, col: int) -> tuple[np.ndarray, np.ndarray]:
    """Upstream catchment of a cell and each member's flow distance to it.

    Returns
    -------
    (mask, distance_m) : boolean mask of the cells draining through (row, col),
        the cell itself included, and a float32 grid of along-flow distances to
        it (NaN outside the catchment).
    """
    nrows, ncols = flow.shape
    if not (0 <= row < nrows and 0 <= col < ncols):
        raise InputError(f"cell ({row}, {col}) is outside the DEM grid {flow.shape}")
    dist = np.full(nrows * ncols, np.inf)
    cells = K.upstream_distance(_flat_dirs(flow), nrows, ncols, row * ncols + col,
                                flow.dx_m, flow.dy_m, dist)
    mask = np.zeros(nrows * ncols, dtype=bool)
    mask[cells] = True
    out = np.full(nrows * ncols, np.nan, dtype=np.float32)
    out[cells] = dist[cells]
    return mask.reshape(flow.shape), out.reshape(flow.shape)


def point_cell(flow: FlowGrid, x: float, y: float, crs: str | None = "EPSG:4326") -> tuple[int, int]:
    """Row and column of the DEM cell holding point (x, y) given in ``crs``.

    ``crs=None`` means the coordinates are already in the DEM's CRS.

    Raises
    ------
    InputError
        When the point falls outside the DEM or on a nodata cell.
    """
    if crs is not None:
        from pyproj import Transformer

        if flow.dem.crs is None:
            raise InputError(f"DEM {flow.dem.path or '<array>'} has no CRS; pass crs=None and "
                             "coordinates in the DEM grid's units")
        tr = Transformer.from_crs(crs, flow.dem.crs.to_wkt(), always_xy=True)
        x, y = tr.transform(x, y)
    row, col = flow.dem.rowcol(x, y)
    nrows, ncols = flow.shape
    if not (0 <= row < nrows and 0 <= col < ncols) or not flow.valid[row, col]:
        raise InputError(f"point ({x:.6g}, {y:.6g}) is outside DEM {flow.dem.path or '<array>'} "
                         f"(bounds {flow.dem.bounds}) or on nodata")
    return row, col


def catchment_cells(flow: FlowGrid, cell: int) -> np.ndarray:
    """Flat indices of the catchment of flat cell index ``cell``."""
    nrows, ncols = flow.shape
    dist = np.full(nrows * ncols, np.inf)
    return K.upstream_distance(_flat_dirs(flow), nrows, ncols, int(cell), flow.dx_m,
                               flow.dy_m, dist)


def travel_time_h(distance_m: float | np.ndarray, velocity_m_s: float) -> float | np.ndarray:
    """Travel time in hours at a constant flow velocity (a stated assumption).

    A single mean velocity is a coarse stand-in for real stream hydraulics:
    0.5 m/s is typical of small rivers at moderate flow; floods move faster,
    low flows and wetlands much slower.
    """
    if not velocity_m_s > 0:
        raise InputError(f"velocity must be positive, got {velocity_m_s} m/s")
    return np.asarray(distance_m, dtype=float) / velocity_m_s / 3600.0 if isinstance(
        distance_m, np.ndarray) else float(distance_m) / velocity_m_s / 3600.0
