"""Tests of the synthetic demo scene generator (reduced scenes, real files)."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
from pathlib import Path

import numpy as np
import pystac
import pytest
import rasterio
import shapely
from pyproj import Transformer
from shapely.geometry import shape

from minewatch.demo import DemoScene, generate_scene
from minewatch.errors import InputError

ASSET_KEYS = {"blue": ("B02", 10), "green": ("B03", 10), "red": ("B04", 10), "nir": ("B08", 10),
              "rededge1": ("B05", 20), "rededge2": ("B06", 20), "rededge3": ("B07", 20),
              "nir08": ("B8A", 20), "swir16": ("B11", 20), "swir22": ("B12", 20), "scl": ("SCL", 20)}
BASELINE_04 = dt.date(2022, 1, 25)
N = 120


@pytest.fixture(scope="module")
def small(tmp_path_factory) -> DemoScene:
    """A reduced scene: 120 px, monthly, mid-2021 .. mid-2023 (both processing baselines)."""
    out = tmp_path_factory.mktemp("demo") / "scene"
    return generate_scene(out, seed=13, start="2021-06-01", end="2023-05-31", cadence_days=30, size_px=N)


@pytest.fixture(scope="module")
def full_truth(tmp_path_factory) -> tuple[DemoScene, dict]:
    """The full-size (400 px) geography with a single acquisition: its truth is the demo's truth."""
    out = tmp_path_factory.mktemp("demo_full") / "scene"
    scene = generate_scene(out, seed=7, start="2022-07-01", end="2022-07-05", cadence_days=10)
    return scene, json.loads((scene.truth_dir / "truth.json").read_text())


def _items(scene: DemoScene) -> list[pystac.Item]:
    cat = pystac.Catalog.from_file(str(scene.catalog))
    return sorted(cat.get_items(recursive=True), key=lambda i: i.datetime)


def _hashes(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


# ----------------------------------------------------------------------------- determinism
def test_same_seed_gives_identical_files(tmp_path):
    kw = dict(seed=3, start="2021-12-20", end="2022-03-01", cadence_days=20, size_px=64)
    a = generate_scene(tmp_path / "a", **kw)
    b = generate_scene(tmp_path / "b", **kw)
    ha, hb = _hashes(a.root), _hashes(b.root)
    assert len(ha) > 30
    assert ha == hb
    c = generate_scene(tmp_path / "c", **{**kw, "seed": 4})
    hc = _hashes(c.root)
    differing = [k for k in ha if ha[k] != hc.get(k)]
    assert any(k.endswith("B04.tif") for k in differing)


def test_scene_paths_and_layout(small):
    for p in (small.root, small.catalog, small.licences, small.receptors, small.dem, small.truth_dir):
        assert p.is_absolute() and p.exists()
    assert small.crs == "EPSG:32644"
    assert (small.monitor_start, small.monitor_end) == ("2020-01-01", "2024-12-31")
    assert not list(small.root.parent.glob(".scene.partial-*"))
    # the truth is kept apart: nothing in the catalog points at it
    for p in (small.root / "catalog").rglob("*.json"):
        assert "truth" not in p.read_text()


# ----------------------------------------------------------------------------- catalog
def test_catalog_structure(small):
    cat = pystac.Catalog.from_file(str(small.catalog))
    cols = list(cat.get_children())
    assert [c.id for c in cols] == ["sentinel-2-l2a"]
    assert isinstance(cols[0], pystac.Collection)
    items = _items(small)
    assert len(items) == small.n_items == 25  # 2021-06-01 + k * 30 d <= 2023-05-31
    raw = json.loads(small.catalog.read_text())
    assert all(not link["href"].startswith("/") for link in raw["links"])
    platforms = [i.properties["platform"] for i in items]
    assert platforms[:4] == ["sentinel-2a", "sentinel-2b", "sentinel-2a", "sentinel-2b"]
    for it in items:
        p = it.properties
        d = it.datetime.date()
        assert re.fullmatch(r"S2[AB]_44U[A-Z]{2}_\d{8}_0_L2A", it.id)
        assert it.id[4:9] == p["s2:mgrs_tile"] and it.id[10:18] == f"{d:%Y%m%d}"
        assert p["constellation"] == "sentinel-2"
        assert p["proj:code"] == "EPSG:32644"
        on_disk = json.loads(Path(it.get_self_href()).read_text())["properties"]
        assert on_disk["proj:epsg"] == 32644 and on_disk["proj:code"] == "EPSG:32644"
        assert 0.0 <= p["eo:cloud_cover"] <= 100.0
        assert p["s2:processing_baseline"] == ("04.00" if d >= BASELINE_04 else "02.14")
        assert set(it.assets) == set(ASSET_KEYS)
        item_json = Path(it.get_self_href())
        assert item_json.parent.name == it.id and item_json.name == f"{it.id}.json"
        for key, asset in it.assets.items():
            band, res = ASSET_KEYS[key]
            assert asset.href == f"./{band}.tif"
            assert asset.media_type == "image/tiff; application=geotiff; profile=cloud-optimized"
            assert asset.roles == ["data"]
            rb = asset.extra_fields["raster:bands"][0]
            assert rb["nodata"] == 0 and rb["spatial_resolution"] == res
            if key == "scl":
                assert rb["data_type"] == "uint8" and "scale" not in rb and "offset" not in rb
            else:
                assert rb["data_type"] == "uint16" and rb["scale"] == 0.0001
                assert rb["offset"] == (-0.1 if d >= BASELINE_04 else 0)
                assert asset.extra_fields["eo:bands"][0]["name"] == band
    # eo:cloud_cover is the truth's cloud share of that date
    truth = json.loads((small.truth_dir / "truth.json").read_text())
    per = {p["item_id"]: p for p in truth["atmosphere"]["per_date"]}
    assert {i.id: i.properties["eo:cloud_cover"] for i in items} == {k: v["cloud_pct"] for k, v in per.items()}


def test_assets_are_cogs_with_the_declared_grid(small):
    items = _items(small)
    for it in items[:3] + items[-2:]:
        for key, asset in it.assets.items():
            band, res = ASSET_KEYS[key]
            with rasterio.open(asset.get_absolute_href()) as src:
                size = N if res == 10 else N // 2
                assert (src.height, src.width) == (size, size)
                assert list(asset.extra_fields["proj:shape"]) == [size, size]
                assert tuple(asset.extra_fields["proj:transform"]) == tuple(src.transform)[:6]
                assert src.res == (float(res), float(res))
                assert src.crs.to_epsg() == 32644
                assert src.nodata == 0
                assert src.dtypes[0] == ("uint8" if key == "scl" else "uint16")
                assert src.tags(ns="IMAGE_STRUCTURE").get("LAYOUT") == "COG"
                assert src.tags(ns="IMAGE_STRUCTURE").get("COMPRESSION") == "DEFLATE"
                if key == "scl":
                    assert src.read(1).max() <= 11


def test_processing_baseline_offset_in_dn(small):
    """From 2022-01-25 DN carry +1000; applying the declared offset gives the same reflectance."""
    before, after = [], []
    for it in _items(small):
        with rasterio.open(it.assets["scl"].get_absolute_href()) as s:
            scl = s.read(1)
        with rasterio.open(it.assets["swir16"].get_absolute_href()) as s:
            dn = s.read(1).astype(float)
        clear = np.isin(scl, (4, 5))
        if clear.mean() < 0.3:
            continue
        rb = it.assets["swir16"].extra_fields["raster:bands"][0]
        refl = dn[clear] * rb["scale"] + rb["offset"]
        (after if it.datetime.date() >= BASELINE_04 else before).append((np.median(dn[clear]), np.median(refl)))
    assert before and after
    raw_b, ref_b = np.median([b[0] for b in before]), np.median([b[1] for b in before])
    raw_a, ref_a = np.median([a[0] for a in after]), np.median([a[1] for a in after])
    assert 0.15 < ref_b < 0.45 and 0.15 < ref_a < 0.45
    assert abs(ref_a - ref_b) < 0.06
    assert 800 < raw_a - raw_b < 1200


def test_nodata_edges_and_values(small):
    items = _items(small)
    truth = json.loads((small.truth_dir / "truth.json").read_text())
    per = {p["item_id"]: p for p in truth["atmosphere"]["per_date"]}
    full_area = max(shape(it.geometry).area for it in items)
    seen_cut = False
    for it in items:
        with rasterio.open(it.assets["red"].get_absolute_href()) as s:
            red = s.read(1)
        with rasterio.open(it.assets["scl"].get_absolute_href()) as s:
            scl = s.read(1)
        nod = per[it.id]["nodata_pct"]
        footprint = shape(it.geometry)
        assert footprint.is_valid and footprint.exterior.is_ccw
        if nod == 0:
            assert (red > 0).all() and (scl > 0).all()
            assert footprint.area == pytest.approx(full_area, rel=1e-6)
        else:  # partial swath: the same pixels are 0 in bands and SCL, and the footprint ends there
            assert 0 < (red == 0).mean() < 1
            assert abs((red == 0).mean() * 100 - nod) < 1.0
            assert ((scl == 0) == (red[::2, ::2] == 0)).mean() > 0.97
            assert footprint.area / full_area == pytest.approx(1 - nod / 100, abs=0.02)
            seen_cut = True
    assert seen_cut, "the reduced scene should hold at least one partial-swath date"


# ----------------------------------------------------------------------------- vectors, DEM
def test_licences_and_receptors_geojson(small):
    lic = json.loads(small.licences.read_text())
    assert "crs" not in lic
    statuses = set()
    for f in lic["features"]:
        p = f["properties"]
        assert set(p) == {"licence_id", "holder", "commodity", "status", "valid_from", "valid_to"}
        assert p["status"] in {"active", "expired", "suspended", "revoked"}
        statuses.add(p["status"])
        g = shape(f["geometry"])
        assert g.is_valid and g.geom_type == "Polygon"
        assert g.exterior.is_ccw  # RFC 7946 right-hand rule
        lon, lat = g.centroid.x, g.centroid.y
        assert 82 < lon < 83.5 and 49 < lat < 51
    assert {"active", "expired", "suspended"} <= statuses
    rec = json.loads(small.receptors.read_text())
    kinds = {f["properties"]["kind"] for f in rec["features"]}
    assert {"village", "water_intake", "well"} <= kinds <= {"village", "water_intake", "well", "spring"}
    for f in rec["features"]:
        assert f["geometry"]["type"] == "Point"
        assert set(f["properties"]) == {"receptor_id", "kind", "name"}


def test_dem_has_a_valley_with_a_continuous_channel(small):
    with rasterio.open(small.dem) as src:
        dem = src.read(1)
        assert src.dtypes[0] == "float32" and src.nodata == -9999
        assert src.crs.to_epsg() == 32644 and src.res == (10.0, 10.0)
        assert (src.height, src.width) == (N, N)
    # every row's minimum (the channel) falls from north to south
    row_min = dem.min(axis=1)
    assert row_min[0] > row_min[-1] + 3
    assert (np.diff(row_min) < 0).all()
    # the channel sits well inside, with higher ground on both sides
    cols = dem.argmin(axis=1)
    assert (cols > N * 0.4).all() and (cols < N * 0.8).all()
    assert dem[:, 0].mean() > row_min.mean() + 20 and dem[:, int(N * 0.9)].mean() > row_min.mean() + 5


# ----------------------------------------------------------------------------- truth
def test_truth_areas_match_pixel_counts(small):
    truth = json.loads((small.truth_dir / "truth.json").read_text())
    with rasterio.open(small.truth_dir / "onset_date.tif") as s:
        onset = s.read(1)
        assert s.dtypes[0] == "int32" and (s.height, s.width) == (N, N)
    with rasterio.open(small.truth_dir / "mine_class.tif") as s:
        mclass = s.read(1)
        assert s.dtypes[0] == "uint8"
    ms = (dt.date(2020, 1, 1) - dt.date(1970, 1, 1)).days
    me = (dt.date(2024, 12, 31) - dt.date(1970, 1, 1)).days
    new = (onset >= ms) & (onset <= me)
    assert truth["new_disturbance_pixels"] == int(new.sum())
    assert truth["new_disturbance_area_ha"] == pytest.approx(new.sum() * 0.01, abs=0.006)
    assert ((mclass > 0) == (onset > 0)).all()
    assert (onset[mclass == 5] < ms).all() and (onset[(mclass > 0) & (mclass < 5)] >= ms).all()
    for name, code in (("pit", 1), ("waste_dump", 2), ("tailings", 3), ("unlicensed_pit", 4),
                       ("pre_existing_mining", 5)):
        assert truth["mine_class_area_ha"][name] == pytest.approx((mclass == code).sum() * 0.01, abs=0.006)
        assert (mclass == code).any(), name


def _outside_independent(scene: DemoScene, onset: np.ndarray) -> np.ndarray:
    """Outside-licence pixels by point-in-polygon on pixel centres (not by rasterisation)."""
    n = onset.shape[0]
    with rasterio.open(scene.dem) as s:
        tr = s.transform
    rows, cols = np.mgrid[0:n, 0:n]
    xs, ys = rasterio.transform.xy(tr, rows.ravel(), cols.ravel())
    xs, ys = np.asarray(xs).reshape(n, n), np.asarray(ys).reshape(n, n)
    to_utm = Transformer.from_crs(4326, 32644, always_xy=True)
    covered = np.zeros((n, n), bool)
    for f in json.loads(scene.licences.read_text())["features"]:
        p = f["properties"]
        ring = [to_utm.transform(*c) for c in f["geometry"]["coordinates"][0]]
        inside = shapely.contains_xy(shapely.Polygon(ring), xs, ys)
        ok = np.full((n, n), p["status"] == "active")
        if p["valid_from"]:
            ok &= onset >= (dt.date.fromisoformat(p["valid_from"]) - dt.date(1970, 1, 1)).days
        if p["valid_to"]:
            ok &= onset <= (dt.date.fromisoformat(p["valid_to"]) - dt.date(1970, 1, 1)).days
        covered |= inside & ok
    ms = (dt.date(2020, 1, 1) - dt.date(1970, 1, 1)).days
    me = (dt.date(2024, 12, 31) - dt.date(1970, 1, 1)).days
    return (onset >= ms) & (onset <= me) & ~covered


def test_full_scene_truth_holds_the_designed_cases(full_truth):
    scene, truth = full_truth
    with rasterio.open(scene.truth_dir / "onset_date.tif") as s:
        onset = s.read(1)
    # outside-licence area recomputed independently (point in polygon, issue's rule)
    outside = _outside_independent(scene, onset)
    assert truth["outside_licence_pixels"] == int(outside.sum())
    assert truth["outside_licence_area_ha"] == pytest.approx(outside.sum() * 0.01, abs=0.006)
    # a few tens of hectares of new disturbance, a meaningful share outside licence
    assert 30 <= truth["new_disturbance_area_ha"] <= 90
    assert 0.1 <= truth["outside_licence_area_ha"] / truth["new_disturbance_area_ha"] <= 0.4
    assert truth["pre_existing_mining_area_ha"] > 1.0
    stages = [s for s in truth["stages"] if s["name"].startswith("stage")]
    assert len(stages) >= 4 and all(s["area_ha"] > 1.0 for s in stages)
    ms, me = dt.date(2020, 1, 1), dt.date(2024, 12, 31)
    assert all(ms <= dt.date.fromisoformat(s["start"]) <= me for s in stages)
    cross = truth["licence_crossing"]
    assert ms <= dt.date.fromisoformat(cross["date"]) <= me
    b = cross["expired_licence_intrusion"]
    assert dt.date.fromisoformat(b["first_onset"]) > dt.date.fromisoformat(b["valid_to"]) and b["area_ha"] > 1
    assert cross["dump_outside_all_licences"]["area_ha"] > 1
    unl = truth["unlicensed_pit"]
    assert 1.0 <= unl["area_ha"] <= 3.0 and not unl["in_any_licence"]
    assert ms <= dt.date.fromisoformat(unl["onset"]) <= me
    per = {p["licence_id"]: p for p in truth["per_licence"]}
    assert per["ML-0147"]["new_disturbance_licensed_ha"] > 20
    assert per["ML-0093"]["new_disturbance_licensed_ha"] == 0.0
    assert truth["confounders"]["grass_fire"]["area_ha"] > 10
    assert truth["confounders"]["cropland_area_ha"] > 50


@pytest.mark.parametrize("which", ["full", "small"])
def test_receptors_downstream_as_designed(which, full_truth, small):
    scene = full_truth[0] if which == "full" else small
    truth = json.loads((scene.truth_dir / "truth.json").read_text())
    down = {r["kind"]: r for r in truth["receptors_downstream"]}
    not_down = {r["kind"] for r in truth["receptors_not_downstream"]}
    assert set(down) == {"village", "water_intake"}
    assert not_down == {"well", "spring"}
    assert 0 < down["village"]["flow_distance_m"] < down["water_intake"]["flow_distance_m"]
    # both snap onto the main river (large accumulation), not onto a hillslope rill
    assert down["water_intake"]["snapped_accumulation_cells"] > 0.5 * scene_cells(scene)


def scene_cells(scene: DemoScene) -> int:
    with rasterio.open(scene.dem) as s:
        return s.width * s.height


def test_d8_on_the_dem_follows_the_river_to_the_receptors(full_truth):
    """Independent check: steepest descent on the raw DEM from the mine reaches the channel
    upstream of the village, and the channel is the row minimum all the way down."""
    scene, truth = full_truth
    with rasterio.open(scene.dem) as s:
        dem = s.read(1).astype(float)
    with rasterio.open(scene.truth_dir / "mine_class.tif") as s:
        mclass = s.read(1)
    chan_col = dem.argmin(axis=1)
    r, c = [int(v) for v in np.argwhere(mclass == 2).mean(axis=0)]  # centre of the waste dump
    path = 0
    while abs(c - chan_col[r]) > 1 and path < 2000:
        win = dem[max(r - 1, 0):r + 2, max(c - 1, 0):c + 2]
        dr, dc = np.unravel_index(np.argmin(win), win.shape)
        nr, nc = max(r - 1, 0) + dr, max(c - 1, 0) + dc
        if (nr, nc) == (r, c):  # small pit in the raw DEM: step downslope towards the channel
            nc = c + (1 if chan_col[r] > c else -1)
        r, c = nr, nc
        path += 1
    village = next(x for x in truth["receptors_downstream"] if x["kind"] == "village")
    assert r < village["snapped_row"]


# ----------------------------------------------------------------------------- SCL realism
def test_scl_is_imperfect_like_sen2cor(small):
    truth = json.loads((small.truth_dir / "truth.json").read_text())
    per = truth["atmosphere"]["per_date"]
    with rasterio.open(small.truth_dir / "mine_class.tif") as s:
        mclass = s.read(1)[::2, ::2]
    pit = np.isin(mclass, (1, 5))
    pit_water_flagged = []
    for it in _items(small):
        with rasterio.open(it.assets["nir"].get_absolute_href()) as s:
            nir = s.read(1)[::2, ::2].astype(float) * 1e-4 + it.assets["nir"].extra_fields["raster:bands"][0]["offset"]
        with rasterio.open(it.assets["scl"].get_absolute_href()) as s:
            scl = s.read(1)
        dark_pit = pit & (nir < 0.03) & (nir > -0.05)
        if dark_pit.sum() >= 2:
            pit_water_flagged.append((scl[dark_pit] == 3).mean())
    assert pit_water_flagged, "the pit lake should be visible on some dates"
    assert max(pit_water_flagged) > 0.2  # dark pit water taken for cloud shadow on some dates
    assert min(pit_water_flagged) < 0.5  # ... but not on every date
    det = [p["scl_cloud_detected"] for p in per if p["cloud_pct"] > 20 and p["scl_cloud_detected"] is not None]
    assert det and np.median(det) < 0.98 and max(det) > 0.4  # cloud edges / thin cloud missed
    sh = [p["scl_shadow_detected"] for p in per if p["shadow_pct"] > 2 and p["scl_shadow_detected"] is not None]
    assert sh and min(sh) < 0.95
    assert any(p["scl_bright_mine_as_cloud"] and p["scl_bright_mine_as_cloud"] > 0 for p in per)


def test_weather_is_varied(small, full_truth):
    per = json.loads((small.truth_dir / "truth.json").read_text())["atmosphere"]["per_date"]
    cloud = np.array([p["cloud_pct"] for p in per])
    assert (cloud < 5).any() and (cloud > 90).any()
    assert 0.15 < (cloud > 30).mean() < 0.6
    assert any(p["snow_pct"] > 10 for p in per if p["date"][5:7] in ("12", "01", "02"))
    assert all(p["snow_pct"] == 0 for p in per if p["date"][5:7] in ("06", "07", "08"))


# ----------------------------------------------------------------------------- errors, replace
def test_bad_arguments_and_non_empty_dirs(tmp_path):
    with pytest.raises(InputError, match="size_px"):
        generate_scene(tmp_path / "x", size_px=50)
    with pytest.raises(InputError, match="before it starts"):
        generate_scene(tmp_path / "x", start="2022-01-01", end="2021-01-01")
    with pytest.raises(InputError, match="cadence_days"):
        generate_scene(tmp_path / "x", cadence_days=0)
    with pytest.raises(InputError, match="seed"):
        generate_scene(tmp_path / "x", seed=-1)
    with pytest.raises(InputError, match="YYYY-MM-DD"):
        generate_scene(tmp_path / "x", start="2021-13-01")
    busy = tmp_path / "busy"
    busy.mkdir()
    (busy / "notes.txt").write_text("mine")
    with pytest.raises(InputError, match="not empty"):
        generate_scene(busy, size_px=64, start="2022-06-01", end="2022-06-02")
    assert (busy / "notes.txt").read_text() == "mine"
    assert not (tmp_path / "x").exists()


def test_regenerating_replaces_an_earlier_scene(tmp_path, capsys):
    out = tmp_path / "demo"
    generate_scene(out, size_px=64, start="2022-06-01", end="2022-06-30", cadence_days=10)
    first = _hashes(out)
    s = generate_scene(out, size_px=64, start="2022-06-01", end="2022-06-11", cadence_days=10, progress=True)
    assert s.n_items == 2
    assert len(_items(s)) == 2
    assert _hashes(out) != first
    assert sorted(p.name for p in tmp_path.iterdir()) == ["demo"]


@pytest.mark.parametrize("seed", [2, 99])
def test_designed_cases_hold_for_other_seeds(tmp_path, seed):
    """The seed changes shapes and weather, never the plan the analysis is tested on."""
    scene = generate_scene(tmp_path / "s", seed=seed, start="2022-07-01", end="2022-07-02")
    truth = json.loads((scene.truth_dir / "truth.json").read_text())
    assert {r["kind"] for r in truth["receptors_downstream"]} == {"village", "water_intake"}
    assert {r["kind"] for r in truth["receptors_not_downstream"]} == {"well", "spring"}
    assert 30 <= truth["new_disturbance_area_ha"] <= 90
    cross = truth["licence_crossing"]
    assert cross["expired_licence_intrusion"]["area_ha"] > 1
    assert cross["dump_outside_all_licences"]["area_ha"] > 1
    assert 1.0 <= truth["unlicensed_pit"]["area_ha"] <= 3.0
