"""A small demo run recorded in a registry (GeoPackage), as the dashboard's tests serve it."""

from __future__ import annotations

import json
from pathlib import Path

import rasterio
from rasterio.warp import transform_bounds
from shapely.geometry import box, mapping

from minewatch.cli.main import main

SITE = "DEMO"


def build_demo_registry(root: Path) -> dict:
    """Generate a reduced demo scene (120 x 120 px, 30-day cadence), put its site, licences and
    receptors in ``root/registry.gpkg`` and run ``minewatch analyze --registry --site`` on it, through
    the CLI. Returns the paths."""
    from minewatch.demo.scene import generate_scene

    scene = generate_scene(root / "scene", seed=3, size_px=120, cadence_days=30, start="2018-01-01")
    reg = root / "registry.gpkg"
    with rasterio.open(scene.dem) as src:
        bounds = transform_bounds(src.crs, 4326, *src.bounds)
    site = root / "site.geojson"
    site.write_text(json.dumps({"type": "FeatureCollection", "features": [{
        "type": "Feature", "properties": {"site_id": SITE, "name": "demo valley"},
        "geometry": mapping(box(*bounds))}]}))
    for args in (["registry", "init", str(reg)],
                 ["registry", "import", str(scene.licences), "-r", str(reg), "--kind", "licences",
                  "--set", "kind=extraction"],
                 ["registry", "import", str(scene.receptors), "-r", str(reg), "--kind", "receptors"],
                 ["registry", "import", str(site), "-r", str(reg), "--kind", "sites"],
                 ["analyze", str(scene.catalog), "--registry", str(reg), "--site", SITE, "--dem", str(scene.dem),
                  "--start", "2020-01-01", "--end", "2024-12-31", "--out", str(root / "run")]):
        assert main(args) == 0, args
    return {"registry": reg, "run": root / "run", "bounds": bounds,
            "summary": json.loads((root / "run" / "summary.json").read_text())}
