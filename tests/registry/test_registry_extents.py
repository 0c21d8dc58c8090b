"""GeoPackage layer extents (gpkg_contents) follow the data, as GDAL and QGIS read them."""

from __future__ import annotations

import json
import sqlite3

import pyogrio
import pytest
import shapely

from minewatch.errors import ValidationError
from minewatch.registry import init_registry
from registry_helpers import licence


def gdal_extent(path, layer):
    """The layer extent GDAL reports (from gpkg_contents; None when it has none)."""
    bounds = pyogrio.read_info(path, layer=layer)["total_bounds"]
    return None if bounds is None else tuple(bounds)


def data_bounds(reg, kind):
    geoms = [r["geometry"] for r in reg.rows(kind) if r["geometry"] is not None]
    return tuple(float(v) for v in shapely.total_bounds(geoms)) if geoms else None


@pytest.fixture
def reg(tmp_path):
    r = init_registry(tmp_path / "reg.gpkg")
    yield r
    r.close()


def test_extents_follow_every_write(reg, tmp_path):
    path = reg.backend.path
    # A new registry: no data, no extent (GDAL used to report the whole world).
    assert gdal_extent(path, "licence_versions") is None
    assert gdal_extent(path, "receptors") is None

    reg.import_records("licences", [licence("A", shapely.box(-70.3, -13.2, -70.2, -13.1)),
                                    licence("B", shapely.box(-70.1, -13.4, -69.9, -13.3))])
    assert gdal_extent(path, "licence_versions") == data_bounds(reg, "licences") == \
        (-70.3, -13.4, -69.9, -13.1)
    # A new version with a larger boundary, from a file.
    f = tmp_path / "more.geojson"
    f.write_text(json.dumps({"type": "FeatureCollection", "features": [{
        "type": "Feature", "geometry": shapely.geometry.mapping(shapely.box(-71, -13.2, -70.2,
                                                                            -13.1)),
        "properties": {"licence_id": "A", "kind": "extraction", "status": "active",
                       "valid_from": "2020-01-01", "effective_from": "2022-01-01"}}]}))
    reg.import_file(f, "licences")
    assert gdal_extent(path, "licence_versions") == data_bounds(reg, "licences") == \
        (-71.0, -13.4, -69.9, -13.1)

    # Updates in place shrink the extent too.
    reg.import_records("receptors", [
        {"receptor_id": "W", "kind": "well", "geometry": shapely.Point(-60, -10)},
        {"receptor_id": "V", "kind": "village", "geometry": shapely.Point(-61, -11)}])
    assert gdal_extent(path, "receptors") == (-61.0, -11.0, -60.0, -10.0)
    rep = reg.import_records("receptors", [
        {"receptor_id": "W", "kind": "well", "geometry": shapely.Point(-60.5, -10.5)}])
    assert rep.updated == 1
    assert gdal_extent(path, "receptors") == data_bounds(reg, "receptors") == \
        (-61.0, -11.0, -60.5, -10.5)

    # Alerts: new ones, then a re-detection that moves one (an update).
    run = reg.record_run({"outcome": "ok"})
    a1 = shapely.box(-70.25, -13.18, -70.24, -13.17)
    ids = reg.record_alerts(run, [
        {"alert_id": "A1", "onset_date": "2023-01-01", "area_ha": 1.0, "geometry": a1},
        {"alert_id": "A2", "onset_date": "2023-02-01", "area_ha": 1.0,
         "geometry": shapely.box(-70.0, -13.35, -69.99, -13.34)}])
    assert gdal_extent(path, "alerts") == data_bounds(reg, "alerts")
    run2 = reg.record_run({"outcome": "ok"})
    grown = shapely.box(-70.25, -13.18, -70.238, -13.17)
    assert reg.record_alerts(run2, [{"alert_id": "X", "onset_date": "2023-01-01",
                                     "area_ha": 1.2, "geometry": grown}]) == {"X": ids["A1"]}
    assert gdal_extent(path, "alerts") == data_bounds(reg, "alerts") == \
        (-70.25, -13.35, -69.99, -13.17)

    reg.add_inspection("I-1", "2023-03-01", geometry=shapely.Point(-70.245, -13.175))
    assert gdal_extent(path, "inspections") == (-70.245, -13.175, -70.245, -13.175)


def test_a_refused_import_leaves_the_extent_alone(reg):
    reg.import_records("licences", [licence("A", shapely.box(0, 0, 1, 1))])
    before = gdal_extent(reg.backend.path, "licence_versions")
    with pytest.raises(ValidationError, match="history is never overwritten"):
        reg.import_records("licences", [licence("A", shapely.box(0, 0, 5, 5)),
                                        licence("B", shapely.box(-9, -9, -8, -8))])
    assert gdal_extent(reg.backend.path, "licence_versions") == before == (0.0, 0.0, 1.0, 1.0)


def test_init_corrects_the_world_extent_of_older_registries(reg):
    reg.import_records("receptors", [{"receptor_id": "W", "kind": "well",
                                      "geometry": shapely.Point(10, 20)}])
    path = reg.backend.path
    con = sqlite3.connect(path)
    with con:  # what registries written before extents were kept hold
        con.execute("UPDATE gpkg_contents SET min_x = -180, min_y = -90, max_x = 180, "
                    "max_y = 90 WHERE data_type = 'features'")
    con.close()
    assert gdal_extent(path, "receptors") == (-180.0, -90.0, 180.0, 90.0)
    init_registry(path).close()
    assert gdal_extent(path, "receptors") == (10.0, 20.0, 10.0, 20.0)
    assert gdal_extent(path, "alerts") is None
