"""`minewatch fetch` against a real STAC API + COG server on loopback (no internet)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pystac
import pytest
import rasterio

from minewatch.cli.main import main
from minewatch.errors import NetworkError
from minewatch.imagery.dem import fetch_dem
from minewatch.imagery.fetch import fetch
from minewatch.imagery.http import PlanetaryComputerSigner, RetryPolicy
from minewatch.imagery.search import search_items
from minewatch.imagery.windows import aoi_window
from minewatch.testing.stac_server import LocalStacServer

FAST = RetryPolicy(attempts=4, backoff=0.05, timeout=2)
PERIOD = ("2021-11-01", "2022-06-30")


def _items(catalog_dir: Path) -> dict[str, pystac.Item]:
    cat = pystac.Catalog.from_file(str(catalog_dir / "catalog.json"))
    return {it.id: it for it in cat.get_items(recursive=True)}


def _read(path: str) -> np.ndarray:
    with rasterio.open(path) as src:
        return src.read(1)


def test_search_pages_and_filters(server, archive, cache):
    import datetime as dt

    items, from_cache = search_items(server.url, ["sentinel-2-l2a"], archive.aoi,
                                     dt.date(2021, 1, 1), dt.date(2022, 12, 31), cache=cache)
    assert [it["id"] for it in items] == list(archive.s2_ids) and not from_cache
    assert server.log.count("/search") >= 2  # 3 items at 2 per page
    # The same (past) search is answered from the cache, with no request.
    before = len(server.log.records)
    again, from_cache = search_items(server.url, ["sentinel-2-l2a"], archive.aoi,
                                     dt.date(2021, 1, 1), dt.date(2022, 12, 31), cache=cache)
    assert from_cache and again == items and len(server.log.records) == before
    clear, _ = search_items(server.url, ["sentinel-2-l2a"], archive.aoi, dt.date(2021, 1, 1),
                            dt.date(2022, 12, 31), max_cloud=1.0, cache=cache)
    cloudy = [it["id"] for it in items if it["properties"]["eo:cloud_cover"] >= 1]
    assert cloudy and not set(cloudy) & {it["id"] for it in clear}


def test_fetch_writes_the_source_pixels_of_the_aoi(server, archive, cache, tmp_path):
    out = tmp_path / "cat"
    report = fetch(archive.aoi, *PERIOD, out, stac_url=server.url, cache=cache, policy=FAST)
    items = _items(out)
    assert sorted(items) == sorted(archive.s2_ids)
    assert not report.failed
    for item in items.values():
        assert {"blue", "green", "red", "nir", "nir08", "swir16", "swir22", "scl"} <= set(item.assets)
        assert item.properties["proj:code"] == "EPSG:32644"
        for band in ("red", "swir16", "scl"):
            asset = item.assets[band]
            fetched = _read(asset.get_absolute_href())
            src_file = archive.root / asset.extra_fields["minewatch:source_href"].split("/", 3)[3]
            with rasterio.open(src_file) as src:
                win = aoi_window(src, archive.aoi)
                expected = src.read(1, window=win)
                assert list(src.window_transform(win))[:6] == asset.extra_fields["proj:transform"]
            assert np.array_equal(fetched, expected)
        # Window is small: only the AOI (+2 px margin), not the whole tile.
        assert item.assets["red"].extra_fields["proj:shape"][0] < 200
    # Processing baseline: 03.01 -> offset 0, 04.00 -> offset -0.1 (from raster:bands).
    old, new = items[archive.s2_ids[0]], items[archive.s2_ids[-1]]
    assert old.assets["red"].extra_fields["raster:bands"][0]["offset"] == 0.0
    assert new.assets["red"].extra_fields["raster:bands"][0]["offset"] == pytest.approx(-0.1)
    assert new.assets["red"].extra_fields["raster:bands"][0]["scale"] == pytest.approx(1e-4)
    assert "scale" not in new.assets["scl"].extra_fields["raster:bands"][0] or \
        new.assets["scl"].extra_fields["raster:bands"][0]["scale"] == 1.0


def test_fetch_reads_pixels_with_range_requests_only(server, archive, cache, tmp_path):
    fetch(archive.aoi, *PERIOD, tmp_path / "c", stac_url=server.url, cache=cache, policy=FAST)
    gets = [r for r in server.log.records if r.path.startswith("/files/") and r.method == "GET"]
    assert gets and all(r.status == 206 and r.range for r in gets)  # never a whole file


def test_fetched_catalog_loads_like_the_static_catalog(server, archive, cache, tmp_path):
    """The analysis loader sees the same reflectance from the fetched catalog as from a
    static catalog of the full source files (the equivalent static catalog)."""
    from rasterio.windows import Window

    from minewatch.imagery.catalog import open_catalog
    from minewatch.imagery.load import analysis_grid, load_tile

    out = tmp_path / "fetched"
    fetch(archive.aoi, *PERIOD, out, stac_url=server.url, cache=cache, policy=FAST)
    static = tmp_path / "static"
    static.mkdir()
    links = []
    for p in sorted((archive.root / "items" / "sentinel-2-l2a").glob("*.json")):
        doc = json.loads(p.read_text())
        for a in doc["assets"].values():
            a["href"] = str(archive.root / a["href"])
        (static / p.name).write_text(json.dumps(doc))
        links.append({"rel": "item", "href": f"./{p.name}"})
    (static / "catalog.json").write_text(json.dumps({
        "type": "Catalog", "id": "static", "stac_version": "1.0.0", "description": "full files",
        "links": links}))
    fetched_items, static_items = open_catalog(out), open_catalog(static)
    grid = analysis_grid(fetched_items)
    bands = ["blue", "red", "nir", "swir16", "swir22", "scl"]
    win = Window(0, 0, grid.width, grid.height)
    a = load_tile(fetched_items, bands, grid, win)
    b = load_tile(static_items, bands, grid, win)
    for band in bands:
        np.testing.assert_array_equal(a[band], b[band], err_msg=band)
    # Reflectance is right for both baselines: DN 1000 offset removed on 04.00 dates.
    assert np.nanmedian(a["red"][0]) == pytest.approx(np.nanmedian(a["red"][-1]) - 0.02, abs=0.01)


def test_cli_fetch_then_warm_rerun_reads_nothing(server, archive, cache, tmp_path, capsys):
    out = tmp_path / "cat"
    bbox = ",".join(str(v) for v in archive.aoi)
    args = ["fetch", "--bbox", bbox, "--start", PERIOD[0], "--end", PERIOD[1],
            "--collection", "sentinel-2-l2a", "--collection", "landsat-c2-l2",
            "--stac-url", server.url, "--out", str(out), "--dem"]
    assert main(args) == 0, capsys.readouterr().err
    first = server.log.file_bytes()
    assert first > 0
    report = json.loads((out / "fetch_report.json").read_text())
    assert report["n_items"] == 4 and report["windows_read"] > 0 and report["dem"]
    server.log.clear()
    assert main(args) == 0
    assert server.log.records == []  # nothing at all was asked of the server
    report = json.loads((out / "fetch_report.json").read_text())
    assert report["windows_read"] == 0 and report["search_from_cache"]
    assert "from cache" in capsys.readouterr().out
    # cache info / clear
    assert main(["cache", "info"]) == 0
    info = capsys.readouterr().out
    assert str(cache.root) in info and "windows:" in info
    assert main(["cache", "clear", "--yes"]) == 0
    assert cache.info()["windows"]["count"] == 0


def test_landsat_harmonised_with_sentinel2(server, archive, cache, tmp_path):
    out = tmp_path / "mix"
    fetch(archive.aoi, *PERIOD, out, collections=["sentinel-2-l2a", "landsat-c2-l2"],
          stac_url=server.url, cache=cache, policy=FAST)
    items = _items(out)
    ls = items[archive.landsat_ids[0]]
    assert {"blue", "green", "red", "nir08", "nir", "swir16", "swir22", "qa_pixel"} <= set(ls.assets)
    rb = ls.assets["red"].extra_fields["raster:bands"][0]
    assert rb["scale"] == pytest.approx(2.75e-5) and rb["offset"] == pytest.approx(-0.2)
    assert ls.assets["nir"].href == ls.assets["nir08"].href
    assert ls.assets["qa_pixel"].extra_fields["raster:bands"][0]["nodata"] == 1
    # Both sensors give similar reflectance over the same ground (same synthetic scene).
    from minewatch.imagery.catalog import open_catalog
    from minewatch.imagery.load import analysis_grid, load_tile
    from rasterio.windows import Window

    scenes = open_catalog(out)
    grid = analysis_grid(scenes)
    t = load_tile(scenes, ["red"], grid, Window(0, 0, grid.width, grid.height))["red"]
    ids = [s.id for s in scenes]
    s2_red = np.nanmedian(t[ids.index(archive.s2_ids[0])])
    ls_red = np.nanmedian(t[ids.index(archive.landsat_ids[0])])
    assert ls_red == pytest.approx(s2_red, abs=0.02)


def test_retries_on_429_500_and_slow_answers(server, archive, cache, tmp_path):
    server.add_fault(r"^/search$", status=429, times=2, retry_after=1)
    server.add_fault(r"/search", status=503, times=1)
    server.add_fault(r"B04\.tif$", status=500, times=2)
    server.add_fault(r"B03\.tif$", delay=4.0, times=1)  # longer than the 2 s timeout
    report = fetch(archive.aoi, *PERIOD, tmp_path / "c", stac_url=server.url, cache=cache,
                   policy=FAST)
    assert not report.failed and len(report.items) == len(archive.s2_ids)
    assert server.log.count("/search", status=429) == 2
    assert server.log.count("/search", status=503) == 1
    assert server.log.count("B04.tif", status=500) == 2
    assert all(f.times == 0 for f in server.faults)


def test_failing_item_is_reported_and_resumed(server, archive, cache, tmp_path, capsys):
    bad = archive.s2_ids[1]
    server.add_fault(rf"{bad}/B11\.tif$", status=500, times=10_000)
    out = tmp_path / "c"
    report = fetch(archive.aoi, *PERIOD, out, stac_url=server.url, cache=cache,
                   policy=RetryPolicy(attempts=2, backoff=0.01, timeout=2))
    assert [f["item"] for f in report.failed] == [bad]
    assert "still failing" in report.failed[0]["error"] or "500" in report.failed[0]["error"]
    assert bad not in _items(out)
    server.faults.clear()
    server.log.clear()
    report = fetch(archive.aoi, *PERIOD, out, stac_url=server.url, cache=cache, policy=FAST)
    assert not report.failed and bad in _items(out)
    # Only the missing window was read: every file request was for the failed band.
    file_paths = {r.path for r in server.log.records if r.path.startswith("/files/")}
    assert file_paths == {f"/files/sentinel-2-l2a/{bad}/B11.tif"}
    assert report.windows_read == 1


def test_interrupted_fetch_resumes(server, archive, cache, tmp_path):
    out = tmp_path / "c"

    def stop_after_first(label: str, done: int, total: int) -> None:
        if done == 1:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        fetch(archive.aoi, *PERIOD, out, stac_url=server.url, cache=cache, policy=FAST,
              progress=stop_after_first)
    assert not out.exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".mwfetch")]
    server.log.clear()
    report = fetch(archive.aoi, *PERIOD, out, stac_url=server.url, cache=cache, policy=FAST)
    assert report.windows_cached == 8  # the first item's 8 bands came from the cache
    first = archive.s2_ids[0]
    assert not any(first in r.path for r in server.log.records)


def test_offline_is_a_clear_one_line_error(tmp_path, cache, capsys):
    import socket

    with socket.socket() as s:  # a loopback port with nobody listening
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(NetworkError, match="cannot reach 127.0.0.1"):
        fetch((82.0, 24.3, 82.1, 24.4), *PERIOD, tmp_path / "x",
              stac_url=f"http://127.0.0.1:{port}", cache=cache,
              policy=RetryPolicy(attempts=2, backoff=0.01, timeout=2))
    rc = main(["fetch", "--bbox", "82.0,24.3,82.1,24.4", "--start", PERIOD[0], "--end",
               PERIOD[1], "--stac-url", f"http://127.0.0.1:{port}", "--out",
               str(tmp_path / "y"), "--retries", "1"])
    err = capsys.readouterr().err.strip()
    assert rc == 2 and err.startswith("error: cannot reach") and "offline" in err
    assert not (tmp_path / "y").exists()


def test_planetary_computer_signing(archive, cache, tmp_path):
    token = "sv=2024-01-01&se=2030&sig=c2VjcmV0"
    with LocalStacServer(archive.root, require_token=token) as srv:
        signer = PlanetaryComputerSigner(token_url=srv.url + "/api/sas/v1/token/{collection}")
        report = fetch(archive.aoi, *PERIOD, tmp_path / "signed", stac_url=srv.url,
                       cache=cache, policy=FAST, signer=signer)
        assert not report.failed
        assert signer.requests_made == 1  # one token for the collection, reused
        assert srv.log.count("/api/sas/v1/token/sentinel-2-l2a") == 1
        # The cache is keyed on unsigned hrefs: the catalog records no token.
        text = "".join(p.read_text() for p in (tmp_path / "signed").rglob("*.json"))
        assert "sig=" not in text
        # Without signing every read is refused (403) and reported, not retried forever.
        cache.clear()
        with pytest.raises(NetworkError, match="failed"):
            fetch(archive.aoi, *PERIOD, tmp_path / "unsigned", stac_url=srv.url,
                  cache=cache, policy=FAST, refresh=True)
        assert srv.log.count("/files/", status=403) > 0


def test_any_stac_api_with_band_id_keys(archive_bnames, cache, tmp_path):
    with LocalStacServer(archive_bnames.root) as srv:
        fetch(archive_bnames.aoi, *PERIOD, tmp_path / "b", stac_url=srv.url, cache=cache,
              policy=FAST)
    items = _items(tmp_path / "b")
    assert len(items) == 2
    for it in items.values():
        assert {"blue", "red", "nir", "nir08", "swir16", "swir22", "scl"} <= set(it.assets)
        assert it.assets["blue"].extra_fields["minewatch:source_key"] == "B02"


def test_dem_is_mosaicked_and_clipped(server, archive, cache, tmp_path):
    path = fetch_dem(archive.aoi, tmp_path / "dem.tif", stac_url=server.url, cache=cache,
                     policy=FAST)
    with rasterio.open(path) as src:
        dem = src.read(1)
        b = src.bounds
        assert src.crs.to_epsg() == 4326
    w, s, e, n = archive.aoi
    # The AOI straddles the seam between the two tiles: both were read.
    assert server.log.count("/files/cop-dem-glo-30/") >= 2
    assert abs(b.left - w) < 2 / 3600 and abs(b.top - n) < 2 / 3600
    assert abs(b.right - e) < 2 / 3600 and abs(b.bottom - s) < 2 / 3600
    assert (dem != -32767).all()
    # The synthetic terrain rises 0.5 m per column across the seam: no step there.
    steps = np.diff(dem, axis=1)
    assert np.allclose(steps, 0.5, atol=1e-3)


def test_fetch_by_registry_site(server, archive, cache, tmp_path, capsys):
    import shapely

    from minewatch.registry.store import open_registry

    reg_path = tmp_path / "registry.gpkg"
    reg = open_registry(reg_path, create=True)
    reg.import_records("sites", [{"site_id": "MINE-0", "name": "test mine",
                                  "geometry": shapely.box(*archive.aoi)}])
    out = tmp_path / "site"
    rc = main(["fetch", "--site", "MINE-0", "--registry", str(reg_path), "--start", PERIOD[0],
               "--end", PERIOD[1], "--stac-url", server.url, "--out", str(out)])
    assert rc == 0, capsys.readouterr().err
    report = json.loads((out / "fetch_report.json").read_text())
    assert report["bbox"] == pytest.approx(list(archive.aoi))
    assert report["n_items"] == len(archive.s2_ids)
    # Both or neither of --bbox / --site: a clear error.
    rc = main(["fetch", "--start", PERIOD[0], "--end", PERIOD[1], "--out", str(tmp_path / "z")])
    assert rc == 2 and "exactly one of --bbox" in capsys.readouterr().err
