"""`minewatch analyze-all`: every site of a registry as one job; a failing site does not stop
the others; a summary table and a STAC collection at the end; a re-run reuses finished sites."""

from __future__ import annotations

import csv
import json

import rasterio
from rasterio.warp import transform_bounds
from shapely.geometry import box, mapping

from minewatch.cli.main import main
from minewatch.registry import open_registry


def _registry(scene, tmp_path):
    reg = tmp_path / "cadastre.gpkg"
    with rasterio.open(scene.dem) as src:
        bounds = transform_bounds(src.crs, 4326, *src.bounds)
    feats = [{"type": "Feature", "properties": {"site_id": sid, "name": sid}, "geometry": mapping(geom)}
             for sid, geom in (("A", box(*bounds)), ("FAR", box(10.0, 10.0, 10.01, 10.01)), ("B", box(*bounds)))]
    sites = tmp_path / "sites.geojson"
    sites.write_text(json.dumps({"type": "FeatureCollection", "features": feats}))
    assert main(["registry", "init", str(reg)]) == 0
    assert main(["registry", "import", str(scene.licences), "-r", str(reg), "--kind", "licences",
                 "--set", "kind=extraction"]) == 0
    assert main(["registry", "import", str(sites), "-r", str(reg), "--kind", "sites"]) == 0
    return reg


def test_a_failing_site_does_not_stop_the_others(tiny_scene, tmp_path, capsys):
    reg = _registry(tiny_scene, tmp_path)
    out = tmp_path / "job"
    args = ["analyze-all", "--registry", str(reg), "--catalog", str(tiny_scene.catalog), "--start", "2020-01-01",
            "--end", "2024-12-31", "--out", str(out), "--tile-size", "32", "--scheduler", "local", "--workers", "2"]
    assert main(args) == 1  # one site failed
    printed = " ".join(capsys.readouterr().out.split())
    assert "2 of 3 site(s) done, 1 failed" in printed

    rows = {r["site_id"]: r for r in csv.DictReader((out / "sites.csv").open())}
    assert [rows[s]["outcome"] for s in ("A", "FAR", "B")] == ["ok", "failed", "ok"]
    assert "FAR" in rows["FAR"]["error"] and "no licence" in rows["FAR"]["error"]
    a, b = (json.loads((out / "sites" / s / "summary.json").read_text()) for s in ("A", "B"))
    assert a["site"] == "A" and b["site"] == "B"
    assert a["disturbance"] == b["disturbance"]  # same imagery and licences: same result
    assert int(rows["A"]["n_alerts"]) == len(a["alerts"]) > 0
    job = json.loads((out / "sites.json").read_text())
    assert (job["n_sites"], job["n_ok"], job["n_failed"]) == (3, 2, 1)

    # the STAC collection: one item per site run, assets resolving to the run's files
    collection = json.loads((out / "collection.json").read_text())
    items = [l["href"] for l in collection["links"] if l["rel"] == "item"]
    assert sorted(items) == ["./items/A.json", "./items/B.json"]
    item = json.loads((out / "items" / "A.json").read_text())
    for key in ("disturbance_date", "alerts", "summary"):
        assert (out / "items" / item["assets"][key]["href"]).resolve().is_file(), key
    with rasterio.open((out / "items" / item["assets"]["disturbance_date"]["href"]).resolve()) as src:
        assert src.crs.to_epsg() == int(item["properties"]["proj:code"].split(":")[1])

    # the registry holds both runs and their alerts
    runs = open_registry(reg).rows("monitoring_runs")
    assert sorted((r["site_id"], r["outcome"]) for r in runs) == [("A", "ok"), ("B", "ok")]

    # a re-run with the same command reuses the finished sites and retries the failed one
    assert main(args[:-4] + ["--scheduler", "serial"]) == 1
    rows = {r["site_id"]: r for r in csv.DictReader((out / "sites.csv").open())}
    assert [rows[s]["outcome"] for s in ("A", "FAR", "B")] == ["reused", "failed", "reused"]
    assert len(open_registry(reg).rows("monitoring_runs")) == 2


def test_aois_against_a_licences_file(tiny_scene, tmp_path, capsys):
    """--aois FILE --licences FILE: one run per area, imagery from a {site} catalog template; an
    area without imagery fails alone."""
    with rasterio.open(tiny_scene.dem) as src:
        bounds = transform_bounds(src.crs, 4326, *src.bounds)
    aois = tmp_path / "aois.geojson"
    aois.write_text(json.dumps({"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": {"aoi_id": aid}, "geometry": mapping(box(*bounds))}
        for aid in ("PIT", "NOIMAGERY")]}))
    (tmp_path / "imagery").mkdir()
    (tmp_path / "imagery" / "PIT").symlink_to(tiny_scene.catalog.parent, target_is_directory=True)
    out = tmp_path / "job"
    rc = main(["analyze-all", "--aois", str(aois), "--licences", str(tiny_scene.licences), "--catalog",
               str(tmp_path / "imagery" / "{site}" / tiny_scene.catalog.name), "--start", "2020-01-01",
               "--end", "2024-12-31", "--out", str(out), "--tile-size", "32"])
    assert rc == 1
    capsys.readouterr()
    rows = {r["site_id"]: r for r in csv.DictReader((out / "sites.csv").open())}
    assert rows["PIT"]["outcome"] == "ok" and int(rows["PIT"]["n_alerts"]) > 0
    assert rows["NOIMAGERY"]["outcome"] == "failed" and "file not found" in rows["NOIMAGERY"]["error"]
    summary = json.loads((out / "sites" / "PIT" / "summary.json").read_text())
    assert summary["site"] == "PIT" and len(summary["alerts"]) == int(rows["PIT"]["n_alerts"])


def test_registry_or_aois(tmp_path, capsys):
    rc = main(["analyze-all", "--start", "2020-01-01", "--end", "2024-12-31", "--out", str(tmp_path / "o")])
    assert rc == 2 and "give either --registry" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()
