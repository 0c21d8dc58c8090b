"""``minewatch analyze`` water section: field samples and the river signal, through the CLI."""

from __future__ import annotations

import json

import pytest

from minewatch.cli.main import main

#: Long-format lab file: station DOWN exceeds the WHO arsenic guideline (10 ug/L) on 2021-03-02.
LAB = """station_id,station_name,date,lat,lon,parameter,value,unit
UP,Upstream bridge,2021-03-02,49.953,82.642,As,3,ug/L
UP,Upstream bridge,2021-03-02,49.953,82.642,Pb,2,ug/L
DOWN,Village intake,2021-03-02,49.946,82.641,As,25,ug/L
DOWN,Village intake,2021-03-02,49.946,82.641,Pb,4,ug/L
"""


@pytest.fixture(scope="module")
def scene(tmp_path_factory):
    from minewatch.demo.scene import generate_scene

    return generate_scene(tmp_path_factory.mktemp("water") / "scene", seed=3, size_px=120, cadence_days=30,
                          start="2018-01-01")


def _args(scene, out, *extra):
    return ["analyze", str(scene.catalog), "--licences", str(scene.licences), "--receptors",
            str(scene.receptors), "--dem", str(scene.dem), "--start", scene.monitor_start,
            "--end", scene.monitor_end, "--out", str(out), *extra]


def test_analyze_with_samples_and_dem_writes_water_section(scene, tmp_path, capsys):
    lab = tmp_path / "lab.csv"
    lab.write_text(LAB)
    out = tmp_path / "run"
    rc = main(_args(scene, out, "--samples", str(lab)))
    assert rc == 0, capsys.readouterr().err
    printed = capsys.readouterr().out
    assert "river signal: assessed" in printed and "exceedances at DOWN" in printed
    summary = json.loads((out / "summary.json").read_text())
    water = summary["water"]

    # river signal: the demo river has water upstream and downstream of the mine
    rs = water["river_signal"]
    assert rs["status"] == "assessed", rs
    assert rs["n_points_upstream"] > 0 and rs["n_points_downstream"] > 0
    monitored = {s["date"] for s in summary["scenes_used"] if s["role"] == "monitored"}
    assert rs["per_date"] and {d["date"] for d in rs["per_date"]} <= monitored
    both = [d for d in rs["per_date"] if d["ndti"]["n_upstream"] and d["ndti"]["n_downstream"]]
    assert both, "some date sees water on both sides"
    for d in both:
        for v in ("ndti", "turbidity_dogliotti", "iron_ratio"):
            assert isinstance(d[v]["median_upstream"], float) and isinstance(d[v]["median_downstream"], float)
        assert -1 <= d["ndti"]["median_upstream"] <= 1 and -1 <= d["ndti"]["median_downstream"] <= 1

    html = (out / "report.html").read_text()
    # the chart is embedded (a PNG as base64) in the water section
    section = html.split("Water: river signal", 1)[1]
    assert "data:image/png;base64,iVBORw0KGgo" in section.split("<h2", 1)[0]

    # samples: the arsenic exceedance is listed and highlighted
    s = water["samples"]
    assert s["standard"] == "WHO-GDWQ-2022" and s["nondetect_rule"] == "half"
    assert s["stations_with_exceedance"] == ["DOWN"]
    assert [(e["station_id"], e["parameter"], e["date"]) for e in s["exceedances"]] == [
        ("DOWN", "As", "2021-03-02")]
    rows = {r["station_id"]: r for r in s["per_station_date"]}
    assert rows["DOWN"]["n_exceeds"] == 1 and rows["UP"]["n_exceeds"] == 0
    samples_html = html.split("Field samples", 1)[1]
    down_row = samples_html.split("<td>DOWN</td>", 1)[0].rsplit("<tr", 1)[1]
    up_row = samples_html.split("<td>UP</td>", 1)[0].rsplit("<tr", 1)[1]
    assert "exceeds" in down_row and "exceeds" not in up_row


def test_analyze_without_dem_says_river_not_assessed(scene, tmp_path, capsys):
    out = tmp_path / "run"
    args = [a for a in _args(scene, out) if a not in ("--dem", str(scene.dem))]
    assert main(args) == 0, capsys.readouterr().err
    water = json.loads((out / "summary.json").read_text())["water"]
    assert water["samples"] is None
    assert water["river_signal"]["status"] == "not assessed" and "DEM" in water["river_signal"]["reason"]
    assert "Not assessed:" in (out / "report.html").read_text()


def test_bad_samples_file_exits_2_before_the_analysis(scene, tmp_path, capsys):
    lab = tmp_path / "lab.csv"
    lab.write_text(LAB.replace("DOWN,Village intake,2021-03-02,49.946,82.641,As,25",
                               "DOWN,Village intake,2021-03-02,49.946,82.641,As,lots"))
    out = tmp_path / "run"
    rc = main(_args(scene, out, "--samples", str(lab)))
    assert rc == 2
    err = capsys.readouterr().err
    assert "error:" in err and "'lots'" in err and "value" in err
    assert not out.exists()


def test_verify_reruns_a_run_with_samples(scene, tmp_path, capsys):
    """The lab file is an evidence input: `verify` re-runs with it and every output matches."""
    lab = tmp_path / "lab.csv"
    lab.write_text(LAB)
    out = tmp_path / "run"
    assert main(_args(scene, out, "--samples", str(lab))) == 0
    manifest = json.loads((out / "evidence" / "manifest.json").read_text())
    assert "samples" in {e["role"] for e in manifest["inputs"]}
    capsys.readouterr()
    assert main(["verify", str(out)]) == 0, capsys.readouterr()


def test_analyze_refuses_impossible_sample_values_before_any_work(scene, tmp_path, capsys):
    lab = tmp_path / "lab.csv"
    lab.write_text(LAB.replace("DOWN,Village intake,2021-03-02,49.946,82.641,Pb,4,ug/L",
                               "DOWN,Village intake,2021-03-02,49.946,82.641,Pb,-4,ug/L"))
    out = tmp_path / "run"
    rc = main(_args(scene, out, "--samples", str(lab)))
    err = " ".join(capsys.readouterr().err.split())
    assert rc == 2 and err.startswith("error:") and "Traceback" not in err
    assert "line 5, column G ('value'): Pb -4 ug/L is physically impossible" in err
    assert not out.exists()
