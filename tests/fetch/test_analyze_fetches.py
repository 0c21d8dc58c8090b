"""`minewatch analyze --bbox ... --stac-url URL` fetches its imagery over HTTP (local STAC API)
and gives the same result as `analyze` on the static catalog the server was made from."""

from __future__ import annotations

import json

import numpy as np
import pystac
import pytest
import rasterio

from minewatch.cli.main import main
from minewatch.testing.stac_archive import archive_from_catalog
from minewatch.testing.stac_server import LocalStacServer


@pytest.mark.slow
def test_analyze_with_bbox_fetches_and_matches_static(tmp_path, cache, capsys):
    from minewatch.demo.scene import generate_scene

    scene = generate_scene(tmp_path / "scene", seed=5, start="2019-01-01", end="2021-06-30",
                           cadence_days=20, size_px=64)
    archive_from_catalog(scene.catalog, tmp_path / "archive")
    boxes = [it.bbox for it in pystac.Catalog.from_file(str(scene.catalog)).get_items(recursive=True)]
    bbox = ",".join(str(v) for v in (min(b[0] for b in boxes), min(b[1] for b in boxes),
                                     max(b[2] for b in boxes), max(b[3] for b in boxes)))
    common = ["--licences", str(scene.licences), "--dem", str(scene.dem), "--start", "2020-01-01",
              "--end", "2021-06-30"]
    assert main(["analyze", str(scene.catalog), *common, "--out", str(tmp_path / "static")]) == 0
    with LocalStacServer(tmp_path / "archive") as srv:
        assert main(["analyze", "--bbox", bbox, "--history-start", "2019-01-01", "--stac-url", srv.url,
                     *common, "--out", str(tmp_path / "fetched")]) == 0
    capsys.readouterr()
    assert (tmp_path / "fetched" / "imagery" / "catalog.json").exists()
    with rasterio.open(tmp_path / "static" / "disturbance_date.tif") as a, \
            rasterio.open(tmp_path / "fetched" / "disturbance_date.tif") as b:
        np.testing.assert_array_equal(a.read(1), b.read(1))
    s1 = json.loads((tmp_path / "static" / "summary.json").read_text())
    s2 = json.loads((tmp_path / "fetched" / "summary.json").read_text())
    assert s1["disturbance"] == s2["disturbance"]
    assert s1["scenes_used"] == s2["scenes_used"]


def test_analyze_without_imagery_is_a_clear_error(tmp_path, capsys):
    rc = main(["analyze", "--licences", str(tmp_path / "l.geojson"), "--start", "2020-01-01",
               "--end", "2020-12-31", "--out", str(tmp_path / "o")])
    assert rc == 2
    assert "no imagery given" in capsys.readouterr().err
