"""Bad input to `minewatch analyze`: one clear line, exit code 2, nothing written."""

import json
import shutil

import pytest

from minewatch.cli.main import main


def _run(capsys, args):
    rc = main(["analyze", *args])
    captured = capsys.readouterr()
    return rc, captured.err


def _args(scene, out, **over):
    base = {"catalog": str(scene.catalog), "--licences": str(scene.licences), "--start": "2020-01-01",
            "--end": "2024-12-31", "--out": str(out)}
    base.update(over)
    args = [base.pop("catalog")]
    for k, v in base.items():
        if v is not None:
            args += [k, v]
    return args


def _assert_clean_failure(rc, err, out, *needles):
    assert rc == 2
    lines = [ln for ln in err.strip().splitlines() if ln.strip()]
    assert lines and lines[-1].startswith("error:"), err
    assert "Traceback" not in err
    text = " ".join(err.split())
    for needle in needles:
        assert needle in text, text
    assert not out.exists(), "nothing may be written on bad input"


def test_missing_catalog(small_scene, tmp_path, capsys):
    out = tmp_path / "out"
    rc, err = _run(capsys, _args(small_scene, out, catalog=str(tmp_path / "nope.json")))
    _assert_clean_failure(rc, err, out, "nope.json", "not found")


def test_empty_period(small_scene, tmp_path, capsys):
    out = tmp_path / "out"
    rc, err = _run(capsys, _args(small_scene, out, **{"--start": "2030-01-01", "--end": "2030-12-31"}))
    _assert_clean_failure(rc, err, out, "no scene between 2030-01-01 and 2030-12-31")


def test_no_history(small_scene, tmp_path, capsys):
    out = tmp_path / "out"
    rc, err = _run(capsys, _args(small_scene, out, **{"--start": "2018-01-01"}))
    _assert_clean_failure(rc, err, out, "no scene before --start")


def test_bad_date(small_scene, tmp_path, capsys):
    out = tmp_path / "out"
    rc, err = _run(capsys, _args(small_scene, out, **{"--start": "01/02/2020"}))
    _assert_clean_failure(rc, err, out, "--start", "YYYY-MM-DD")


def test_licences_do_not_overlap(small_scene, tmp_path, capsys):
    doc = json.loads(small_scene.licences.read_text())
    for feat in doc["features"]:
        rings = feat["geometry"]["coordinates"]
        feat["geometry"]["coordinates"] = [[[x + 10.0, y] for x, y in ring] for ring in rings] \
            if feat["geometry"]["type"] == "Polygon" else \
            [[[[x + 10.0, y] for x, y in ring] for ring in poly] for poly in rings]
    far = tmp_path / "far.geojson"
    far.write_text(json.dumps(doc))
    out = tmp_path / "out"
    rc, err = _run(capsys, _args(small_scene, out, **{"--licences": str(far)}))
    _assert_clean_failure(rc, err, out, "far.geojson", "does not overlap")


def test_dem_does_not_overlap(small_scene, tmp_path, capsys):
    import numpy as np
    import rasterio
    from rasterio.transform import from_origin

    dem = tmp_path / "elsewhere.tif"
    with rasterio.open(dem, "w", driver="GTiff", width=10, height=10, count=1, dtype="float32",
                       crs="EPSG:32633", transform=from_origin(300000, 5000000, 30, 30)) as dst:
        dst.write(np.ones((1, 10, 10), np.float32))
    out = tmp_path / "out"
    rc, err = _run(capsys, _args(small_scene, out, **{"--dem": str(dem)}))
    _assert_clean_failure(rc, err, out, "elsewhere.tif", "does not overlap")


def test_catalog_without_needed_bands(small_scene, tmp_path, capsys):
    cat_dir = tmp_path / "cat"
    shutil.copytree(small_scene.catalog.parent, cat_dir)
    for item_path in cat_dir.rglob("*.json"):
        doc = json.loads(item_path.read_text())
        if doc.get("type") == "Feature":
            doc["assets"].pop("swir22", None)
            item_path.write_text(json.dumps(doc))
    out = tmp_path / "out"
    rc, err = _run(capsys, _args(small_scene, out, catalog=str(cat_dir / "catalog.json")))
    _assert_clean_failure(rc, err, out, "swir22")


@pytest.mark.parametrize("change, needle", [
    ({"status": "sleeping"}, "status='sleeping'"),
    ({"licence_id": None}, "missing property licence_id"),
    ({"valid_from": "2021-01-01", "valid_to": "2020-01-01"}, "before valid_from"),
])
def test_malformed_licences(small_scene, tmp_path, capsys, change, needle):
    doc = json.loads(small_scene.licences.read_text())
    doc["features"][0]["properties"].update(change)
    bad = tmp_path / "bad.geojson"
    bad.write_text(json.dumps(doc))
    out = tmp_path / "out"
    rc, err = _run(capsys, _args(small_scene, out, **{"--licences": str(bad)}))
    _assert_clean_failure(rc, err, out, "bad.geojson", "feature 0", needle)
