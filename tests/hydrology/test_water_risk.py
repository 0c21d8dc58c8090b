"""Receptors downstream and the groundwater indicator on a georeferenced synthetic valley."""

from __future__ import annotations

import numpy as np
import pytest
from hydro_synth import CELL, ORIGIN, v_valley, write_dem
from pyproj import Transformer
from shapely.geometry import Point, Polygon

from minewatch.analysis.hydrology import flow_grid, read_dem
from minewatch.analysis.hydrology.receptors import (
    default_snap_distance_m,
    groundwater_vulnerability,
    receptors_downstream,
)
from minewatch.errors import DataError, InputError

ROWS, COLS = 40, 21
MID = COLS // 2
TO_LL = Transformer.from_crs("EPSG:32733", "EPSG:4326", always_xy=True)


def cell_center(r: float, c: float) -> tuple[float, float]:
    return ORIGIN[0] + (c + 0.5) * CELL, ORIGIN[1] - (r + 0.5) * CELL


def ll_point(r: float, c: float) -> Point:
    return Point(*TO_LL.transform(*cell_center(r, c)))


def ll_block(r0: int, r1: int, c0: int, c1: int) -> Polygon:
    """Polygon covering cells rows r0..r1-1, cols c0..c1-1 (slightly inset so all_touched
    does not catch neighbours)."""
    x0, y0 = ORIGIN[0] + c0 * CELL + 1, ORIGIN[1] - r0 * CELL - 1
    x1, y1 = ORIGIN[0] + c1 * CELL - 1, ORIGIN[1] - r1 * CELL + 1
    ring = [TO_LL.transform(x, y) for x, y in [(x0, y0), (x1, y0), (x1, y1), (x0, y1)]]
    return Polygon(ring)


def rec(rid, kind, pt):
    return {"receptor_id": rid, "kind": kind, "name": f"{kind} {rid}", "geometry": pt}


def test_receptors_downstream_exact_distances(valley_tif):
    # mine feature: the 3 x 3 block straddling the channel at rows 5-7
    src = [("alert-1", ll_block(5, 8, MID - 1, MID + 2))]
    receptors = [
        rec("R-channel", "water_intake", ll_point(25, MID)),       # on the channel
        rec("R-bank", "village", ll_point(30, MID + 1.4)),         # 42 m beside it
        rec("R-hill", "well", ll_point(20, 1)),                    # up on the valley side
        rec("R-upstream", "well", ll_point(0, MID)),               # 150 m above the mine
        rec("R-off", "village", Point(0.0, 0.0)),                  # far off the DEM
    ]
    res = receptors_downstream(valley_tif, src, receptors, velocity_m_s=0.5)
    ids = [r["receptor_id"] for r in res.receptors]
    assert ids == ["R-channel", "R-bank"]  # sorted by flow distance
    ch = res.receptors[0]
    # the channel leaves the feature at row 7; row 25 is 18 cells of 30 m further south
    assert ch["flow_distance_m"] == pytest.approx(18 * CELL, abs=0.5)
    assert ch["travel_time_h"] == pytest.approx(18 * CELL / 0.5 / 3600, abs=1e-3)
    assert ch["alert_ids"] == ["alert-1"]
    # catchment of the channel cell at row 25 is rows 0..25 of the whole width;
    # the feature drains 9 of those cells (equal-area cells in UTM)
    assert ch["catchment_share"] == pytest.approx(9 / (26 * COLS), abs=1e-6)
    assert ch["catchment_area_km2"] == pytest.approx(26 * COLS * CELL * CELL / 1e6, rel=1e-6)
    bank = res.receptors[1]
    assert bank["flow_distance_m"] == pytest.approx(23 * CELL, abs=0.5)
    assert bank["snap_distance_m"] == pytest.approx(0.4 * CELL + 30, abs=1.0)
    assert sorted(res.not_at_risk) == ["R-hill", "R-upstream"]
    assert res.outside_dem == ["R-off"]
    # the path: from the feature outlet (row 7) down the channel to the DEM edge
    (path,) = res.paths
    assert path["alert_id"] == "alert-1" and path["reaches_edge"]
    assert path["length_m"] == pytest.approx((ROWS - 1 - 7) * CELL, abs=0.5)
    assert len(path["geometry"].coords) == ROWS - 7
    assert res.params["snap_distance_m"] == pytest.approx(max(60.0, 3 * CELL))


def test_max_distance_and_snap(valley_tif):
    src = [("a", ll_block(5, 8, MID - 1, MID + 2))]
    receptors = [rec("near", "well", ll_point(12, MID)), rec("far", "well", ll_point(35, MID))]
    res = receptors_downstream(valley_tif, src, receptors, max_distance_m=10 * CELL)
    assert [r["receptor_id"] for r in res.receptors] == ["near"]
    assert res.not_at_risk == ["far"]
    assert res.paths[0]["length_m"] == pytest.approx(10 * CELL, abs=0.5)
    assert not res.paths[0]["reaches_edge"]
    # a receptor 2 cells beside the channel is caught at the default snap (90 m) but not at 30 m
    side = [rec("side", "village", ll_point(20, MID + 2))]
    assert receptors_downstream(valley_tif, src, side).receptors
    assert not receptors_downstream(valley_tif, src, side, snap_distance_m=30.0).receptors


def test_two_features_share_and_order(valley_tif):
    src = [("upper", ll_block(2, 4, MID, MID + 1)), ("lower", ll_block(10, 12, MID, MID + 1))]
    res = receptors_downstream(valley_tif, src, [rec("R", "village", ll_point(30, MID))])
    (r,) = res.receptors
    assert r["alert_ids"] == ["lower", "upper"]  # nearest first
    assert r["distance_by_alert_m"]["lower"] == pytest.approx(19 * CELL, abs=0.5)
    assert r["distance_by_alert_m"]["upper"] == pytest.approx(27 * CELL, abs=0.5)
    assert r["catchment_share"] == pytest.approx(4 / (31 * COLS), abs=1e-6)


def test_no_overlap_is_a_data_error_naming_the_file(valley_tif):
    far = Polygon([(10, 10), (10.01, 10), (10.01, 10.01), (10, 10.01)])
    with pytest.raises(DataError) as err:
        receptors_downstream(valley_tif, [("x", far)], [])
    assert "valley.tif" in str(err.value) and "bounds" in str(err.value)


def test_bad_inputs(valley_tif):
    src = [("a", ll_block(5, 8, MID - 1, MID + 2))]
    with pytest.raises(InputError, match="velocity"):
        receptors_downstream(valley_tif, src, [], velocity_m_s=0)
    with pytest.raises(InputError, match="receptor #0"):
        receptors_downstream(valley_tif, src, [{"kind": "well"}])
    with pytest.raises(InputError, match="duplicate"):
        receptors_downstream(valley_tif, src + src, [])
    with pytest.raises(InputError, match="not found"):
        receptors_downstream(valley_tif.parent / "missing.tif", src, [])


def test_receptors_in_another_dem_crs(tmp_path):
    """A DEM in geographic coordinates: the flow distance comes out in metres."""
    # 0.0003 deg cells near the equator are about 33 m
    z = v_valley()
    path = write_dem(tmp_path / "geo.tif", z, crs="EPSG:4326", cell=0.0003)
    # write_dem uses the UTM origin; rewrite with a geographic origin
    import rasterio
    from affine import Affine

    with rasterio.open(path, "r+") as ds:
        ds.transform = Affine(0.0003, 0, 12.0, 0, -0.0003, -5.0)
    def ll(r, c):
        return Point(12.0 + (c + 0.5) * 0.0003, -5.0 - (r + 0.5) * 0.0003)
    src = [("a", ll(6, MID).buffer(0.0001))]
    res = receptors_downstream(path, src, [rec("R", "well", ll(26, MID))])
    (r,) = res.receptors
    # 20 rows of 0.0003 deg of latitude at 5 deg S ~ 20 * 33.17 m
    assert r["flow_distance_m"] == pytest.approx(20 * 33.17, rel=0.01)


def test_groundwater_indicator(valley_tif):
    feat = [("pit", ll_block(5, 8, MID - 1, MID + 2))]
    wells = [
        rec("W-down", "well", ll_point(15, MID)),       # on the flow path, lower
        rec("W-side", "spring", ll_point(32, MID + 4)),  # lower, 120 m off the path
        rec("W-up", "well", ll_point(1, 2)),             # higher than the pit
        rec("W-far", "well", ll_point(39, 0)),
        rec("W-off", "well", Point(0.0, 0.0)),
    ]
    out = {w["receptor_id"]: w for w in groundwater_vulnerability(valley_tif, feat, wells,
                                                                   max_distance_m=900.0)}
    down, side, up = out["W-down"], out["W-side"], out["W-up"]
    assert down["on_flow_path"] and down["components"]["position"] == 1.0
    assert not side["on_flow_path"] and side["downgradient"] and side["components"]["position"] == 0.5
    assert not up["downgradient"] and up["components"]["position"] == 0.0
    assert up["components"]["gradient"] == 0.0
    # distance: W-down is 8 rows below the block edge (row 7 bottom edge to row 15 centre)
    assert down["distance_m"] == pytest.approx(7.5 * CELL, abs=2.0)
    assert down["score"] > side["score"] and down["score"] > up["score"]
    assert down["class"] in {"moderate", "high"}
    assert out["W-far"]["class"] == "beyond max distance" and out["W-far"]["score"] == 0.0
    assert out["W-off"]["class"] == "outside DEM"
    # score formula, recomputed from the components (no permeability layer)
    c = down["components"]
    expect = (0.40 * c["distance"] + 0.20 * c["gradient"] + 0.25 * c["position"]) / 0.85
    assert down["score"] == pytest.approx(expect, abs=1e-3)


def test_groundwater_permeability_layer(valley_tif, tmp_path):
    k = np.full((ROWS, COLS), 1e-4, dtype=np.float32)  # sandy gravel
    kpath = write_dem(tmp_path / "k.tif", k, nodata=-1.0)
    feat = [("pit", ll_block(5, 8, MID - 1, MID + 2))]
    w = [rec("W", "well", ll_point(15, MID))]
    (with_k,) = groundwater_vulnerability(valley_tif, feat, w, permeability_path=kpath)
    (no_k,) = groundwater_vulnerability(valley_tif, feat, w)
    assert with_k["permeability_m_s"] == pytest.approx(1e-4)
    assert with_k["components"]["permeability"] == pytest.approx((np.log10(1e-4) + 9) / 6, abs=1e-4)
    assert "permeability" not in no_k["components"]


def test_default_snap(valley_tif):
    assert default_snap_distance_m(flow_grid(read_dem(valley_tif))) == pytest.approx(90.0)
