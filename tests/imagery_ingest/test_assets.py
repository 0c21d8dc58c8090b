"""Unusable rasters found before any pixel is read, and pixel reads that fail, on real small COGs.

Each test writes a small STAC catalog of real COGs (six reflectance bands and an SCL per date)
in tmp_path, breaks one file the way files break in practice (bytes cut off the end, garbage in
a pixel block, no CRS, the wrong CRS, another size) and checks what is left out and why.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
from pathlib import Path

import numpy as np
import pytest
import rasterio
from rasterio.transform import from_origin
from rasterio.windows import Window

from minewatch.cli.main import main
from minewatch.errors import CatalogError
from minewatch.imagery.assets import inspect_assets
from minewatch.imagery.catalog import SkippedAsset, open_catalog
from minewatch.imagery.cog import write_cog
from minewatch.imagery.load import analysis_grid, load_tile
from minewatch.imagery.masks import CLEAR, NODATA, screen_tile

EPSG = 32633
SIZE = 64
ORIGIN = (500_000.0, 5_000_000.0)
BANDS = ("blue", "green", "red", "nir", "swir16", "swir22")
DATES = ("2021-01-10", "2021-02-10", "2021-03-10", "2021-04-10")


def _transform(res: float = 10.0):
    return from_origin(ORIGIN[0], ORIGIN[1], res, res)


def _write_band(path: Path, value: int, *, res: float = 10.0, size: int = SIZE, crs=f"EPSG:{EPSG}",
                origin=ORIGIN) -> None:
    rng = np.random.default_rng(abs(hash(path.name)) % 2**32)
    data = (value + rng.integers(0, 200, (size, size))).astype("uint16")
    write_cog(path, data, crs=crs, transform=from_origin(origin[0], origin[1], res, res), nodata=0,
              blocksize=32)


def _asset(href: str, shape=(SIZE, SIZE), res: float = 10.0) -> dict:
    t = _transform(res)
    return {"href": href, "type": "image/tiff; application=geotiff; profile=cloud-optimized",
            "proj:shape": list(shape), "proj:transform": [t.a, t.b, t.c, t.d, t.e, t.f],
            "raster:bands": [{"nodata": 0, "scale": 0.0001, "offset": 0.0, "data_type": "uint16"}]}


def make_catalog(root: Path) -> Path:
    """A catalog of len(DATES) items, each with the six reflectance bands (10 m) and an SCL (20 m)."""
    features = []
    for date in DATES:
        folder = root / date
        assets = {}
        for k, band in enumerate(BANDS):
            _write_band(folder / f"{band}.tif", 500 + 300 * k)
            assets[band] = _asset(f"{date}/{band}.tif")
        scl = np.full((SIZE // 2, SIZE // 2), 4, np.uint8)
        write_cog(folder / "scl.tif", scl, crs=f"EPSG:{EPSG}", transform=_transform(20.0), nodata=0, blocksize=32)
        assets["scl"] = {**_asset(f"{date}/scl.tif", (SIZE // 2, SIZE // 2), 20.0),
                         "raster:bands": [{"nodata": 0, "data_type": "uint8"}]}
        features.append({
            "type": "Feature", "stac_version": "1.0.0", "id": date,
            "properties": {"datetime": f"{date}T10:00:00Z", "proj:epsg": EPSG, "platform": "sentinel-2a"},
            "geometry": None, "assets": assets, "links": []})
    path = root / "items.json"
    path.write_text(json.dumps({"type": "FeatureCollection", "features": features}))
    return path


def truncate(path: Path, keep: float = 0.6) -> None:
    """Cut the end off a real COG, as an interrupted download or copy leaves it."""
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * keep)])


def damage_block(path: Path) -> None:
    """Overwrite the middle of the file's last full-resolution pixel block with garbage (size kept)."""
    with rasterio.open(path) as src:
        offset = int(src.get_tag_item("BLOCK_OFFSET_1_1", "TIFF", bidx=1))
        length = int(src.get_tag_item("BLOCK_SIZE_1_1", "TIFF", bidx=1))
    with open(path, "r+b") as fh:
        fh.seek(offset + 2)
        fh.write(b"\xff\x00" * ((length - 4) // 2))


@pytest.fixture
def catalog(tmp_path) -> Path:
    return make_catalog(tmp_path / "cat")


def _inspect(catalog_path: Path):
    items = open_catalog(catalog_path)
    grid = analysis_grid(items)
    return items, grid, *inspect_assets(items, grid)


def test_sound_catalog_passes_unchanged(catalog):
    items, _, usable, skipped = _inspect(catalog)
    assert skipped == []
    assert usable == items


def test_truncated_cog_is_left_out_with_the_reason(catalog):
    bad = catalog.parent / DATES[1] / "swir22.tif"
    truncate(bad)
    with rasterio.open(bad) as src:  # the header still opens: only the pixels are gone
        assert src.shape == (SIZE, SIZE)
    items, _, usable, skipped = _inspect(catalog)
    assert [(s.item_id, s.band, s.stage) for s in skipped] == [(DATES[1], "swir22", "inspection")]
    assert skipped[0].href == str(bad) and skipped[0].date == dt.date.fromisoformat(DATES[1])
    assert "truncated" in skipped[0].reason and str(os.path.getsize(bad)) in skipped[0].reason
    assert [it.id for it in usable] == list(DATES)
    assert "swir22" not in usable[1].assets and set(usable[1].assets) == set(items[1].assets) - {"swir22"}
    assert skipped[0].as_dict() == {"item": DATES[1], "date": DATES[1], "band": "swir22", "href": str(bad),
                                    "reason": skipped[0].reason, "stage": "inspection"}


@pytest.mark.parametrize("breakage, needle", [
    ("garbage", "unreadable"),
    ("missing", "unreadable"),
    ("no_crs", "no CRS"),
    ("other_crs", "the file is in EPSG:32634 but the catalog declares EPSG:32633"),
    ("other_size", "the file is 32 x 32 px but the catalog declares 64 x 64 (proj:shape)"),
    ("shifted", "differs from the catalog's proj:transform"),
])
def test_each_header_problem_is_named(catalog, breakage, needle):
    bad = catalog.parent / DATES[2] / "red.tif"
    if breakage == "garbage":
        bad.write_bytes(b"II*\x00" + os.urandom(2000))
    elif breakage == "missing":
        bad.unlink()
    elif breakage == "no_crs":
        with rasterio.open(bad) as src:
            data, profile = src.read(), src.profile
        profile.pop("crs")
        with rasterio.open(bad, "w", **{**profile, "driver": "GTiff"}) as dst:
            dst.write(data)
    elif breakage == "other_crs":
        _write_band(bad, 1100, crs="EPSG:32634")
    elif breakage == "other_size":
        _write_band(bad, 1100, size=SIZE // 2)
    elif breakage == "shifted":
        _write_band(bad, 1100, origin=(ORIGIN[0] + 200.0, ORIGIN[1]))
    _, _, usable, skipped = _inspect(catalog)
    assert [(s.item_id, s.band) for s in skipped] == [(DATES[2], "red")], skipped
    assert needle in skipped[0].reason, skipped[0].reason
    assert "red" not in usable[2].assets and len(usable) == len(DATES)


def test_undeclared_wrong_crs_or_size_is_found_from_the_footprint(catalog):
    """Without proj:* declarations: a band in another CRS lands outside the grid, a band of
    another size covers another area than the item's red band."""
    doc = json.loads(catalog.read_text())
    for feat in doc["features"]:
        feat["properties"].pop("proj:epsg")
        for asset in feat["assets"].values():
            asset.pop("proj:shape"), asset.pop("proj:transform")
    catalog.write_text(json.dumps(doc))
    # the same coordinates read in UTM 34 lie about 500 km east: no overlap with the grid
    _write_band(catalog.parent / DATES[0] / "nir.tif", 2000, crs="EPSG:32634")
    _write_band(catalog.parent / DATES[3] / "swir16.tif", 2000, size=SIZE // 2)
    _, _, usable, skipped = _inspect(catalog)
    reasons = {(s.item_id, s.band): s.reason for s in skipped}
    assert set(reasons) == {(DATES[0], "nir"), (DATES[3], "swir16")}
    assert "does not overlap the analysis grid" in reasons[(DATES[0], "nir")]
    assert "while the item's red band covers" in reasons[(DATES[3], "swir16")]
    assert len(usable) == len(DATES)


def test_item_whose_every_reflectance_band_is_unusable_is_dropped(catalog):
    for band in BANDS:
        truncate(catalog.parent / DATES[3] / f"{band}.tif", keep=0.3)
    _, _, usable, skipped = _inspect(catalog)
    assert [it.id for it in usable] == list(DATES[:3])
    assert {(s.item_id, s.band) for s in skipped} == {(DATES[3], b) for b in BANDS}


def test_analysis_grid_passes_over_an_unreadable_reference_file(catalog):
    (catalog.parent / DATES[0] / "red.tif").write_bytes(b"not a tiff")
    grid = analysis_grid(open_catalog(catalog))
    assert (grid.width, grid.height, grid.res) == (SIZE, SIZE, 10.0)


def test_pixel_read_failure_is_recorded_and_that_band_becomes_no_data(catalog):
    bad = catalog.parent / DATES[1] / "nir.tif"
    damage_block(bad)
    _, grid, usable, skipped = _inspect(catalog)
    assert skipped == [], "the header and block table are sound: only reading finds the damage"
    window = Window(0, 0, SIZE, SIZE)
    with pytest.raises(CatalogError, match=r"nir\.tif: nir of 2021-02-10 \(2021-02-10\): cannot read its pixels"):
        load_tile(usable, BANDS + ("scl",), grid, window)
    record: list[SkippedAsset] = []
    data = load_tile(usable, BANDS + ("scl",), grid, window, skipped=record)
    assert [(s.item_id, s.band, s.href, s.stage) for s in record] == [(DATES[1], "nir", str(bad), "reading")]
    assert "cannot read its pixels" in record[0].reason
    nir = data["nir"][1]
    assert np.isnan(nir).any() and not np.isnan(data["red"][1]).any()
    assert not np.isnan(data["nir"][[0, 2, 3]]).any()
    # a second tile failing on the same file adds no second record
    load_tile(usable, ("nir",), grid, Window(32, 32, 32, 32), skipped=record)
    assert len(record) == 1
    # the damaged pixels are no data for that date, never clear
    status = screen_tile(usable, data)
    assert (status[1][np.isnan(nir)] == NODATA).all()


def test_observation_missing_any_loaded_band_is_never_clear(catalog):
    items = open_catalog(catalog)
    grid = analysis_grid(items)
    window = Window(0, 0, SIZE, SIZE)
    data = load_tile(items, BANDS + ("scl",), grid, window)
    data["swir22"][0] = np.nan  # one band missing on date 0 (not one the cloud test looks at)
    data["red"][1, :10] = np.nan  # part of a band missing on date 1
    for band in BANDS:
        data[band][2] = np.nan  # every band missing on date 2
    data["scl"][1] = 9  # the scene classification says "cloud", which must not win over "no data"
    status = screen_tile(items, data)
    assert (status[0] == NODATA).all()
    assert (status[1, :10] == NODATA).all()
    assert (status[2] == NODATA).all()
    assert (status[3] == CLEAR).mean() > 0.9


def test_integer_band_without_declared_nodata_reads_dn0_as_no_data(catalog, tmp_path):
    doc = json.loads(catalog.read_text())
    for feat in doc["features"]:
        for asset in feat["assets"].values():
            asset["raster:bands"][0].pop("nodata")
    catalog.write_text(json.dumps(doc))
    path = catalog.parent / DATES[0] / "blue.tif"
    with rasterio.open(path) as src:
        data, profile = src.read(1), src.profile
    data[:8] = 0
    profile.pop("nodata")
    with rasterio.open(path, "w", **{**profile, "driver": "GTiff"}) as dst:
        dst.write(data, 1)
    items = open_catalog(catalog)
    grid = analysis_grid(items)
    out = load_tile(items, ("blue",), grid, Window(0, 0, SIZE, SIZE))
    assert np.isnan(out["blue"][0, :8]).all() and not np.isnan(out["blue"][0, 8:]).any()


# -- through the CLI -------------------------------------------------------------------------


def test_analyze_skips_a_truncated_cog_and_lists_it(tmp_path, capsys):
    """One damaged date among many: analyze leaves it out and says so (summary, notes, terminal)."""
    import json

    from minewatch.demo.scene import generate_scene

    scene = generate_scene(tmp_path / "scene", seed=3, size_px=120, cadence_days=30, start="2018-01-01")
    reds = sorted(scene.catalog.parent.rglob("B04.tif"))
    bad = reds[len(reds) // 2]
    truncate(bad, keep=0.5)
    out = tmp_path / "out"
    rc = main(["analyze", str(scene.catalog), "--licences", str(scene.licences), "--start", scene.monitor_start,
               "--end", scene.monitor_end, "--out", str(out)])
    captured = capsys.readouterr()
    assert rc == 0 and "Traceback" not in captured.err
    summary = json.loads((out / "summary.json").read_text())
    skipped = summary["assessment"]["skipped_assets"]
    assert [s["href"] for s in skipped] == [str(bad)] and skipped[0]["band"] == "red" and skipped[0]["reason"]
    assert any(str(bad) in n for n in summary["notes"])
    assert "note:" in captured.out and "left out" in " ".join(captured.out.split())


def test_ingest_skips_a_truncated_geotiff_and_says_why(tmp_path, capsys):
    src = tmp_path / "src"
    for date in DATES[:2]:
        for band, name in (("blue", "B02"), ("red", "B04"), ("nir", "B08")):
            _write_band(src / date / f"{name}.tif", 1000)
    truncate(src / DATES[1] / "B08.tif")
    out = tmp_path / "out"
    assert main(["ingest", str(src), "--out", str(out)]) == 0, capsys.readouterr().err
    report = json.loads((out / "ingest_report.json").read_text())
    skipped = {s["path"]: s["reason"] for s in report["skipped"]}
    assert "truncated" in skipped[f"{DATES[1]}/B08.tif"]
    items = {it["id"]: it["bands"] for it in report["items"]}
    assert items == {DATES[0]: ["blue", "red", "nir"], DATES[1]: ["blue", "red"]}
    assert "B08.tif" in capsys.readouterr().out


def test_ingest_with_a_damaged_pixel_block_fails_in_one_line_and_writes_nothing(tmp_path, capsys):
    src = tmp_path / "src"
    for date in DATES[:2]:
        for name in ("B02", "B04", "B08"):
            _write_band(src / date / f"{name}.tif", 1000)
    damage_block(src / DATES[0] / "B04.tif")
    out = tmp_path / "out"
    rc = main(["ingest", str(src), "--out", str(out), "--copy"])
    err = capsys.readouterr().err
    assert rc == 2 and "Traceback" not in err
    assert err.startswith("error:") and "B04.tif: cannot read its pixels" in " ".join(err.split())
    assert not out.exists() and not [p for p in tmp_path.iterdir() if p.name.startswith(".mwingest")]
    shutil.rmtree(src)
