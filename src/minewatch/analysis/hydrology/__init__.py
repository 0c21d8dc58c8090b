"""Hydrology on DEMs: conditioning, flow routing, accumulation, paths and catchments.

See ``docs/hydrology.md`` for conventions (ESRI D8 codes, units) and limits.
"""

from minewatch.analysis.hydrology.flow import (
    D8_CODES,
    D8_OFFSETS,
    NODATA,
    OUTLET,
    FlowGrid,
    d8_accumulation,
    d8_directions,
    dinf_accumulation,
    dinf_directions,
    fill_depressions,
    flow_grid,
)
from minewatch.analysis.hydrology.grid import Dem, cell_sizes_m, read_dem, write_raster
from minewatch.analysis.hydrology.paths import (
    catchment,
    downstream_distance,
    flow_path,
    point_cell,
    travel_time_h,
)
from minewatch.analysis.hydrology.streams import extract_streams, stream_lines

__all__ = [
    "D8_CODES", "D8_OFFSETS", "NODATA", "OUTLET", "Dem", "FlowGrid", "catchment",
    "cell_sizes_m", "d8_accumulation", "d8_directions", "dinf_accumulation",
    "dinf_directions", "downstream_distance", "extract_streams", "fill_depressions",
    "flow_grid", "flow_path", "point_cell", "read_dem", "stream_lines", "travel_time_h", "write_raster",
]
