"""Geometry between CRSs and onto the analysis grid."""

from __future__ import annotations

import numpy as np
import shapely
from pyproj import CRS, Transformer
from rasterio import features
from shapely.geometry import mapping

from minewatch.imagery.load import Grid


def reproject_geometry(geom: shapely.Geometry, src, dst) -> shapely.Geometry:
    """Reproject a shapely geometry between two CRS (anything pyproj understands)."""
    src, dst = CRS.from_user_input(src), CRS.from_user_input(dst)
    if src.equals(dst):
        return geom
    tf = Transformer.from_crs(src, dst, always_xy=True)
    return shapely.transform(geom, lambda xy: np.column_stack(tf.transform(xy[:, 0], xy[:, 1])))


def geometry_to_grid(geom: shapely.Geometry, grid: Grid) -> shapely.Geometry:
    """Reproject an EPSG:4326 geometry to the grid CRS."""
    return reproject_geometry(geom, 4326, grid.crs.to_wkt())


def rasterize(geom: shapely.Geometry, grid: Grid) -> np.ndarray:
    """Boolean mask of the grid cells whose centre lies in ``geom`` (EPSG:4326)."""
    g = geometry_to_grid(geom, grid)
    return features.rasterize([(mapping(g), 1)], out_shape=grid.shape, transform=grid.transform,
                              fill=0, dtype=np.uint8).astype(bool)
