"""Licence periods from the GeoJSON contract, and the compliance check on a grid."""

import datetime as dt
import json

import numpy as np
import pytest
from affine import Affine
from rasterio.crs import CRS

from minewatch.analysis.compliance import check_compliance
from minewatch.analysis.licences import read_licences, read_receptors
from minewatch.dates import to_day
from minewatch.errors import InputError
from minewatch.imagery.load import Grid

GRID = Grid(CRS.from_epsg(32636), Affine(10, 0, 500000, 0, -10, 7000000), 20, 20)
# 4326 box covering the left half of GRID (x 500000..500100)
from pyproj import Transformer  # noqa: E402

_tf = Transformer.from_crs(32636, 4326, always_xy=True)


def _ring(x0, y0, x1, y1):
    pts = [(x0, y0), (x1, y0), (x1, y1), (x0, y1), (x0, y0)]
    return [list(_tf.transform(x, y)) for x, y in pts]


def _write(tmp_path, features, name="lic.geojson", crs=None):
    doc = {"type": "FeatureCollection", "features": features}
    if crs:
        doc["crs"] = {"type": "name", "properties": {"name": crs}}
    p = tmp_path / name
    p.write_text(json.dumps(doc))
    return p


def _lic(lid, status, vf, vt, ring, **extra):
    props = {"licence_id": lid, "holder": "H", "commodity": "gold", "status": status,
             "valid_from": vf, "valid_to": vt, **extra}
    return {"type": "Feature", "properties": props, "geometry": {"type": "Polygon", "coordinates": [ring]}}


def test_licence_rules_by_status(tmp_path):
    left = _ring(500000, 6999800, 500100, 7000000)
    right = _ring(500100, 6999800, 500200, 7000000)
    p = _write(tmp_path, [
        _lic("A", "active", "2018-01-01", None, left),
        _lic("E", "expired", "2015-01-01", "2021-06-30", right),
    ])
    periods = read_licences(p)
    onset = np.zeros(GRID.shape, np.int32)
    onset[:, 2] = to_day(dt.date(2022, 3, 1))   # inside A, A active -> authorised
    onset[:, 15] = to_day(dt.date(2021, 1, 1))  # inside E before expiry -> authorised
    onset[:, 16] = to_day(dt.date(2022, 1, 1))  # inside E after expiry -> outside
    res = check_compliance(onset, periods, GRID)
    assert not res.outside[:, 2].any() and not res.outside[:, 15].any()
    assert res.outside[:, 16].all()
    assert (res.period_index[:, 2] == 0).all()


def test_suspended_without_and_with_status_since(tmp_path):
    left = _ring(500000, 6999800, 500100, 7000000)
    p = _write(tmp_path, [_lic("S", "suspended", "2015-01-01", None, left)])
    (period,) = read_licences(p)
    assert not period.active_on(to_day(dt.date(2016, 1, 1)))
    p2 = _write(tmp_path, [_lic("S", "suspended", "2015-01-01", None, left, status_since="2022-05-01")],
                name="l2.geojson")
    (period,) = read_licences(p2)
    assert period.active_on(to_day(dt.date(2022, 4, 30)))
    assert not period.active_on(to_day(dt.date(2022, 5, 1)))


def test_declared_crs_is_honoured(tmp_path):
    ring = [[500000, 6999800], [500100, 6999800], [500100, 7000000], [500000, 7000000], [500000, 6999800]]
    p = _write(tmp_path, [_lic("U", "active", None, None, ring)], crs="urn:ogc:def:crs:EPSG::32636")
    (period,) = read_licences(p)
    lon, lat = period.geometry.exterior.coords[0]
    assert (lon, lat) == pytest.approx(_tf.transform(500000, 6999800))  # transformed to EPSG:4326


@pytest.mark.parametrize("props, message", [
    ({"licence_id": None}, "missing property licence_id"),
    ({"status": "dormant"}, "status='dormant'"),
    ({"valid_from": "2020-13-01"}, "not an ISO date"),
    ({"valid_from": "2021-01-01", "valid_to": "2020-01-01"}, "before valid_from"),
])
def test_bad_licences_name_feature_and_field(tmp_path, props, message):
    feat = _lic("X", "active", "2015-01-01", None, _ring(500000, 6999800, 500100, 7000000))
    feat["properties"].update(props)
    with pytest.raises(InputError) as err:
        read_licences(_write(tmp_path, [feat]))
    assert message in str(err.value) and "feature 0" in str(err.value)


def test_duplicate_ids_and_unknown_crs(tmp_path):
    f = _lic("X", "active", None, None, _ring(500000, 6999800, 500100, 7000000))
    with pytest.raises(InputError, match="duplicate licence_id"):
        read_licences(_write(tmp_path, [f, f]))
    with pytest.raises(InputError, match="unknown CRS"):
        read_licences(_write(tmp_path, [f], name="c.geojson", crs="EPSG:999999"))


def test_receptors(tmp_path):
    feats = [{"type": "Feature", "properties": {"receptor_id": "W1", "kind": "well", "name": "Well 1"},
              "geometry": {"type": "Point", "coordinates": [33.0, -26.0]}}]
    (r,) = read_receptors(_write(tmp_path, feats, name="r.geojson"))
    assert (r.receptor_id, r.kind, r.name) == ("W1", "well", "Well 1")
    feats[0]["properties"].pop("kind")
    with pytest.raises(InputError, match="missing property kind"):
        read_receptors(_write(tmp_path, feats, name="r2.geojson"))

