"""``minewatch samples``: errors name row and column and leave nothing behind; linking points."""

from __future__ import annotations

import json

import pandas as pd

from minewatch.cli.main import main

CSV = """station_id,date,lat,lon,parameter,value,unit
UP,2024-01-05,0.0005,0.10,As,3,ug/L
DOWN,2024-01-05,-0.0005,0.50,As,45,ug/L
DOWN,2024-01-05,-0.0005,0.50,Cd,<1,ug/L
"""


def _geojson(path, geom, props=None):
    path.write_text(json.dumps({"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": props or {}, "geometry": geom}]}))
    return path


def test_import_links_points_and_flags(tmp_path, capsys):
    f = tmp_path / "lab.csv"
    f.write_text(CSV)
    river = _geojson(tmp_path / "river.geojson",
                     {"type": "LineString", "coordinates": [[0, 0], [1, 0]]})
    mine = _geojson(tmp_path / "mine.geojson", {"type": "Point", "coordinates": [0.2, 0.01]})
    village = _geojson(tmp_path / "villages.geojson",
                       {"type": "Point", "coordinates": [0.505, -0.001]}, {"name": "Kambove"})
    out = tmp_path / "out"
    rc = main(["samples", "import", str(f), "--out", str(out), "--river", str(river),
               "--source", str(mine), "--receptors", str(village)])
    assert rc == 0, capsys.readouterr().err
    st = pd.read_csv(out / "stations.csv", keep_default_na=False).set_index("station_id")
    assert st.loc["UP", "river_chainage_km"] < 0 < st.loc["DOWN", "river_chainage_km"]
    assert abs(st.loc["DOWN", "river_chainage_km"] - 0.3 * 111.3195) < 0.1
    assert st.loc["DOWN", "receptor_id"] == "Kambove" and st.loc["UP", "receptor_id"] == ""
    sm = pd.read_csv(out / "samples.csv", keep_default_na=False)
    assert set(sm.loc[sm.station_id == "DOWN", "receptor_id"]) == {"Kambove"}
    assert set(sm.reach_id) == {"river"}
    ex = pd.read_csv(out / "exceedances.csv", keep_default_na=False)
    assert set(ex.loc[ex.exceeds, "station_id"]) == {"DOWN"}
    assert "inconclusive" not in set(ex.status)  # <1 ug/L Cd is below 3 ug/L
    assert "DOWN" in (out / "summary.html").read_text()


def test_bad_file_exits_2_naming_row_and_column_and_writes_nothing(tmp_path, capsys):
    f = tmp_path / "lab.csv"
    f.write_text(CSV.replace("Cd,<1,ug/L", "Cd,<1,mg/dl").replace("0.10,As,3", "0.10,As,three"))
    out = tmp_path / "out"
    rc = main(["samples", "import", str(f), "--out", str(out)])
    assert rc == 2
    err = capsys.readouterr().err
    assert "line 2, column F ('value')" in err and "'three'" in err
    assert "line 4, column G ('unit')" in err and "mg/dl" in err
    assert not out.exists()


def test_standards_command_verifies_and_lists(capsys):
    assert main(["samples", "standards", "--standard", "WHO-GDWQ-2022"]) == 0
    text = capsys.readouterr().out
    assert "values match their recorded sources" in text and "0.01" in text


IMPOSSIBLE = """station_id,date,lat,lon,parameter,value,unit
UP,2024-01-05,0.0005,0.10,As,-3,ug/L
UP,2024-01-05,0.0005,0.10,pH,15.2,pH
UP,2024-01-05,0.0005,0.10,O2sat,140,%
DOWN,2024-01-05,-0.0005,0.50,Cd,<0,ug/L
DOWN,2024-01-05,-0.0005,0.50,Pb,2000,g/L
DOWN,2024-01-05,-0.0005,0.50,turbidity,-1,NTU
DOWN,2024-01-05,-0.0005,0.50,As,4,ug/L
"""


def test_physically_impossible_values_are_refused_naming_row_and_column(tmp_path, capsys):
    f = tmp_path / "lab.csv"
    f.write_text(IMPOSSIBLE)
    out = tmp_path / "out"
    rc = main(["samples", "import", str(f), "--out", str(out)])
    err = " ".join(capsys.readouterr().err.split())
    assert rc == 2 and "Traceback" not in err
    assert "6 problem(s), nothing imported" in err
    for line, what in ((2, "As -3 ug/L is physically impossible: a concentration is 0 to"),
                       (3, "pH 15.2 is physically impossible: pH is 0 to 14"),
                       (4, "O2sat 140 % is physically impossible: a percentage is 0 to 100"),
                       (5, "Cd <0: a detection limit must be above 0"),
                       (6, "Pb 2000 g/L is physically impossible"),
                       (7, "turbidity -1 NTU is physically impossible")):
        assert f"line {line}, column F ('value'): {what}" in err, (line, err)
    assert "line 8" not in err
    assert not out.exists()


def test_parameters_without_a_limit_are_listed_as_not_assessed(tmp_path, capsys):
    f = tmp_path / "lab.csv"
    f.write_text(CSV + "UP,2024-01-05,0.0005,0.10,Zn,40,ug/L\nDOWN,2024-01-05,-0.0005,0.50,Zn,900,ug/L\n"
                 "DOWN,2024-01-05,-0.0005,0.50,Fe,300,ug/L\n")
    out = tmp_path / "out"
    assert main(["samples", "import", str(f), "--out", str(out)]) == 0
    printed = " ".join(capsys.readouterr().out.split())
    # WHO sets no guideline for zinc or iron: said, not passed off as "no exceedance"
    assert "not assessed, WHO-GDWQ-2022 sets no limit for: Fe (1 result), Zn (2 results)" in printed
    summ = json.loads((out / "summary.json").read_text())
    assert summ["parameters_without_limit"] == [
        {"parameter": "Fe", "n_results": 1, "n_stations": 1, "units": "ug/L"},
        {"parameter": "Zn", "n_results": 2, "n_stations": 2, "units": "ug/L"}]
    assert set(pd.read_csv(out / "exceedances.csv").parameter) == {"As", "Cd"}
    assert "Not assessed" in (out / "summary.html").read_text()
    # the EU directive has an iron indicator value: then only zinc is left unassessed
    out_eu = tmp_path / "out_eu"
    assert main(["samples", "import", str(f), "--out", str(out_eu), "--standard", "EU-2020/2184"]) == 0
    summ = json.loads((out_eu / "summary.json").read_text())
    assert [p["parameter"] for p in summ["parameters_without_limit"]] == ["Zn"]
