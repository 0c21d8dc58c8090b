"""`minewatch analyze --registry URL --site ID`: licences and receptors from the registry,
the run and its alerts recorded back, same result as with the files."""

import json

import rasterio
from rasterio.warp import transform_bounds
from shapely.geometry import box, mapping

from minewatch.cli.main import main
from minewatch.registry import open_registry


def test_analyze_from_registry_matches_files_and_records_run(small_scene, tmp_path, capsys):
    reg = tmp_path / "cadastre.gpkg"
    with rasterio.open(small_scene.dem) as src:
        bounds = transform_bounds(src.crs, 4326, *src.bounds)
    site = tmp_path / "site.geojson"
    site.write_text(json.dumps({"type": "FeatureCollection", "features": [{
        "type": "Feature", "properties": {"site_id": "DEMO", "name": "demo valley"},
        "geometry": mapping(box(*bounds))}]}))
    assert main(["registry", "init", str(reg)]) == 0
    assert main(["registry", "import", str(small_scene.licences), "-r", str(reg), "--kind", "licences",
                 "--set", "kind=extraction"]) == 0
    assert main(["registry", "import", str(small_scene.receptors), "-r", str(reg), "--kind", "receptors"]) == 0
    assert main(["registry", "import", str(site), "-r", str(reg), "--kind", "sites"]) == 0

    common = ["--dem", str(small_scene.dem), "--start", "2020-01-01", "--end", "2024-12-31"]
    assert main(["analyze", str(small_scene.catalog), "--licences", str(small_scene.licences),
                 "--receptors", str(small_scene.receptors), *common, "--out", str(tmp_path / "files")]) == 0
    assert main(["analyze", str(small_scene.catalog), "--registry", str(reg), "--site", "DEMO", *common,
                 "--out", str(tmp_path / "registry")]) == 0
    capsys.readouterr()

    by_files = json.loads((tmp_path / "files" / "summary.json").read_text())
    by_registry = json.loads((tmp_path / "registry" / "summary.json").read_text())
    assert by_registry["site"] == "DEMO"
    assert by_registry["disturbance"]["total_area_ha"] == by_files["disturbance"]["total_area_ha"]
    assert by_registry["disturbance"]["outside_licence_area_ha"] == \
        by_files["disturbance"]["outside_licence_area_ha"]
    assert [r["receptor_id"] for r in by_registry["receptors_at_risk"]] == \
        [r["receptor_id"] for r in by_files["receptors_at_risk"]]

    registry = open_registry(reg)
    runs = registry.rows("monitoring_runs")
    assert len(runs) == 1 and runs[0]["outcome"] == "ok" and runs[0]["site_id"] == "DEMO"
    alerts = registry.alerts_in_bbox(bounds)
    assert len(alerts) == len(by_registry["alerts"])


def test_registry_and_site_go_together(small_scene, tmp_path, capsys):
    rc = main(["analyze", str(small_scene.catalog), "--registry", str(tmp_path / "r.gpkg"),
               "--start", "2020-01-01", "--end", "2024-12-31", "--out", str(tmp_path / "o")])
    assert rc == 2
    assert "--registry and --site go together" in capsys.readouterr().err
