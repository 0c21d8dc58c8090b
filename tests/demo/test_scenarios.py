"""The demo scenarios: each generates, is a catalog `analyze` accepts, and carries consistent truth;
the default scenario's files are those the generator wrote before scenarios existed."""

from __future__ import annotations

import datetime as dt
import hashlib
import json

import numpy as np
import pystac
import pytest
import rasterio
import shapely
from shapely.geometry import shape

from minewatch.cli.main import main
from minewatch.demo import generate_scene, scenarios
from minewatch.demo.atmosphere import atmosphere, draw_weather
from minewatch.demo.geo import acquisition_dates, days
from minewatch.demo.scenarios.truth_files import FOOTPRINT_LEGEND
from minewatch.errors import InputError

NEW = ("tropical", "arid", "temperate")
EPOCH = dt.date(1970, 1, 1)

#: sha256 of files of `generate_scene(seed=5, start="2021-12-01", end="2022-04-30", cadence_days=15,
#: size_px=96)` written by the generator before the scenarios were added (commit 8ae1437)
DEFAULT_REFERENCE = {
    "catalog/sentinel-2-l2a/S2A_44UPA_20211201_0_L2A/B11.tif":
        "edfa976ff8343c8fb5fa6a10fa80b3b4724a939bb1abd5b14a5c20d9249389e4",
    "catalog/sentinel-2-l2a/S2A_44UPA_20211201_0_L2A/S2A_44UPA_20211201_0_L2A.json":
        "d8921c254ca52dd3f644fde2dd90d65eb8eda501babfabbd221fba290fa12947",
    "catalog/sentinel-2-l2a/S2B_44UPA_20220115_0_L2A/B04.tif":
        "806936e4f65f0927cba3dcb190a7a179c5bffdbe51240c871c60dab54f79e6a3",
    "catalog/sentinel-2-l2a/S2B_44UPA_20220115_0_L2A/S2B_44UPA_20220115_0_L2A.json":
        "dfda58dafcfc6766de8a6bde9ccb45c1e5f13449bf2f33e24858d4de3bf63d06",
    "catalog/sentinel-2-l2a/S2B_44UPA_20220115_0_L2A/SCL.tif":
        "0bfe42539eccccc2d2ef5f5bbf6f52d1dea187fbcba75a296f31701b9fbdbe53",
    "dem.tif": "c896a866ad6e43482893e925fa4469d65fbdecf3f003b3d540d411be2a68de57",
    "licences.geojson": "4ee0271e5c72f81e4a35f6d70f644cfe2d1a552e1512c6063ae1e18e87fb5fbc",
    "receptors.geojson": "20692593a5c617dac2bcec754d224dfb4ba5e95de87419eea65772642f5c675e",
    "scene.json": "1ebbc0a7f9895701b39a4f0d339cc83af211515216d3769016e2bcffe2274815",
    "truth/mine_class.tif": "7ae0d6511f7f542c18d19cf13021b5fc4c0c946c64548b69a9bdb5ace878c87b",
    "truth/onset_date.tif": "403a28064118e2811a66565375cc0e270925cedc06a66bd31d33cf18df911e1c",
    "truth/truth.json": "c79986d928fa8db6ee7cacc55b15756b67958949d8bb2ec05fd92aab5f2a1e52",
}


@pytest.fixture(scope="module")
def default_scene(tmp_path_factory):
    return generate_scene(tmp_path_factory.mktemp("default") / "scene", seed=5, start="2021-12-01",
                          end="2022-04-30", cadence_days=15, size_px=96)


@pytest.fixture(scope="module", params=NEW)
def scene(request, tmp_path_factory):
    """A reduced scene of each new scenario: 64 px, every 8 days over 2023-2024 (enough clear history
    for `analyze` even in the tropics; the last 90 days of the series included)."""
    return generate_scene(tmp_path_factory.mktemp(request.param) / "scene", seed=11, start="2023-01-01",
                          end="2024-12-31", cadence_days=8, size_px=64, scenario=request.param)


def _sha(p) -> str:
    return hashlib.sha256(p.read_bytes()).hexdigest()


def _items(scene) -> list[pystac.Item]:
    cat = pystac.Catalog.from_file(str(scene.catalog))
    return sorted(cat.get_items(recursive=True), key=lambda i: i.datetime)


def _events(scene) -> list[dict]:
    return json.loads((scene.truth_dir / "events.geojson").read_text())["features"]


# ------------------------------------------------------------------------------- default
def test_default_scenario_files_unchanged(default_scene):
    assert default_scene.scenario == "default"
    got = {k: _sha(default_scene.root / k) for k in DEFAULT_REFERENCE}
    assert got == DEFAULT_REFERENCE


def test_default_scenario_gains_events_and_yearly_footprint(default_scene):
    with rasterio.open(default_scene.truth_dir / "footprint_class.tif") as src:
        assert src.descriptions == ("2021", "2022")
        fp = src.read()
        onset = rasterio.open(default_scene.truth_dir / "onset_date.tif").read(1)
    assert set(np.unique(fp)) <= set(range(8))
    end_2022 = days(dt.date(2022, 12, 31))
    mined = (onset > 0) & (onset <= end_2022)
    assert np.isin(fp[1][mined], (1, 2, 3, 4)).all()  # every mined pixel is a mine class at the end of 2022
    assert not np.isin(fp[1][~mined], (1, 2, 3, 4)).any()
    assert (fp[1] == 7).sum() > 100  # river, outcrops
    ev = _events(default_scene)
    kinds = {f["properties"]["id"]: f["properties"] for f in ev}
    assert kinds["stage1-pit"]["kind"] == "mining" and kinds["stage1-pit"]["class"] == 1
    assert kinds["fire"]["cause"] == "burn" and kinds["fire"]["onset"] == "2021-08-09"


# ------------------------------------------------------------------------------- every new scenario
def test_catalog_is_a_sentinel2_series_on_the_scenario_grid(scene):
    items = _items(scene)
    assert len(items) == scene.n_items == len(acquisition_dates(dt.date(2023, 1, 1), dt.date(2024, 12, 31), 8))
    epsg = int(scene.crs.split(":")[1])
    assert epsg != 32644  # each landscape lies in its own UTM zone
    for it in items[:3]:
        assert it.properties["proj:code"] == scene.crs
        assert set(it.assets) >= {"blue", "green", "red", "nir", "swir16", "swir22", "scl"}
        with rasterio.open(it.assets["red"].get_absolute_href()) as src:
            assert src.crs.to_epsg() == epsg and src.shape == (64, 64)
        with rasterio.open(it.assets["scl"].get_absolute_href()) as src:
            assert src.shape == (32, 32)
    meta = json.loads((scene.root / "scene.json").read_text())
    assert meta["scenario"] == scene.scenario
    for p in (scene.root / "catalog").rglob("*.json"):
        assert "truth" not in p.read_text()


def test_analyze_accepts_the_scene(scene, tmp_path):
    out = tmp_path / "run"
    rc = main(["analyze", str(scene.catalog), "--licences", str(scene.licences), "--receptors",
               str(scene.receptors), "--dem", str(scene.dem), "--start", "2024-04-01", "--end", "2024-12-31",
               "--out", str(out)])
    assert rc == 0
    summary = json.loads((out / "summary.json").read_text())
    assert summary["period"]["start"] == "2024-04-01"
    with rasterio.open(out / "disturbance_date.tif") as src:
        assert src.shape == (64, 64) and src.crs.to_string() == scene.crs


def test_truth_is_consistent(scene):
    n = 64
    onset = rasterio.open(scene.truth_dir / "onset_date.tif").read(1)
    with rasterio.open(scene.truth_dir / "footprint_class.tif") as src:
        assert src.descriptions == ("2023", "2024")
        fp = src.read()
        assert json.loads(src.tags()["legend"]) == {str(k): v for k, v in FOOTPRINT_LEGEND.items()}
    assert set(np.unique(fp)) <= set(range(8))
    mined = onset > 0  # every truth onset lies before the end of 2024
    assert onset.max() <= days(dt.date(2024, 12, 31))
    assert np.isin(fp[-1][mined], range(1, 7)).all()
    assert not np.isin(fp[-1][~mined], range(1, 7)).any()
    assert (fp[-1] == 7).any()  # natural bare ground or water that is not mine
    truth = json.loads((scene.truth_dir / "truth.json").read_text())
    for year, areas in truth["footprint_area_ha_by_year"].items():
        band = fp[int(year) - 2023]
        assert areas["open pit"] == pytest.approx((band == 1).sum() * 0.01)

    feats = _events(scene)
    grid_box = shapely.box(*pystac.Catalog.from_file(str(scene.catalog)).get_child("sentinel-2-l2a")
                           .extent.spatial.bboxes[0]).buffer(1e-6)
    mining_px = np.zeros((n, n), bool)
    onsets = []
    with rasterio.open(scene.truth_dir / "onset_date.tif") as src:
        tr = src.transform
    for f in feats:
        p = f["properties"]
        assert p["kind"] in ("mining", "not_mining")
        geom = shape(f["geometry"])
        assert geom.is_valid and grid_box.contains(geom)
        dt.date.fromisoformat(p["onset"])
        if p["kind"] == "mining":
            assert p["class"] in range(1, 7) and p["class_name"] == FOOTPRINT_LEGEND[p["class"]]
            onsets.append(dt.date.fromisoformat(p["onset"]))
            from rasterio import features as rf
            from pyproj import Transformer
            to_utm = Transformer.from_crs(4326, scene.crs, always_xy=True)
            g = shapely.transform(geom, lambda c: np.column_stack(to_utm.transform(c[:, 0], c[:, 1])))
            mining_px |= rf.rasterize([(g, 1)], out_shape=(n, n), transform=tr, fill=0, dtype="uint8").astype(bool)
        else:
            assert p["cause"]
    assert (mining_px | ~mined).all()  # every dated mining pixel belongs to a mining event
    recent = [d for d in onsets if d > dt.date(2024, 12, 31) - dt.timedelta(days=90)]
    assert recent, "no mining event in the last 90 days of the series"
    assert len({d.year for d in onsets if d.year >= 2019}) >= 4  # onsets spread over the years
    assert any(f["properties"]["kind"] == "not_mining" for f in feats)
    assert truth["outside_licence_area_ha"] >= 0 and truth["new_disturbance_area_ha"] > 0
    assert truth["receptors_downstream"], "no receptor downstream of the mine"
    assert truth["receptors_not_downstream"], "no upstream receptor"


def _cloudy_share(name: str, seed: int) -> float:
    """Share of the scenario's default acquisitions with more than 30 % cloud (eo:cloud_cover's definition)."""
    spec = scenarios.get(name)
    dates = acquisition_dates(dt.date.fromisoformat(spec.start), dt.date.fromisoformat(spec.end), spec.cadence_days)
    cloudy = 0
    for d in dates:
        rng = np.random.default_rng([seed, 2, d.toordinal()])
        st = atmosphere(rng, draw_weather(rng, d, spec.climate), 80)
        cloudy += ((st.opacity > 0.1) | (st.haze > 0.05))[st.valid].mean() > 0.3
    return cloudy / len(dates)


@pytest.mark.parametrize("seed", [7, 31])
def test_tropical_is_cloudy_and_arid_is_not(seed):
    assert 0.60 <= _cloudy_share("tropical", seed) <= 0.80
    assert _cloudy_share("arid", seed) < 0.25


def test_tropical_items_report_their_cloud(tmp_path):
    """eo:cloud_cover of the written items follows the same weather (a year of 10-day acquisitions)."""
    s = generate_scene(tmp_path / "t", seed=7, start="2024-01-01", end="2024-12-31", cadence_days=10, size_px=60,
                       scenario="tropical")
    cc = np.array([it.properties["eo:cloud_cover"] for it in _items(s)])
    assert 0.5 <= (cc > 30).mean() <= 0.9


def test_temperate_winter_has_snow(tmp_path):
    s = generate_scene(tmp_path / "t", seed=11, start="2023-11-01", end="2024-08-31", cadence_days=15, size_px=60,
                       scenario="temperate")
    snow = {it.datetime.date(): it.properties["s2:snow_ice_percentage"] for it in _items(s)}
    winter = [v for d, v in snow.items() if d.month in (12, 1, 2)]
    summer = [v for d, v in snow.items() if d.month in (6, 7, 8)]
    assert sum(v > 10 for v in winter) >= len(winter) // 2
    assert max(summer) == 0
    feats = _events(s)
    assert any(f["properties"].get("cause") == "snow" for f in feats)
    assert any(f["properties"].get("cause") == "harvest" for f in feats)


def test_arid_pit_is_a_terraced_depression_in_the_dem(tmp_path):
    s = generate_scene(tmp_path / "a", seed=11, start="2024-07-01", end="2024-07-05", size_px=100, scenario="arid")
    dem = rasterio.open(s.dem).read(1)
    onset = rasterio.open(s.truth_dir / "onset_date.tif").read(1)
    fp = rasterio.open(s.truth_dir / "footprint_class.tif").read(1)
    pre_pit = (fp == 1) & (onset > 0) & (onset < days(dt.date(2018, 1, 1)))
    assert pre_pit.sum() > 50
    from scipy import ndimage

    rim = ndimage.binary_dilation(pre_pit, iterations=6) & ~ndimage.binary_dilation(pre_pit, iterations=2)
    rim &= onset == 0
    assert np.median(dem[pre_pit]) < np.median(dem[rim]) - 30
    assert len(np.unique(np.round(dem[pre_pit]))) > 5  # benches, not one flat floor
    assert (fp == 3).any() and (fp == 7).any() and (fp == 5).any()


# ------------------------------------------------------------------------------- CLI and arguments
def test_cli_generates_a_scenario_without_analysis(tmp_path, capsys):
    rc = main(["demo", "--scenario", "arid", "--size", "60", "--start", "2024-06-01", "--end", "2024-07-31",
               "--cadence", "30", "--no-analyze", "--out", str(tmp_path / "d")])
    assert rc == 0
    assert "3 acquisitions written" in capsys.readouterr().out
    assert json.loads((tmp_path / "d" / "scene" / "scene.json").read_text())["scenario"] == "arid"
    assert not (tmp_path / "d" / "result").exists()


def test_unknown_scenario_is_a_user_error(tmp_path, capsys):
    rc = main(["demo", "--scenario", "lunar", "--no-analyze", "--out", str(tmp_path / "d")])
    assert rc == 2
    err = capsys.readouterr().err
    assert "unknown demo scenario 'lunar'" in err and "Traceback" not in err
    assert not (tmp_path / "d").exists()
    with pytest.raises(InputError):
        generate_scene(tmp_path / "x", scenario="lunar")


def test_per_event_scores_from_the_truth(scene, tmp_path):
    """evaluate_events on a perfect and on an empty result built from the scene's own truth."""
    from minewatch.evaluation import evaluate_events

    with rasterio.open(scene.truth_dir / "onset_date.tif") as src:
        onset, prof = src.read(1), src.profile
    lo, hi = days(dt.date(2019, 1, 1)), days(dt.date(2024, 12, 31))
    for name, pred in (("perfect", np.where((onset >= lo) & (onset <= hi), onset, 0)), ("empty", 0 * onset)):
        out = tmp_path / name
        out.mkdir()
        (out / "summary.json").write_text(json.dumps({"period": {"start": "2019-01-01", "end": "2024-12-31"}}))
        with rasterio.open(out / "disturbance_date.tif", "w", **prof) as dst:
            dst.write(pred.astype(np.int32), 1)
        r = evaluate_events(out, scene.truth_dir)
        assert r["mining_events"] > 3 and r["recent_mining_events"] >= 1
        assert r["not_mining_events_flagged"] == 0
        if name == "perfect":
            assert r["mining_events_found"] == r["mining_events"]
            assert r["recent_mining_events_found"] == r["recent_mining_events"]
        else:
            assert r["mining_events_found"] == 0
