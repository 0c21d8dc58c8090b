"""`minewatch ingest`: real folders (aurora, Landsat quicklooks) and synthetic layouts."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pystac
import pytest
import rasterio
from rasterio.transform import from_origin

from minewatch.cli.main import main
from minewatch.imagery.ingest import ingest_folder


def _load(catalog_dir: Path) -> dict[str, pystac.Item]:
    cat = pystac.Catalog.from_file(str(catalog_dir / "catalog.json"))
    return {it.id: it for it in cat.get_items(recursive=True)}


def _read_asset(item: pystac.Item, key: str) -> np.ndarray:
    with rasterio.open(item.assets[key].get_absolute_href()) as src:
        return src.read(1)


def _write(path: Path, *bands: np.ndarray, res: float = 10.0, crs: str = "EPSG:32644",
           nodata: float | None = None) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    h, w = bands[0].shape
    with rasterio.open(path, "w", driver="GTiff", width=w, height=h, count=len(bands),
                       dtype=str(bands[0].dtype), crs=crs, nodata=nodata,
                       transform=from_origin(500000, 2700000, res, res)) as dst:
        for i, b in enumerate(bands, start=1):
            dst.write(b, i)
    return path


def _refl(seed: int, scale: float, shape=(20, 24)) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return np.clip(rng.uniform(0.05, 0.35, shape) * scale, 1, 65534).astype("uint16")


# -- the real aurora folder, through the CLI ------------------------------------------------


@pytest.mark.shared
def test_aurora_folder_through_cli(shared_data, tmp_path, capsys):
    src = shared_data("aurora_india_mines", "mine_0")
    out = tmp_path / "cat"
    rc = main(["ingest", str(src), "--out", str(out)])
    printed = capsys.readouterr().out
    assert rc == 0, printed
    assert "78 dates" in printed and "Files not used" in printed

    items = _load(out)
    expected_dates = json.loads((src.parent / "dates.json").read_text())["mine_0"]["dates"]
    assert sorted(items) == sorted(expected_dates)
    for it in items.values():
        assert {"blue", "red", "nir", "swir16", "swir22"} <= set(it.assets)
        assert it.properties["minewatch:source"] == "mine_0"
        assert it.properties["proj:code"] == "EPSG:4326"
        assert it.datetime.hour == 12
        rb = it.assets["nir"].extra_fields["raster:bands"][0]
        assert rb["scale"] == pytest.approx(1 / 65535)
        assert rb["offset"] == 0.0 and rb["data_type"] == "uint16"

    # The two dates exported without a data mask carry no datamask asset; all others do.
    no_mask = sorted(d for d, it in items.items() if "datamask" not in it.assets)
    assert no_mask == ["2022-06-27", "2023-06-02"]

    # Band asset = band 1 of the original file (in place, relative href); datamask = band 2.
    it = items["2019-01-04"]
    assert not Path(it.assets["blue"].href).is_absolute()
    with rasterio.open(src / "2019-01-04" / "B02.tif") as s:
        orig = s.read()
    assert np.array_equal(_read_asset(it, "blue"), orig[0])
    assert np.array_equal(_read_asset(it, "datamask"), orig[1].astype("uint8"))

    report = json.loads((out / "ingest_report.json").read_text())
    assert report["n_items"] == 78
    assert report["scale"]["name"] == "65535" and "median valid DN" in report["scale"]["how"]
    reasons = {}
    for s in report["skipped"]:
        reasons.setdefault(Path(s["path"]).name, set()).add(s["reason"])
    assert set(reasons) == {"SCL_rgbviz.tif", "TrueColor_viz.tif"}
    assert all("colour rendering" in r for rs in reasons.values() for r in rs)
    assert sum(1 for s in report["skipped"] if s["path"].endswith("SCL_rgbviz.tif")) == 78
    by_id = {i["id"]: i for i in report["items"]}
    assert by_id["2022-06-27"]["datamask"] is False
    assert any("no data mask" in w for w in by_id["2023-06-02"]["warnings"])
    # 2020-09-20 is a cloud-saturated date: flagged, not dropped.
    assert any("saturated" in w for w in by_id["2020-09-20"]["warnings"])
    # All staged dates share one ~9 m grid, so none is flagged as a 20 m export
    # (the 20 m handling is proven on a synthetic folder below).
    assert len({i["pixel_size_m"] for i in report["items"]}) == 1
    assert not any("exported at" in w for i in report["items"] for w in i["warnings"])


@pytest.mark.shared
def test_aurora_copy_catalog_is_self_contained(shared_data, tmp_path):
    src = shared_data("aurora_india_mines", "mine_0")
    out = tmp_path / "cat"
    ingest_folder(src, out, copy=True)
    moved = tmp_path / "elsewhere" / "moved"
    moved.parent.mkdir()
    shutil.move(str(out), str(moved))
    items = _load(moved)
    it = items["2022-06-27"]
    for asset in it.assets.values():
        assert Path(asset.get_absolute_href()).resolve().is_relative_to(moved.resolve())
    with rasterio.open(src / "2022-06-27" / "B11.tif") as s:
        assert np.array_equal(_read_asset(it, "swir16"), s.read(1))


@pytest.mark.shared
def test_landsat_quicklooks_with_band_order(shared_data, tmp_path, capsys):
    src = shared_data("landsat_pucallpa_ts")
    out = tmp_path / "ls"
    rc = main(["ingest", str(src), "--out", str(out), "--band-order", "swir16,nir,red,green"])
    captured = capsys.readouterr()
    assert rc == 0, captured.err
    assert "NOT surface reflectance" in captured.out
    items = _load(out)
    assert sorted(items) == [str(y) for y in range(1985, 2021, 5)]
    it = items["2000"]
    assert it.properties["start_datetime"].startswith("2000-01-01")
    assert set(it.assets) == {"swir16", "nir", "red", "green"}
    rb = it.assets["red"].extra_fields["raster:bands"][0]
    assert rb["scale"] == pytest.approx(1 / 255) and rb["nodata"] == 0
    # Multi-band stacks are split into single-band COGs inside the catalog.
    href = Path(it.assets["red"].get_absolute_href())
    assert href.resolve().is_relative_to(out.resolve())
    with rasterio.open(src / "2000.tif") as s:
        assert np.array_equal(_read_asset(it, "red"), s.read(3))
        assert np.array_equal(_read_asset(it, "swir16"), s.read(1))
    report = json.loads((out / "ingest_report.json").read_text())
    assert report["scale"]["is_reflectance"] is False
    assert any("NOT surface reflectance" in w for w in report["warnings"])


# -- synthetic layouts -----------------------------------------------------------------


@pytest.mark.parametrize(
    "layout",
    [
        "{date}/{band}.tif",
        "{band}_{date}.tif",
        "{date}_{band}.tif",
        "sub/{compact}_{band}.TIF",
        "{date}-00:00_{date}-23:59_Sentinel-2_L2A_{band}_(Raw).tiff",
    ],
)
def test_layouts_and_band_spellings(tmp_path, layout):
    src = tmp_path / "src"
    spellings = {"B2": "blue", "red": "red", "B08": "nir", "B8A": "nir08", "swir16": "swir16",
                 "B12": "swir22"}
    dates = ["2021-03-01", "2021-03-11"]
    for k, date in enumerate(dates):
        for j, band in enumerate(spellings):
            name = layout.format(date=date, band=band, compact=date.replace("-", ""))
            _write(src / name.replace(":", ""), _refl(10 * k + j, 10000))
    out = tmp_path / "cat"
    report = ingest_folder(src, out)
    items = _load(out)
    assert sorted(items) == dates
    for it in items.values():
        assert set(it.assets) == set(spellings.values())
        assert it.properties["proj:code"] == "EPSG:32644"
    assert report.scale["name"] == "10000"
    assert not report.skipped


def test_twenty_metre_date_is_kept_and_reported(tmp_path):
    src = tmp_path / "src"
    for date, res, shape in (("2020-01-01", 10, (40, 40)), ("2020-01-11", 10, (40, 40)),
                             ("2020-01-21", 20, (20, 20))):
        for band in ("B04", "B08"):
            _write(src / date / f"{band}.tif", _refl(res, 10000, shape), res=res)
    out = tmp_path / "cat"
    report = ingest_folder(src, out)
    items = _load(out)
    assert items["2020-01-21"].assets["red"].extra_fields["proj:shape"] == [20, 20]
    assert items["2020-01-01"].assets["red"].extra_fields["proj:shape"] == [40, 40]
    info = {i["id"]: i for i in report.items}
    assert info["2020-01-21"]["pixel_size_m"] == 20.0
    assert any("exported at about 20 m" in w for w in info["2020-01-21"]["warnings"])
    assert not any("exported at" in w for w in info["2020-01-01"]["warnings"])


def test_scale_detection_and_override(tmp_path):
    for factor, expected in ((10000, "10000"), (65535, "65535")):
        src = tmp_path / f"s{factor}"
        for band in ("B02", "B04", "B08", "B11"):
            _write(src / "2022-05-05" / f"{band}.tif", _refl(factor, factor))
        report = ingest_folder(src, tmp_path / f"c{factor}")
        assert report.scale["name"] == expected, report.scale
    # An explicit --scale wins over the heuristic and is written to every asset.
    ingest_folder(tmp_path / "s10000", tmp_path / "forced", scale="s2-pb04")
    it = _load(tmp_path / "forced")["2022-05-05"]
    rb = it.assets["red"].extra_fields["raster:bands"][0]
    assert rb["scale"] == pytest.approx(1e-4) and rb["offset"] == pytest.approx(-0.1)
    # 8-bit input: allowed, scale 1/255, with a warning.
    src8 = tmp_path / "q8"
    _write(src8 / "2022-05-05" / "red.tif", np.full((10, 10), 120, "uint8"))
    report = ingest_folder(src8, tmp_path / "c8")
    assert report.scale["name"] == "255" and report.warnings


def test_multiband_without_band_order_is_reported(tmp_path):
    src = tmp_path / "src"
    _write(src / "2020-02-02.tif", _refl(1, 10000), _refl(2, 10000), _refl(3, 10000))
    _write(src / "2020-02-02_B04.tif", _refl(4, 10000))
    report = ingest_folder(src, tmp_path / "cat")
    assert [s.path for s in report.skipped] == ["2020-02-02.tif"]
    assert "--band-order" in report.skipped[0].reason


# -- bad input: one-line error, nothing written --------------------------------------------


def _assert_nothing_written(tmp_path: Path, out: Path) -> None:
    assert not out.exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".mwingest")]


def test_empty_folder(tmp_path, capsys):
    (tmp_path / "empty").mkdir()
    out = tmp_path / "cat"
    assert main(["ingest", str(tmp_path / "empty"), "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error:") and "empty" in err and len(err.splitlines()) == 1
    _assert_nothing_written(tmp_path, out)


def test_unreadable_tiff(tmp_path, capsys):
    src = tmp_path / "src"
    src.mkdir()
    (src / "2020-01-01_B04.tif").write_bytes(b"II*\x00 this is not a tiff")
    out = tmp_path / "cat"
    assert main(["ingest", str(src), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert "unreadable GeoTIFF" in err and len(err.strip().splitlines()) == 1
    _assert_nothing_written(tmp_path, out)


def test_no_recognisable_band_names(tmp_path, capsys):
    src = tmp_path / "src"
    _write(src / "2020-01-01" / "foo.tif", _refl(1, 10000))
    _write(src / "2020-01-11" / "bar.tif", _refl(2, 10000))
    out = tmp_path / "cat"
    assert main(["ingest", str(src), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert "no recognisable band name" in err
    _assert_nothing_written(tmp_path, out)


def test_existing_output_is_not_overwritten(tmp_path, capsys):
    src = tmp_path / "src"
    _write(src / "2020-01-01" / "B04.tif", _refl(1, 10000))
    out = tmp_path / "cat"
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    assert main(["ingest", str(src), "--out", str(out)]) == 2
    assert "already exists" in capsys.readouterr().err
    assert (out / "keep.txt").read_text() == "mine"
    assert main(["ingest", str(src), "--out", str(out), "--overwrite"]) == 0
    assert (out / "catalog.json").exists() and not (out / "keep.txt").exists()


@pytest.mark.shared
def test_aurora_scl_renderings_decoded_on_request(shared_data, tmp_path):
    src = shared_data("aurora_india_mines", "mine_0")
    out = tmp_path / "cat"
    report = ingest_folder(src, out, decode_scl_rendering=True)
    items = _load(out)
    assert all("scl" in it.assets for it in items.values())
    # Only the true-colour renderings are still skipped.
    assert {Path(s.path).name for s in report.skipped} == {"TrueColor_viz.tif"}
    it = items["2023-08-01"]  # a date SCL marks as cloud everywhere on the mine
    scl = _read_asset(it, "scl")
    valid = _read_asset(it, "datamask") > 0
    assert set(np.unique(scl)) <= set(range(12))
    assert np.isin(scl[valid], (8, 9, 10)).mean() > 0.9
    assert it.assets["scl"].extra_fields["raster:bands"][0]["data_type"] == "uint8"
    # Without the option the rendering is skipped, with a hint naming the option.
    plain = ingest_folder(src, tmp_path / "plain")
    scl_reasons = {s.reason for s in plain.skipped if s.path.endswith("SCL_rgbviz.tif")}
    assert len(scl_reasons) == 1 and "--decode-scl-rendering" in scl_reasons.pop()
