"""Importing lab results: layouts, units, non-detects, and clear all-or-nothing errors."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from minewatch.analysis.water.samples import SampleMapping, read_samples, sampling_points
from minewatch.analysis.water.units import conversion_factor, normalise_unit
from minewatch.analysis.water.values import ValueParseError, parse_value
from minewatch.errors import InputError, ValidationError


@pytest.mark.parametrize("cell,value,qual,lod", [
    ("0.005", 0.005, "", math.nan),
    ("0,005", 0.005, "", math.nan),
    ("<0.005", math.nan, "<", 0.005),
    ("< 0,5", math.nan, "<", 0.5),
    ("<LOD 0.2", math.nan, "<", 0.2),
    ("ND", math.nan, "<", math.nan),
    ("n.d.", math.nan, "<", math.nan),
    ("< LOD", math.nan, "<", math.nan),
    (">1000", 1000.0, ">", math.nan),
    ("1,234.5", 1234.5, "", math.nan),
    ("2e-3", 0.002, "", math.nan),
    (12, 12.0, "", math.nan),
])
def test_parse_value(cell, value, qual, lod):
    pv = parse_value(cell)
    assert pv.qualifier == qual
    assert (math.isnan(pv.value) and math.isnan(value)) or pv.value == pytest.approx(value)
    assert (math.isnan(pv.detection_limit) and math.isnan(lod)) or pv.detection_limit == lod


def test_parse_value_missing_and_bad():
    for cell in ("", "  ", "-", "NA", "s/d", None, float("nan")):
        assert parse_value(cell) is None
    for cell in ("abc", "1.2.3", "<>5", "5 mg"):
        with pytest.raises(ValueParseError):
            parse_value(cell)
    assert parse_value("1.234,5", decimal=",").value == pytest.approx(1234.5)


def test_units():
    assert normalise_unit("µg/L") == "ug/L"  # micro sign
    assert normalise_unit("μg/l") == "ug/L"  # greek mu
    assert normalise_unit("ppb") == "ug/L"
    assert normalise_unit("ppm") == "mg/L"
    assert normalise_unit("ug/l As") == "ug/L"
    assert normalise_unit("mg/l CaCO3") == "mg/L"
    assert normalise_unit("u pH ") == "pH"
    assert normalise_unit("furlongs") is None
    assert conversion_factor("ug/L", "mg/L") == pytest.approx(1e-3)
    assert conversion_factor("mg/L", "ug/L") == pytest.approx(1e3)
    assert conversion_factor("pH", "mg/L") is None


LONG_CSV = """station_id,date,lat,lon,parameter,value,unit
S1,2024-01-05,-19.5,-65.7,Arsenic,12,ug/L
S1,2024-01-05,-19.5,-65.7,Pb,<0.005,mg/L
S1,2024-01-05,-19.5,-65.7,Cd,2,ppb
S2,2024-01-06,-19.6,-65.6,As,ND,µg/L
S2,2024-01-06,-19.6,-65.6,pH,7.2,pH
"""


def test_long_table(tmp_path):
    p = tmp_path / "long.csv"
    p.write_text(LONG_CSV, encoding="utf-8")
    df = read_samples(p)
    assert len(df) == 5
    s1 = df[df.station_id == "S1"].set_index("parameter")
    assert s1.loc["As", "value"] == 12 and s1.loc["As", "unit"] == "ug/L"
    assert s1.loc["Pb", "qualifier"] == "<" and s1.loc["Pb", "detection_limit"] == 0.005
    assert s1.loc["Cd", "unit"] == "ug/L"  # ppb
    s2 = df[df.station_id == "S2"].set_index("parameter")
    assert s2.loc["As", "qualifier"] == "<" and math.isnan(s2.loc["As", "detection_limit"])
    assert set(df.sample_id) == {"S1@2024-01-05", "S2@2024-01-06"}
    pts = sampling_points(df)
    assert list(pts.station_id) == ["S1", "S2"] and list(pts.n_samples) == [1, 1]


def test_wide_table_semicolon_decimal_comma(tmp_path):
    p = tmp_path / "wide.csv"
    p.write_text("station_id;date;lat;lon;As (ug/L);Pb [mg/l];pH\n"
                 "A;05/01/2024;-19,5;-65,7;12,5;<0,01;7,1\n"
                 "B;06/01/2024;-19,6;-65,6;;0,02;6,2\n", encoding="utf-8")
    df = read_samples(p, SampleMapping(decimal=","))
    a = df[df.station_id == "A"].set_index("parameter")
    assert a.loc["As", "value"] == 12.5 and a.loc["As", "unit"] == "ug/L"
    assert a.loc["Pb", "detection_limit"] == 0.01 and a.loc["Pb", "unit"] == "mg/L"
    assert a.loc["pH", "unit"] == "pH"
    assert df.loc[df.station_id == "A", "date"].iloc[0] == "2024-01-05"  # day first
    assert "As" not in set(df.loc[df.station_id == "B", "parameter"])  # empty = not measured


def test_excel_with_mapping(tmp_path):
    p = tmp_path / "lab.xlsx"
    pd.DataFrame({
        "Punto": ["P1", "P2"], "Fecha muestreo": pd.to_datetime(["2024-03-01", "2024-03-02"]),
        "Latitud": [-20.1, -20.2], "Longitud": [-65.1, -65.2],
        "Arsénico": ["<1", 30], "Plomo": [0.5, "n.d."],
    }).to_excel(p, index=False)
    m = tmp_path / "map.yaml"
    m.write_text("""layout: wide
fields: {station_id: Punto, date: Fecha muestreo, lat: Latitud, lon: Longitud}
parameters:
  Arsénico: {parameter: As, unit: ppb, fraction: total}
  Plomo: {parameter: Pb, unit: "µg/L", fraction: total}
""", encoding="utf-8")
    df = read_samples(p, m)
    assert len(df) == 4
    p1 = df[df.station_id == "P1"].set_index("parameter")
    assert p1.loc["As", "qualifier"] == "<" and p1.loc["As", "detection_limit"] == 1
    assert p1.loc["As", "unit"] == "ug/L" and p1.loc["As", "fraction"] == "total"
    assert df.date.tolist()[0] == "2024-03-01"


def test_utm_coordinates_with_crs(tmp_path):
    p = tmp_path / "utm.csv"
    p.write_text("id,date,X,Y,As (mg/l)\n1,2005-10-09,372486.5,7660543.8,0.007\n")
    m = SampleMapping.from_dict({"layout": "wide", "crs": "EPSG:32720",
                                 "fields": {"station_id": "id", "date": "date", "x": "X",
                                            "y": "Y"}})
    df = read_samples(p, m)
    assert -21.5 < df.lat[0] < -20.8 and -64.5 < df.lon[0] < -64.0
    m2 = SampleMapping.from_dict({"layout": "wide", "fields": {"station_id": "id",
                                  "date": "date", "x": "X", "y": "Y"}})
    with pytest.raises(InputError, match="crs"):
        read_samples(p, m2)


def _err(tmp_path, text, mapping=None):
    p = tmp_path / "bad.csv"
    p.write_text(text, encoding="utf-8")
    with pytest.raises(ValidationError) as ei:
        read_samples(p, mapping)
    return str(ei.value)


def test_unknown_unit_names_row_and_column(tmp_path):
    msg = _err(tmp_path, LONG_CSV.replace("Cd,2,ppb", "Cd,2,grains/gal"))
    assert "line 4" in msg and "column G ('unit')" in msg and "grains/gal" in msg
    assert "nothing imported" in msg


def test_unparseable_value_names_row_and_column(tmp_path):
    msg = _err(tmp_path, LONG_CSV.replace("Arsenic,12,", "Arsenic,12..5,"))
    assert "line 2" in msg and "column F ('value')" in msg and "12..5" in msg


def test_missing_coordinates_name_row_and_column(tmp_path):
    msg = _err(tmp_path, LONG_CSV.replace("S2,2024-01-06,-19.6,-65.6,pH", "S2,2024-01-06,,-65.6,pH"))
    assert "line 6" in msg and "column C ('lat')" in msg and "coordinate" in msg


def test_wide_header_without_unit(tmp_path):
    msg = _err(tmp_path, "station_id,date,lat,lon,As\nA,2024-01-01,1,2,3\n")
    assert "line 1" in msg and "'As'" in msg and "unit" in msg


def test_out_of_range_and_bad_date_all_listed(tmp_path):
    msg = _err(tmp_path, "station_id,date,lat,lon,As (ug/L)\n"
                         "A,2024-13-45,1,2,3\nB,2024-01-01,95,2,3\n")
    assert "line 2" in msg and "date" in msg and "line 3" in msg and "outside -90..90" in msg
    assert "2 problem(s)" in msg


def test_duplicate_result_is_an_error(tmp_path):
    msg = _err(tmp_path, LONG_CSV + "S1,2024-01-05,-19.5,-65.7,As,13,ug/L\n")
    assert "duplicate" in msg and "line 7" in msg


def test_bad_mapping_is_rejected(tmp_path):
    with pytest.raises(InputError, match="unknown key"):
        SampleMapping.from_dict({"layuot": "wide"})
    with pytest.raises(InputError, match="unknown unit"):
        SampleMapping.from_dict({"parameters": {"X": {"parameter": "As", "unit": "bogus"}}})
    p = tmp_path / "x.csv"
    p.write_text(LONG_CSV)
    with pytest.raises(InputError, match="no column 'Estacion'"):
        read_samples(p, SampleMapping.from_dict({"layout": "long",
                                                 "fields": {"station_id": "Estacion"}}))


def test_json_mapping_file(tmp_path):
    import json

    from minewatch.analysis.water.samples import load_mapping

    m = tmp_path / "m.json"
    m.write_text(json.dumps({"layout": "wide", "fields": {"station_id": "Punto", "date": "Dia",
                                                         "lat": "Y", "lon": "X"},
                             "parameters": {"Arsenico": {"parameter": "As", "unit": "ppb"}}}))
    p = tmp_path / "d.csv"
    p.write_text("Punto,Dia,Y,X,Arsenico,Otro\nP,2024-05-01,-19,-65,7,99\n")
    df = read_samples(p, load_mapping(m))
    assert list(df.parameter) == ["As"] and df.unit[0] == "ug/L"  # unmapped 'Otro' ignored
