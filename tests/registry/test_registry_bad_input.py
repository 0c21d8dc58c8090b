"""Bad input gets a one-line error naming file, feature and field, and changes nothing."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
import shapely

from minewatch.cli.main import main
from minewatch.errors import InputError, ValidationError
from registry_helpers import licence


def _fc(features, crs=None):
    fc = {"type": "FeatureCollection", "features": features}
    if crs:
        fc["crs"] = {"type": "name", "properties": {"name": crs}}
    return fc


def _feat(props, geom):
    return {"type": "Feature", "properties": props, "geometry": shapely.geometry.mapping(geom)}


GOOD = {"licence_id": "A-1", "kind": "extraction", "status": "active",
        "valid_from": "2020-01-01", "valid_to": "2030-01-01"}


def _state(reg):
    state = {k: reg.count(k) for k in ("licences", "import_log", "sites")}
    if reg.kind == "geopackage":
        state["sha256"] = hashlib.sha256(Path(reg.backend.path).read_bytes()).hexdigest()
    return state


@pytest.fixture
def seeded(registry):
    registry.import_records("licences", [licence("SEED-1", shapely.box(0, 0, 1, 1))])
    return registry


def _cli_error(capsys, args) -> str:
    rc = main(args)
    err = capsys.readouterr().err.strip()
    assert rc == 2, err
    assert len(err.splitlines()) == 1, err
    assert err.startswith("error: ")
    return err


def test_broken_file(seeded, tmp_path, capsys):
    good = json.dumps(_fc([_feat(GOOD, shapely.box(0, 0, 1, 1))]))
    bad = tmp_path / "broken.geojson"
    bad.write_text(good[: len(good) // 2])  # truncated download
    before = _state(seeded)
    err = _cli_error(capsys, ["registry", "import", str(bad), "-r", seeded.url, "-k", "licences"])
    assert "broken.geojson" in err and "cannot read" in err
    assert _state(seeded) == before


def test_wrong_crs(seeded, tmp_path, capsys):
    # UTM metres in a file that says (by GeoJSON default) lon/lat.
    utm = shapely.box(500000, 8500000, 501000, 8501000)
    f = tmp_path / "utm.geojson"
    f.write_text(json.dumps(_fc([_feat(GOOD, shapely.box(0, 0, 1, 1)),
                                 _feat({**GOOD, "licence_id": "A-2"}, utm)])))
    before = _state(seeded)
    err = _cli_error(capsys, ["registry", "import", str(f), "-r", seeded.url, "-k", "licences"])
    assert "utm.geojson, feature 2 (licence_id=A-2), field 'geometry'" in err
    assert "outside lon/lat range" in err and "CRS" in err
    assert _state(seeded) == before
    # With the right CRS the same file imports, reprojected to EPSG:4326.
    f.write_text(json.dumps(_fc([_feat({**GOOD, "licence_id": "A-2"}, utm)],
                                crs="urn:ogc:def:crs:EPSG::32719")))
    rep = seeded.import_file(f, "licences")
    g = seeded.get("licences", "A-2")["geometry"]
    assert rep.inserted == 1 and -69.2 < g.centroid.x < -68.9 and -13.6 < g.centroid.y < -13.4


@pytest.mark.filterwarnings("ignore:.crs. was not provided")
def test_unknown_crs(seeded, tmp_path):
    import geopandas as gpd

    shp = tmp_path / "noprj.shp"
    gpd.GeoDataFrame([GOOD], geometry=[shapely.box(0, 0, 1, 1)]).to_file(shp)
    assert not shp.with_suffix(".prj").exists()
    before = _state(seeded)
    with pytest.raises(ValidationError, match=r"noprj.shp.*field 'geometry': unknown CRS"):
        seeded.import_file(shp, "licences")
    with pytest.raises(InputError, match=r"unknown CRS 'EPSG:999999'"):
        seeded.import_file(shp, "licences", crs="EPSG:999999")
    assert _state(seeded) == before
    assert seeded.import_file(shp, "licences", crs="EPSG:4326").inserted == 1


def test_missing_required_column(seeded, tmp_path, capsys):
    f = tmp_path / "nostatus.csv"
    f.write_text("licence_id,kind,valid_from,wkt\nB-1,extraction,2020-01-01,"
                 "\"POLYGON((0 0,1 0,1 1,0 0))\"\n")
    before = _state(seeded)
    err = _cli_error(capsys, ["registry", "import", str(f), "-r", seeded.url, "-k", "licences"])
    assert "nostatus.csv, every feature, field 'status': required column is missing" in err
    assert _state(seeded) == before


def test_bad_value_in_one_row_rejects_the_whole_file(seeded, tmp_path, capsys):
    rows = ["licence_id,kind,status,valid_from,valid_to,wkt"]
    for i in range(50):
        vt = "2019-13-45" if i == 37 else "2030-01-01"
        rows.append(f"C-{i},extraction,active,2020-01-01,{vt},\"POLYGON((0 0,1 0,1 1,0 0))\"")
    f = tmp_path / "many.csv"
    f.write_text("\n".join(rows) + "\n")
    before = _state(seeded)
    err = _cli_error(capsys, ["registry", "import", str(f), "-r", seeded.url, "-k", "licences"])
    assert "many.csv, feature 38 (licence_id=C-37), field 'valid_to': '2019-13-45' is not a date" \
        in err
    assert "nothing was imported" in err
    assert _state(seeded) == before


def test_unreadable_wkt_names_the_line(seeded, tmp_path):
    f = tmp_path / "wkt.csv"
    f.write_text("licence_id,kind,status,valid_from,wkt\nW-1,extraction,active,2020-01-01,"
                 "\"POLYGON((0 0,1 0\"\n")
    with pytest.raises(InputError, match=r"wkt.csv: feature 1 \(line 2\), field 'wkt'"):
        seeded.import_file(f, "licences")


def test_not_a_registry(tmp_path, capsys):
    f = tmp_path / "x.gpkg"
    f.write_text("hello")
    err = _cli_error(capsys, ["registry", "list", "-r", str(f)])
    assert "is not a GeoPackage" in err
    err = _cli_error(capsys, ["registry", "list", "-r", str(tmp_path / "missing.gpkg")])
    assert "no registry at" in err and "registry init" in err
