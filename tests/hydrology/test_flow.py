"""Conditioning, D8/D-infinity routing and accumulation on synthetic DEMs with known answers."""

from __future__ import annotations

import math

import numpy as np
import pytest
from affine import Affine
from hydro_synth import v_valley

from minewatch.analysis.hydrology import (
    D8_OFFSETS,
    NODATA,
    OUTLET,
    Dem,
    d8_accumulation,
    d8_directions,
    dinf_accumulation,
    dinf_directions,
    fill_depressions,
    flow_grid,
)
from minewatch.analysis.hydrology import _kernels as K
from minewatch.errors import DataError, InputError

T30 = Affine(30.0, 0, 0, 0, -30.0, 0)


def _dem(z, nodata=None):
    return Dem(np.asarray(z), transform=T30, nodata=nodata)


def follow_to_outlet(dirs: np.ndarray, r: int, c: int) -> tuple[int, int, int]:
    """Follow D8 codes; return the last cell and the number of steps (fails on a cycle)."""
    steps = 0
    limit = dirs.size + 1
    while dirs[r, c] not in (OUTLET, NODATA):
        dr, dc = D8_OFFSETS[int(dirs[r, c])]
        r2, c2 = r + dr, c + dc
        if not (0 <= r2 < dirs.shape[0] and 0 <= c2 < dirs.shape[1]) or dirs[r2, c2] == NODATA:
            break
        r, c = r2, c2
        steps += 1
        assert steps < limit, "cycle in flow directions"
    return r, c, steps


def assert_all_drain(flow):
    """Every valid cell reaches an outlet; outlets collect exactly all valid cells."""
    dirs, acc, valid = flow.dirs, flow.accumulation, flow.valid
    assert not (dirs == 254).any()
    assert (dirs[~valid] == NODATA).all()
    rows, cols = dirs.shape
    ends = np.zeros(dirs.shape, dtype=np.int64)
    for r in range(rows):
        for c in range(cols):
            if valid[r, c]:
                er, ec, _ = follow_to_outlet(dirs, r, c)
                ends[er, ec] += 1
    term = ends > 0
    # terminal cells are outlets (code 0) or cells pointing into nodata / off-grid
    assert np.array_equal(acc[term], ends[term])
    assert int(ends.sum()) == int(valid.sum())


def brute_fill(z: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """Reference fill: minimax path elevation to the boundary, by relaxation (slow, exact)."""
    rows, cols = z.shape
    inf = np.inf
    w = np.full(z.shape, inf)
    for r in range(rows):
        for c in range(cols):
            if not valid[r, c]:
                continue
            edge = r in (0, rows - 1) or c in (0, cols - 1)
            if not edge:
                edge = not valid[r - 1:r + 2, c - 1:c + 2].all()
            if edge:
                w[r, c] = z[r, c]
    changed = True
    while changed:
        changed = False
        for r in range(rows):
            for c in range(cols):
                if not valid[r, c]:
                    continue
                best = w[r, c]
                for dr in (-1, 0, 1):
                    for dc in (-1, 0, 1):
                        r2, c2 = r + dr, c + dc
                        if (dr or dc) and 0 <= r2 < rows and 0 <= c2 < cols and valid[r2, c2]:
                            cand = max(z[r, c], w[r2, c2])
                            best = min(best, cand)
                if best < w[r, c]:
                    w[r, c] = best
                    changed = True
    return w


def test_v_valley_exact():
    z = v_valley(rows=12, cols=9)
    flow = flow_grid(_dem(z))
    mid = 4
    # sides flow horizontally to the channel, the channel flows south
    assert (flow.dirs[:, :mid] == 1).all()
    assert (flow.dirs[:, mid + 1:] == 16).all()
    assert (flow.dirs[:-1, mid] == 4).all()
    assert flow.dirs[-1, mid] == OUTLET
    # accumulation: side cells count their distance from the ridge; channel adds whole rows
    assert flow.accumulation[-1, mid] == z.size
    for r in range(12):
        assert flow.accumulation[r, mid] == (r + 1) * 9
        assert list(flow.accumulation[r, :mid]) == [1, 2, 3, 4]
    assert_all_drain(flow)


def test_tilted_plane_edges_are_outlets():
    _, xx = np.mgrid[0:6, 0:10]
    z = (100.0 - xx * 1.0).astype(np.float32)  # falls to the east
    flow = flow_grid(_dem(z))
    assert (flow.dirs[:, :-1] == 1).all()
    assert (flow.dirs[:, -1] == OUTLET).all()
    assert (flow.accumulation[:, -1] == 10).all()
    assert np.array_equal(flow.filled, z)  # nothing to fill


def test_bowl_is_filled_to_its_spill_level_and_drains():
    yy, xx = np.mgrid[0:11, 0:11]
    z = np.hypot(yy - 5.0, xx - 5.0).astype(np.float32) + 10.0
    z[0, 5] = 5.0  # a notch: the only low point on the rim
    flow = flow_grid(_dem(z))
    # the bowl fills up to the lowest rim cell next to the notch: z[1, 5]
    spill = z[1, 5]
    inner = np.hypot(yy - 5.0, xx - 5.0) < 4.0
    assert np.allclose(flow.filled[inner], spill)
    assert flow.accumulation[0, 5] >= int(inner.sum())
    assert_all_drain(flow)


def test_fill_matches_brute_force_on_random_dems():
    rng = np.random.default_rng(7)
    for trial in range(6):
        z = rng.integers(0, 6, size=(9, 11)).astype(np.float32)  # many ties and pits
        valid = np.ones(z.shape, dtype=bool)
        if trial % 2:
            valid[4, 5] = False  # a nodata hole acts as an outlet
            z[4, 5] = -9999
        dem = Dem(z, transform=T30, nodata=-9999 if trial % 2 else None)
        filled = fill_depressions(dem)
        ref = brute_fill(z.astype(np.float64), valid)
        assert np.array_equal(filled[valid], ref[valid].astype(np.float32))
        # float64 path (binary heap) agrees with the float32 path (radix heap)
        filled64 = fill_depressions(Dem(z.astype(np.float64), transform=T30, nodata=dem.nodata))
        assert np.array_equal(filled64[valid], filled[valid].astype(np.float64))
        for flats in ("flood", "barnes"):
            assert_all_drain(flow_grid(dem, flats=flats))


def test_large_flat_drains_to_single_outlet():
    z = np.full((15, 20), 50.0, dtype=np.float32)
    z[0, :] = z[-1, :] = z[:, 0] = z[:, -1] = 60.0  # rim
    z[-1, 7] = 40.0  # one exit
    for flats in ("flood", "barnes"):
        flow = flow_grid(_dem(z), flats=flats)
        assert_all_drain(flow)
        interior = (13 * 18)
        assert flow.accumulation[-1, 7] >= interior + 1


def test_nodata_hole_and_border():
    yy, xx = np.mgrid[0:15, 0:15]
    z = np.hypot(yy - 7.0, xx - 7.0).astype(np.float32)  # a cone pointing down
    z[6:9, 6:9] = -9999.0  # hole in the middle
    dem = _dem(z, nodata=-9999.0)
    flow = flow_grid(dem)
    assert (flow.dirs[6:9, 6:9] == NODATA).all()
    assert (flow.accumulation[6:9, 6:9] == 0).all()
    # nothing was filled: the hole is the outlet of the cone
    assert np.array_equal(flow.filled[flow.valid], z[flow.valid])
    # cells next to the hole with no lower valid neighbour are outlets
    assert flow.dirs[5, 7] == OUTLET
    assert_all_drain(flow)


def test_all_nodata_is_a_data_error():
    with pytest.raises(DataError, match="no valid elevation"):
        flow_grid(_dem(np.full((4, 4), -1.0), nodata=-1.0))


def test_scan_order_only_changes_ties():
    z = np.array([[5, 5, 5], [5, 9, 5], [5, 5, 5]], dtype=np.float32) * 1.0
    z[0, 1] = 1  # N
    z[1, 2] = 1  # E: same drop, same distance -> tie
    v = np.ones(z.shape, bool)
    assert d8_directions(z, v, 1.0, 1.0, scan_order="N")[1, 1] == 64
    assert d8_directions(z, v, 1.0, 1.0, scan_order="NE")[1, 1] == 1
    with pytest.raises(InputError):
        d8_directions(z, v, 1.0, 1.0, scan_order="S")


def test_weighted_accumulation():
    z = v_valley(rows=6, cols=5)
    flow = flow_grid(_dem(z))
    w = np.zeros(z.shape)
    w[0, 0] = 2.5
    acc = d8_accumulation(flow.dirs, weights=w)
    assert acc[-1, 2] == pytest.approx(2.5)
    assert acc[0, 1] == pytest.approx(2.5) and acc[1, 1] == 0


@pytest.mark.parametrize(
    "gx, gy, angle",
    [(-1.0, 0.0, 0.0), (0.0, 1.0, math.pi / 2), (1.0, 0.0, math.pi), (-1.0, 1.0, math.pi / 4),
     (-1.0, math.tan(math.radians(30)), math.radians(30))],
)
def test_dinf_angle_on_planes(gx, gy, angle):
    # z = gx * x + gy * y with y the row index (rows go south); "north" = up the array
    yy, xx = np.mgrid[0:7, 0:7]
    z = (100 + gx * xx * 30 + gy * yy * 30).astype(np.float64)
    v = np.ones(z.shape, bool)
    ang = dinf_directions(z, v, 30.0, 30.0)
    assert ang[3, 3] == pytest.approx(angle, abs=1e-5)


def test_dinf_accumulation_conserves_cells():
    rng = np.random.default_rng(3)
    z = (v_valley(rows=20, cols=15) + rng.random((20, 15)).astype(np.float32)).astype(np.float32)
    dem = _dem(z)
    flow = flow_grid(dem)
    ang = dinf_directions(flow.filled, flow.valid, 30.0, 30.0, d8=flow.dirs)
    acc = dinf_accumulation(ang, flow.valid)
    assert (acc[flow.valid] >= 1.0 - 1e-9).all()
    # every cell's unit leaves the grid through outlets or the grid edge: total
    # outflow from cells without receivers plus edge losses equals the cell count
    out = acc[ang < 0].sum()
    rows, cols = z.shape
    edge_loss = 0.0
    q = math.pi / 4
    for r in range(rows):
        for c in range(cols):
            a = ang[r, c]
            if a < 0:
                continue
            s = int(a // q) % 8
            frac = (a - (a // q) * q) / q
            for m, p in ((0, 1 - frac), (1, frac)):
                t = (s + m) % 8
                dr = [0, -1, -1, -1, 0, 1, 1, 1][t]
                dc = [1, 1, 0, -1, -1, -1, 0, 1][t]
                if not (0 <= r + dr < rows and 0 <= c + dc < cols) and p > 1e-9:
                    edge_loss += acc[r, c] * p
    assert out + edge_loss == pytest.approx(z.size, rel=1e-6)


def test_unfilled_pit_is_reported_as_outlet():
    z = np.full((5, 5), 10.0, dtype=np.float32)
    z[2, 2] = 1.0
    d = d8_directions(z, np.ones(z.shape, bool), 1.0, 1.0)
    assert d[2, 2] == OUTLET  # a real pit: no receiver
    assert K.d8_accumulate(d.ravel(), 5, 5, np.ones(25, np.int32)) == 0
