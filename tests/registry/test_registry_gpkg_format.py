"""The GeoPackage backend writes a real OGC GeoPackage that GDAL reads, with R-trees in sync."""

from __future__ import annotations

import sqlite3

import numpy as np
import pyogrio
import pytest
import shapely

from minewatch.registry import gpkg, init_registry
from registry_helpers import licence


def test_blob_roundtrip_and_header():
    geoms = [shapely.box(1, 2, 3, 4), shapely.Point(5, 6), None, shapely.Polygon(),
             shapely.MultiPolygon([shapely.box(0, 0, 1, 1), shapely.box(2, 2, 3, 3)])]
    blobs = gpkg.encode_many(geoms)
    assert blobs[2] is None
    assert blobs[0][:2] == b"GP" and blobs[0][3] == 0x03
    assert blobs[3][3] & 0x10  # empty flag
    assert gpkg.blob_envelope(blobs[0]) == (1.0, 3.0, 2.0, 4.0)
    back = gpkg.decode_many(blobs)
    for a, b in zip(geoms, back):
        assert (a is None and b is None) or a.equals(b) or (a.is_empty and b.is_empty)


@pytest.fixture
def gpkg_file(tmp_path):
    path = tmp_path / "reg.gpkg"
    reg = init_registry(path)
    rng = np.random.default_rng(3)
    recs = []
    for i in range(300):
        x, y = rng.uniform(-75, -60), rng.uniform(-15, 0)
        recs.append(licence(f"L{i:03d}", shapely.box(x, y, x + 0.05, y + 0.05)))
    reg.import_records("licences", recs)
    reg.import_records("receptors", [{"receptor_id": "W1", "kind": "well",
                                      "geometry": shapely.Point(-70, -10)}])
    yield path, reg
    reg.close()


def test_is_a_geopackage_gdal_opens(gpkg_file):
    path, _reg = gpkg_file
    con = sqlite3.connect(path)
    assert con.execute("PRAGMA application_id").fetchone()[0] == 0x47504B47
    assert con.execute("PRAGMA user_version").fetchone()[0] == 10400
    contents = dict(con.execute("SELECT table_name, data_type FROM gpkg_contents"))
    assert contents["licence_versions"] == "features"
    assert contents["monitoring_runs"] == "attributes"
    gcols = {r[0]: r[2] for r in con.execute("SELECT * FROM gpkg_geometry_columns")}
    assert gcols["licence_versions"] == "MULTIPOLYGON" and gcols["receptors"] == "GEOMETRY"
    ext = con.execute("SELECT COUNT(*) FROM gpkg_extensions WHERE extension_name = "
                      "'gpkg_rtree_index'").fetchone()[0]
    assert ext == len(gcols)
    con.close()
    layers = dict(pyogrio.list_layers(path))
    assert layers["licence_versions"] == "MultiPolygon"
    info = pyogrio.read_info(path, layer="licence_versions")
    assert info["features"] == 300 and info["crs"] == "EPSG:4326"
    df = pyogrio.read_dataframe(path, layer="licence_versions")
    assert len(df) == 300 and set(df.licence_id) == {f"L{i:03d}" for i in range(300)}
    # GDAL's spatial filter goes through our R-tree and agrees with shapely.
    bbox = (-70, -10, -65, -5)
    sub = pyogrio.read_dataframe(path, layer="licence_versions", bbox=bbox)
    expect = {r.licence_id for r in df.itertuples() if r.geometry.intersects(shapely.box(*bbox))}
    assert set(sub.licence_id) == expect and expect


def test_rtree_stays_in_sync(gpkg_file):
    path, reg = gpkg_file
    con = sqlite3.connect(path)
    gpkg.register_functions(con)

    def check():
        rows = con.execute("SELECT fid, geom FROM licence_versions").fetchall()
        rt = {r[0]: r[1:] for r in con.execute(
            "SELECT id, minx, maxx, miny, maxy FROM rtree_licence_versions_geom")}
        assert set(rt) == {fid for fid, _ in rows}
        for fid, blob in rows:
            x0, y0, x1, y1 = gpkg.decode(blob).bounds
            minx, maxx, miny, maxy = rt[fid]  # float32, rounded outwards
            assert minx <= x0 < minx + 1e-4 and maxx - 1e-4 < x1 <= maxx
            assert miny <= y0 < miny + 1e-4 and maxy - 1e-4 < y1 <= maxy

    check()
    with con:  # a plain sqlite3 editor (like QGIS) moving and deleting features
        con.execute("UPDATE licence_versions SET geom = ? WHERE licence_id = 'L000'",
                    (gpkg.encode(shapely.box(10, 10, 11, 11)),))
        con.execute("DELETE FROM licence_versions WHERE licence_id = 'L001'")
    check()
    assert [r["licence_id"] for r in reg.licences_valid_at(
        "2022-01-01", bbox=(9, 9, 12, 12))] == ["L000"]
    con.close()
    assert reg.integrity_check() == "ok"


def test_gdal_can_edit_the_registry(gpkg_file):
    """A feature added by GDAL (as QGIS would) is seen by the registry, R-tree included."""
    import geopandas as gpd

    path, reg = gpkg_file
    df = gpd.GeoDataFrame({"receptor_id": ["SPRING-Q"], "kind": ["spring"],
                           "name": ["added in QGIS"]},
                          geometry=[shapely.Point(-61.5, -4.5)], crs="EPSG:4326")
    pyogrio.write_dataframe(df, path, layer="receptors", append=True)
    rec = reg.get("receptors", "SPRING-Q")
    assert rec["name"] == "added in QGIS" and rec["geometry"].equals(shapely.Point(-61.5, -4.5))
    near = reg.rows("receptors", bbox=(-62, -5, -61, -4))
    assert [r["receptor_id"] for r in near] == ["SPRING-Q"]
    assert reg.integrity_check() == "ok"
