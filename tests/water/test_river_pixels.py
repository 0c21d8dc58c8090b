"""From a real GeoTIFF to the river signal: water pixels along the line, then NDTI downstream."""

from __future__ import annotations

import numpy as np
import pytest
import rasterio
from pyproj import Transformer
from rasterio.transform import from_origin
from shapely.geometry import LineString, Point

from minewatch.analysis.water.chainage import river_reach
from minewatch.analysis.water.river_pixels import river_pixels
from minewatch.analysis.water.river_signal import add_water_indices, gradient_test, river_profile


def test_water_pixels_from_geotiff(tmp_path):
    crs = "EPSG:32733"
    x0, y0, res, n = 500_000.0, 9_000_000.0, 10.0, 200
    transform = from_origin(x0, y0, res, res)
    green = np.full((n, n), 0.05, "float32")
    nir = np.full((n, n), 0.30, "float32")
    red = np.full((n, n), 0.04, "float32")
    water = slice(95, 106)  # 11 rows of river, centre row 100
    green[water] = 0.08
    nir[water] = 0.02
    red[water] = np.linspace(0.03, 0.09, n, dtype="float32")  # redder downstream (east)
    path = tmp_path / "s2_2021-08-10.tif"
    with rasterio.open(path, "w", driver="GTiff", width=n, height=n, count=3, dtype="float32",
                       crs=crs, transform=transform) as dst:
        for i, band in enumerate((green, red, nir), start=1):
            dst.write(band, i)
    with rasterio.open(path) as src:
        g, r, ni = src.read(1), src.read(2), src.read(3)
        tr, src_crs = src.transform, src.crs
    to_ll = Transformer.from_crs(crs, "EPSG:4326", always_xy=True)
    yc = y0 - 100.5 * res
    (lon0, lon1), (lat0, lat1) = to_ll.transform([x0 - 500, x0 + n * res + 500], [yc, yc])
    mine_lon, mine_lat = to_ll.transform(x0 - 200, yc + 100)
    reach = river_reach(LineString([(lon0, lat0), (lon1, lat1)]), Point(mine_lon, mine_lat))
    pts = river_pixels({"B03": g, "B04": r, "B08": ni}, tr, src_crs, reach, date="2021-08-10",
                       max_offset_m=100.0)
    # only the 11 water rows, whole width (land within 100 m fails the NDWI test)
    assert len(pts) == 11 * n
    assert pts.offset_m.max() <= 55.0
    assert pts.chainage_km.min() == pytest.approx(0.2, abs=0.02)
    assert pts.chainage_km.max() == pytest.approx(2.19, abs=0.02)
    pts = add_water_indices(pts, red="B04", green="B03", nir="B08")
    prof = river_profile(pts, "ndti", bin_km=0.2, min_points=5)
    grad = gradient_test(prof).iloc[0]
    assert grad.trend == "rises downstream" and grad.spearman_rho > 0.9
    # without the water test, land pixels within 100 m come in too
    allpx = river_pixels({"B03": g, "B08": ni}, tr, src_crs, reach, date="2021-08-10",
                         max_offset_m=100.0, ndwi_min=None)
    assert len(allpx) > len(pts)
