"""The evidence a run writes: manifest (inputs, parameters, software, outputs) and per-alert evidence."""

from __future__ import annotations

import csv
import hashlib
import json
from pathlib import Path

import numpy as np
import rasterio
from PIL import Image

from minewatch.analysis.disturbance import DisturbanceParams
from minewatch.evidence.manifest import check_params_roundtrip, params_from_dict, stac_documents


def sha(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def load(run: Path) -> dict:
    return json.loads((run / "evidence" / "manifest.json").read_text(encoding="utf-8"))


def test_manifest_names_every_input_with_its_hash(signed_run):
    m = load(signed_run.run)
    scene = signed_run.scene
    by_role: dict[str, list[dict]] = {}
    for e in m["inputs"]:
        by_role.setdefault(e["role"], []).append(e)
    # STAC documents: the catalog, the collection and every item, hashed
    docs = stac_documents(scene.catalog)
    assert len(by_role["catalog"]) + len(by_role["stac"]) == len(docs) == scene.n_items + 2
    for e in by_role["catalog"] + by_role["stac"]:
        assert e["sha256"] == sha(e["abs_path"])
    # every band actually read: one entry per item and band, with the file's hash
    assets = by_role["asset"]
    assert len(assets) == scene.n_items * 6
    assert {a["band"] for a in assets} == {"blue", "green", "red", "nir", "swir16", "swir22"}
    one = assets[0]
    assert one["sha256"] == sha(one["abs_path"]) and one["bytes"] == Path(one["abs_path"]).stat().st_size
    # licences, receptors, DEM
    for role, path in (("licences", scene.licences), ("receptors", scene.receptors)):
        (entry,) = by_role[role]
        assert entry["sha256"] == sha(path)
        assert (signed_run.run / entry["path"]).resolve() == Path(path).resolve()  # relative to the run
        assert entry["base_path"] in {"licences.geojson", "receptors.geojson"}
    assert "dem" not in by_role
    assert Path(m["inputs_base"]).resolve() == scene.root.resolve()


def test_manifest_records_parameters_software_and_outputs(signed_run):
    import numpy

    m = load(signed_run.run)
    r = m["request"]
    assert (r["start"], r["end"]) == ("2020-01-01", "2021-12-31")
    assert r["disturbance"] == json.loads(json.dumps(DisturbanceParams().as_dict()))
    assert params_from_dict(r["disturbance"]) == DisturbanceParams()
    assert check_params_roundtrip(DisturbanceParams())
    env = m["environment"]
    assert env["libraries"]["numpy"] == numpy.__version__
    assert env["libraries"]["gdal"] == rasterio.__gdal_version__
    assert env["change_engine"]["resolved"] in ("cpu", "gpu")
    assert env["minewatch"]["commit"]  # a commit id or "unknown", never missing
    # every output with its hash; the standard outputs and the evidence files
    outs = {o["path"]: o for o in m["outputs"]}
    for name in ("disturbance_date.tif", "confidence.tif", "alerts.geojson", "summary.json", "report.html"):
        assert outs[name]["sha256"] == sha(signed_run.run / name)
    assert outs["disturbance_date.tif"]["check"] == "exact"
    assert outs["confidence.tif"]["check"] == "tolerance"
    assert "evidence/alerts/A0001/sheet.html" in outs
    assert m["tolerances"]["confidence"] > 0
    # the digest file holds the manifest's own hash, in sha256sum format
    raw = (signed_run.run / "evidence" / "manifest.json").read_bytes()
    digest = (signed_run.run / "evidence" / "manifest.json.sha256").read_text()
    assert digest == f"{hashlib.sha256(raw).hexdigest()}  manifest.json\n"


def test_alert_evidence_chips_series_and_licence_state(signed_run):
    run = signed_run.run
    summary = json.loads((run / "summary.json").read_text())
    alerts = {a["alert_id"]: a for a in summary["alerts"]}
    assert len(alerts) == 2, "the tiny scene has two pits"
    inside = next(a for a in alerts.values() if a["licence_id"] == "L-1")
    outside = next(a for a in alerts.values() if a["licence_id"] is None)
    for a in alerts.values():
        folder = run / "evidence" / "alerts" / a["alert_id"]
        for when in ("before", "after"):
            for kind in ("truecolor", "swir"):
                png = Image.open(folder / f"{when}_{kind}.png")
                assert png.size[0] >= 200 and png.size[1] >= 200
                with rasterio.open(folder / f"{when}_{kind}.tif") as src:
                    assert src.count == 3 and src.crs.to_epsg() == 32644
                    data = src.read()
                    assert np.isfinite(data).mean() > 0.9
                    assert 0 < np.nanmedian(data) < 1  # reflectance
        rows = list(csv.DictReader((folder / "timeseries.csv").open()))
        assert len(rows) == signed_run.scene.n_items
        ndvi_before = [float(r["ndvi"]) for r in rows if r["ndvi"] and r["date"] < a["onset_date"]]
        ndvi_after = [float(r["ndvi"]) for r in rows if r["ndvi"] and r["date"] > a["onset_date"]]
        # vegetation before the detected break, bare ground after it
        assert np.median(ndvi_before) > 0.6 and np.median(ndvi_after) < 0.15
        with rasterio.open(folder / "before_swir.tif") as b, rasterio.open(folder / "after_swir.tif") as c:
            assert np.nanmean(c.read(1)) > np.nanmean(b.read(1))  # SWIR2 rises where the pit opened
        assert Image.open(folder / "timeseries.png").size[0] > 400
        sheet = (folder / "sheet.html").read_text()
        assert a["alert_id"] in sheet and a["onset_date"] in sheet and "data:image/png;base64," in sheet
    rec_in = json.loads((run / "evidence" / "alerts" / inside["alert_id"] / "alert.json").read_text())
    assert rec_in["licences_at_onset"][0]["licence_id"] == "L-1"
    assert rec_in["licences_at_onset"][0]["authorised_on_onset"] is True
    rec_out = json.loads((run / "evidence" / "alerts" / outside["alert_id"] / "alert.json").read_text())
    assert rec_out["licence_status_at_onset"] == "no_licence" and rec_out["licences_at_onset"] == []
    sheet_out = (run / "evidence" / "alerts" / outside["alert_id"] / "sheet.html").read_text()
    assert "Outside every licence boundary supplied" in sheet_out
    assert rec_in["receptors_downstream"] == [] and "Not assessed" in sheet_out  # no DEM in this run


def test_dem_is_hashed_and_receptors_downstream_reach_the_alert_evidence(signed_run, tmp_path):
    from scene_builder import analyze_args

    from minewatch.cli.main import main

    run = tmp_path / "with-dem"
    assert main(analyze_args(signed_run.scene, run, "--lang", "es", dem=True)) == 0
    m = load(run)
    (dem,) = [e for e in m["inputs"] if e["role"] == "dem"]
    assert dem["sha256"] == sha(signed_run.scene.dem)
    summary = json.loads((run / "summary.json").read_text())
    assert summary["receptors_at_risk"], "the village east of pit B lies downstream on the DEM"
    for a in summary["alerts"]:
        rec = json.loads((run / "evidence" / "alerts" / a["alert_id"] / "alert.json").read_text())
        expected = [r["receptor_id"] for r in summary["receptors_at_risk"] if a["alert_id"] in r["alert_ids"]]
        assert [r["receptor_id"] for r in rec["receptors_downstream"]] == expected
    village = next(r for r in summary["receptors_at_risk"] if r["receptor_id"] == "R-1")
    sheet = (run / "evidence" / "alerts" / village["alert_ids"][0] / "sheet.html").read_text()
    assert "Eastville (población)" in sheet  # Spanish sheet, receptor kind translated
    assert "Agua: receptores aguas abajo" in (run / "report.html").read_text()


def test_report_links_alert_sheets_and_shows_provenance(signed_run):
    html = (signed_run.run / "report.html").read_text()
    assert 'href="evidence/alerts/A0001/sheet.html"' in html
    assert sha(signed_run.scene.licences) in html  # provenance block: the licences file's hash
    assert "Executive summary" in html and "Provenance" in html and "Licence compliance" in html
