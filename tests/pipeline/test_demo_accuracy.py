"""`minewatch demo` end to end, scored against the scene's own truth (the issue's floors)."""

import numpy as np
import rasterio


def test_pixel_f1_and_onset_error(demo_run):
    acc = demo_run["accuracy"]
    assert acc["true_pixels"] > 1000
    assert acc["f1"] >= 0.90, acc  # pixels at level >= probable
    assert acc["median_onset_error_days"] <= 30, acc


def test_outside_licence_area_within_15_percent(demo_run):
    acc = demo_run["accuracy"]
    assert acc["outside_area_true_ha"] > 0
    assert acc["outside_area_rel_error"] <= 0.15, acc


def test_receptors_downstream(demo_run):
    truth = demo_run["truth"]
    at_risk = {r["receptor_id"]: r for r in demo_run["summary"]["receptors_at_risk"]}
    kinds = {r["kind"] for r in at_risk.values()}
    assert {"village", "water_intake"} <= kinds
    for r in truth["receptors_downstream"]:
        assert r["receptor_id"] in at_risk
        assert abs(at_risk[r["receptor_id"]]["flow_distance_m"] - r["flow_distance_m"]) <= 100
    for r in truth["receptors_not_downstream"]:
        assert r["receptor_id"] not in at_risk
    wells = [r for r in truth["receptors_not_downstream"] if r["kind"] == "well"]
    assert wells, "the demo has a well that is not downstream"


def test_outputs_follow_the_batch_contract(demo_run):
    result = demo_run["result"]
    s = demo_run["summary"]
    with rasterio.open(result / "disturbance_date.tif") as src:
        onset = src.read(1)
        assert src.dtypes[0] == "int32"
        assert src.res == (10.0, 10.0)
    with rasterio.open(result / "alert_level.tif") as src:
        level = src.read(1)
        assert src.dtypes[0] == "uint8"
    assert level.max() <= 3 and ((level > 0) <= (onset > 0)).all()  # every flagged pixel has an onset
    for key in ("total_area_ha", "outside_licence_area_ha", "first_date", "area_by_level_ha", "retracted_area_ha"):
        assert key in s["disturbance"]
    px_ha = s["grid"]["pixel_area_m2"] / 1e4
    assert abs(s["disturbance"]["total_area_ha"] - (level >= 2).sum() * px_ha) < 1e-6  # totals at >= probable
    by_level = s["disturbance"]["area_by_level_ha"]
    assert abs(by_level["possible"] - (level == 1).sum() * px_ha) < 1e-6
    standing = sum(a["area_by_level_ha"]["probable"] + a["area_by_level_ha"]["confirmed"] for a in s["alerts"])
    assert abs(standing - s["disturbance"]["total_area_ha"]) < 0.01
    assert abs(sum(a["area_ha"] for a in s["alerts"]) - (onset > 0).sum() * px_ha) < 0.01
    for a in s["alerts"]:
        assert {"alert_id", "onset_date", "area_ha", "licence_id", "geometry", "level", "first_seen",
                "confirmed_on", "retracted"} <= a.keys()
        assert a["retracted"] == (a["level"] == 0)
        assert a["confirmed_on"] is None or a["level"] == 3
        assert a["first_seen"] is not None
        assert a["geometry"]["type"] in ("Polygon", "MultiPolygon")
        lon, lat = a["geometry"]["coordinates"][0][0][:2] if a["geometry"]["type"] == "Polygon" else \
            a["geometry"]["coordinates"][0][0][0][:2]
        assert -180 <= lon <= 180 and -90 <= lat <= 90
    for lic in s["licences"]:
        assert {"licence_id", "status", "disturbed_area_ha"} <= lic.keys()
    for r in s["receptors_at_risk"]:
        assert {"receptor_id", "kind", "flow_distance_m", "alert_ids"} <= r.keys()
    assert s["scenes_used"] and s["parameters"] and s["minewatch_version"]
    html = (result / "report.html").read_text()
    assert html.count("data:image/png;base64,") >= 4
    assert "src=\"http" not in html  # self-contained


def test_unlicensed_pit_is_an_outside_alert(demo_run):
    truth = demo_run["truth"]["unlicensed_pit"]
    onset = np.datetime64(truth["onset"])
    hits = [a for a in demo_run["summary"]["alerts"]
            if a["licence_id"] is None and abs((np.datetime64(a["onset_date"]) - onset).astype(int)) <= 45
            and a["area_ha"] >= 0.5 * truth["area_ha"] and a["level"] >= 2]
    assert hits, "the small unlicensed pit must be reported outside every licence near its onset date"
