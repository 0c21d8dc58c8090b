"""Flow paths, distances, catchments, streams and travel time on synthetic grids."""

from __future__ import annotations

import math

import numpy as np
import pytest
from affine import Affine
from hydro_synth import v_valley

from minewatch.analysis.hydrology import (
    Dem,
    catchment,
    cell_sizes_m,
    downstream_distance,
    extract_streams,
    flow_grid,
    flow_path,
    point_cell,
    stream_lines,
    travel_time_h,
)
from minewatch.errors import InputError

T = Affine(30.0, 0, 1000.0, 0, -30.0, 5000.0)


def valley_flow(rows=20, cols=11):
    from rasterio.crs import CRS

    return flow_grid(Dem(v_valley(rows, cols), transform=T, crs=CRS.from_epsg(32633)))


def test_flow_path_and_distance_along_channel():
    flow = valley_flow()
    r, c, d = flow_path(flow, 3, 0)  # west bank: 5 cells east to the channel, then south
    assert (r[:6] == 3).all() and list(c[:6]) == [0, 1, 2, 3, 4, 5]
    assert (c[5:] == 5).all() and r[-1] == 19
    assert d[-1] == pytest.approx(5 * 30 + 16 * 30)
    r2, _, d2 = flow_path(flow, 3, 0, max_distance_m=200)
    assert d2[-1] <= 200 and len(r2) == 7


def test_diagonal_steps_count_the_hypotenuse():
    yy, xx = np.mgrid[0:6, 0:6]
    z = (100.0 - xx - yy).astype(np.float32)  # falls to the south-east
    flow = flow_grid(Dem(z, transform=T))
    r, c, d = flow_path(flow, 0, 0)
    assert list(zip(r, c))[:3] == [(0, 0), (1, 1), (2, 2)]
    assert d[-1] == pytest.approx(5 * 30 * math.sqrt(2))


def test_downstream_distance_takes_the_shortest_source():
    flow = valley_flow()
    src = np.zeros(flow.shape, bool)
    src[2, 5] = src[8, 5] = True
    cells, dist = downstream_distance(flow, src)
    got = dict(zip(cells.tolist(), dist.tolist()))
    cols = flow.shape[1]
    assert got[2 * cols + 5] == 0.0 and got[8 * cols + 5] == 0.0
    assert got[5 * cols + 5] == pytest.approx(90.0)
    assert got[12 * cols + 5] == pytest.approx(120.0)  # from the lower source
    assert (3 * cols + 4) not in got  # the bank is not downstream


def test_catchment_of_channel_cell():
    flow = valley_flow()
    mask, dist = catchment(flow, 10, 5)
    assert mask.sum() == 11 * 11  # rows 0..10, whole width
    assert dist[10, 5] == 0.0
    assert dist[0, 0] == pytest.approx(5 * 30 + 10 * 30)
    with pytest.raises(InputError):
        catchment(flow, 99, 0)
    # a point given in coordinates (here the DEM's own CRS, and in lon/lat)
    assert point_cell(flow, 1000.0 + 5.5 * 30, 5000.0 - 10.5 * 30, crs=None) == (10, 5)
    from pyproj import Transformer

    lon, lat = Transformer.from_crs(32633, 4326, always_xy=True).transform(1000.0 + 5.5 * 30,
                                                                            5000.0 - 10.5 * 30)
    assert point_cell(flow, lon, lat) == (10, 5)
    with pytest.raises(InputError, match="outside"):
        point_cell(flow, 0.0, 0.0, crs=None)


def test_streams_and_segments():
    flow = valley_flow()
    streams = extract_streams(flow, threshold_cells=11)
    assert streams[:, 5].all() and streams.sum() == 20
    lines = stream_lines(flow, streams)
    assert len(lines) == 1
    x, _ = lines[0]
    assert len(x) == 20 and np.allclose(x, 1000.0 + 5.5 * 30)
    area = extract_streams(flow, threshold_km2=11 * 900 / 1e6)
    assert np.array_equal(area, streams)
    # tributary junction: two streams meeting make three segments
    z = v_valley(20, 11).astype(np.float32)
    tri = flow_grid(Dem(z, transform=T))
    s = np.zeros(tri.shape, bool)
    s[:, 5] = True
    s[8, 0:5] = True  # a tributary joining at row 8
    segs = stream_lines(tri, s)
    assert len(segs) == 3


def test_travel_time_and_geographic_cell_sizes():
    assert travel_time_h(1800.0, 0.5) == pytest.approx(1.0)
    with pytest.raises(InputError):
        travel_time_h(10.0, 0.0)
    from rasterio.crs import CRS

    geo = Dem(np.zeros((3, 3), np.float32), transform=Affine(1 / 1200, 0, 0, 0, -1 / 1200, 0.00125),
              crs=CRS.from_epsg(4326))
    dx, dy = cell_sizes_m(geo)
    assert dx[1] == pytest.approx(92.77, abs=0.05)  # 3 arc-seconds at the equator
    assert dy[1] == pytest.approx(92.13, abs=0.05)
