"""verify on a machine with neither the fetched band files nor the cache: they are re-fetched
from the provider (a real STAC API on loopback) and must hash as recorded."""

from __future__ import annotations

import datetime as dt
import json
import shutil

import pystac
import pytest

from minewatch.run import verify_run
from minewatch.imagery.cache import Cache
from minewatch.imagery.fetch import fetch
from minewatch.imagery.http import RetryPolicy
from minewatch.testing.stac_archive import archive_from_catalog
from minewatch.testing.stac_server import LocalStacServer


@pytest.mark.slow
def test_missing_fetched_inputs_are_refetched_and_verify(tmp_path, monkeypatch):
    from minewatch.demo.scene import generate_scene
    from minewatch.run import MonitoringRequest, Period, RunInputs, run_monitoring

    monkeypatch.setenv("MINEWATCH_CACHE_DIR", str(tmp_path / "cache"))
    scene = generate_scene(tmp_path / "scene", seed=3, start="2018-01-01", end="2020-12-31",
                           cadence_days=30, size_px=60)
    archive_from_catalog(scene.catalog, tmp_path / "archive")
    cat = pystac.Catalog.from_file(str(scene.catalog))
    boxes = [it.bbox for it in cat.get_items(recursive=True)]
    bbox = (min(b[0] for b in boxes), min(b[1] for b in boxes), max(b[2] for b in boxes), max(b[3] for b in boxes))
    with LocalStacServer(tmp_path / "archive") as srv:
        report = fetch(bbox, "2018-01-01", "2020-12-31", tmp_path / "case" / "fetched", stac_url=srv.url,
                       cache=Cache(tmp_path / "cache"), policy=RetryPolicy(attempts=3, backoff=0.05, timeout=10))
        assert not report.failed
        shutil.copy(scene.licences, tmp_path / "case" / "licences.geojson")
        run_monitoring(MonitoringRequest(
            RunInputs(catalog=tmp_path / "case" / "fetched" / "catalog.json",
                      licences=tmp_path / "case" / "licences.geojson"),
            Period(dt.date(2020, 1, 1), dt.date(2020, 12, 31)), tmp_path / "case" / "run"))
        # "another machine": the run folder, the catalog JSON and the licences travel; no band file, no cache
        other = tmp_path / "other"
        shutil.copytree(tmp_path / "case", other, ignore=shutil.ignore_patterns("*.tif"))
        shutil.copytree(tmp_path / "case" / "run", other / "run", dirs_exist_ok=True)  # outputs incl. .tif
        shutil.rmtree(tmp_path / "case" / "fetched")
        shutil.rmtree(tmp_path / "cache")
        manifest = json.loads((other / "run" / "evidence" / "manifest.json").read_text())
        n_assets = sum(1 for e in manifest["inputs"] if e["role"] == "asset")
        assert n_assets > 20
        result = verify_run(other / "run", inputs_root=other)
        assert result.ok, [f"{f.subject}: {f.message}" for f in result.failures][:5]
        assert result.rerun_done
        refetched = [f for f in result.findings if "re-fetched from" in f.message]
        assert len(refetched) == n_assets
    # provider gone (a fresh process: GDAL keeps what it read over HTTP in memory): the check fails,
    # naming the file and why
    import subprocess
    import sys

    entry = "import sys; from minewatch.cli.main import main; sys.exit(main(sys.argv[1:]))"
    res = subprocess.run([sys.executable, "-c", entry, "verify", str(other / "run"),
                          "--inputs-root", str(other), "--no-rerun"], capture_output=True, text=True)
    assert res.returncode == 2
    assert res.stdout.count("re-fetching failed") == n_assets, res.stdout[-2000:]
    assert "cannot re-fetch http://127.0.0.1" in res.stdout
