"""Smaller parts: registry-style runs, git without git, raster comparison rules, key files."""

from __future__ import annotations

import datetime as dt
import json
import os
from pathlib import Path

import numpy as np
import rasterio
from affine import Affine

from minewatch.run import verify_run
from minewatch.evidence.compare import compare_raster, diff_json
from minewatch.evidence.hashing import git_commit


def test_registry_run_with_licences_in_memory_verifies(signed_run, tmp_path):
    from scene_builder import END, START

    from rasterio.warp import transform_bounds
    from shapely.geometry import box, mapping

    from minewatch.cli.main import main
    from minewatch.run import MonitoringRequest, Period, RunInputs, run_monitoring

    sc = signed_run.scene
    reg = tmp_path / "cadastre.gpkg"
    with rasterio.open(sc.dem) as src:
        bounds = transform_bounds(src.crs, 4326, *src.bounds)
    site = tmp_path / "site.geojson"
    site.write_text(json.dumps({"type": "FeatureCollection", "features": [{
        "type": "Feature", "properties": {"site_id": "S", "name": "site"}, "geometry": mapping(box(*bounds))}]}))
    assert main(["registry", "init", str(reg)]) == 0
    assert main(["registry", "import", str(sc.licences), "-r", str(reg), "--kind", "licences",
                 "--set", "kind=extraction"]) == 0
    assert main(["registry", "import", str(sc.receptors), "-r", str(reg), "--kind", "receptors"]) == 0
    assert main(["registry", "import", str(site), "-r", str(reg), "--kind", "sites"]) == 0
    run_monitoring(MonitoringRequest(RunInputs(catalog=sc.catalog, registry=str(reg)),
                                     Period(dt.date.fromisoformat(START), dt.date.fromisoformat(END)),
                                     tmp_path / "reg", site="S"))
    m = json.loads((tmp_path / "reg" / "evidence" / "manifest.json").read_text())
    lic = next(e for e in m["inputs"] if e["role"] == "licences")
    assert lic["format"] == "licence_periods" and lic["path"] == "evidence/inputs/licence_periods.json"
    assert (tmp_path / "reg" / lic["path"]).is_file()
    report = verify_run(tmp_path / "reg")
    assert report.ok and report.rerun_done, [f"{f.subject}: {f.message}" for f in report.failures]


def test_git_commit_is_unknown_without_git(monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path))  # no git executable anywhere
    assert git_commit()["commit"] == "unknown"
    monkeypatch.setenv("PATH", os.defpath)
    info = git_commit(tmp_path)  # not a checkout
    assert info["commit"] == "unknown"


def _raster(path: Path, array: np.ndarray) -> Path:
    with rasterio.open(path, "w", driver="GTiff", width=array.shape[1], height=array.shape[0], count=1,
                       dtype=array.dtype.name, crs="EPSG:32644", transform=Affine(10, 0, 0, 0, -10, 0)) as dst:
        dst.write(array, 1)
    return path


def test_compare_raster_exact_and_tolerance(tmp_path):
    a = np.zeros((4, 5), np.float32)
    b = a.copy()
    b[1, 2] = 5e-5
    b[3, 4] = np.nan
    a[3, 4] = np.nan
    pa, pb = _raster(tmp_path / "a.tif", a), _raster(tmp_path / "b.tif", b)
    assert compare_raster(pa, pb, "confidence.tif", 1e-4) == []
    (msg,) = compare_raster(pa, pb, "confidence.tif", None)
    assert "1 of 20 pixels differ" in msg and "row 1, col 2" in msg
    b[0, 0] = 0.5
    (msg,) = compare_raster(pa, _raster(tmp_path / "c.tif", b), "confidence.tif", 1e-4)
    assert "1 of 20 pixels differ (must match within 0.0001)" in msg and "largest difference 0.5" in msg
    damaged = tmp_path / "d.tif"
    damaged.write_bytes(b"II*\x00garbage")
    (msg,) = compare_raster(damaged, pb, "confidence.tif", None)
    assert "cannot be read" in msg


def test_diff_json_integers_exact_floats_within_tolerance():
    out: list[str] = []
    diff_json({"n_pixels": 10, "area_ha": 0.1, "confidence": 0.9, "licence_id": "L-1"},
              {"n_pixels": 10, "area_ha": 0.1 + 1e-9, "confidence": 0.90005, "licence_id": "L-1"}, "x",
              {"confidence": 1e-4, "area_ha": 1e-6}, out)
    assert out == []
    diff_json({"n_pixels": 10, "licence_id": "L-1", "l": [1, 2]}, {"n_pixels": 11, "licence_id": None, "l": [1]},
              "x", {}, out)
    assert "x.n_pixels: recorded 10, re-run 11" in out
    assert 'x.licence_id: recorded "L-1", re-run null' in out
    assert "x.l: 2 entries recorded, 1 in the re-run" in out


def test_key_files(tmp_path):
    import stat

    from minewatch.errors import InputError
    from minewatch.evidence.signing import generate_key, key_id, load_private_key, load_public_key, sign_bytes

    path, pub, public = generate_key(tmp_path / "k")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert key_id(load_public_key(pub)) == key_id(public) == key_id(load_public_key(path))
    rec = sign_bytes(b"data", load_private_key(path), "manifest.json")
    assert key_id(load_public_key(rec["public_key"])) == rec["key_id"]
    try:
        generate_key(tmp_path / "k")
    except InputError as exc:
        assert "already exists" in str(exc)
    else:
        raise AssertionError("overwrote an existing key")
