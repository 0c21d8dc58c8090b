"""Real data: Pilcomayo basin lab results (Pilcomayo.net 2024, Fundacion ITA 2005) through shipped mappings."""

from __future__ import annotations

import csv
import datetime as dt
import json

import pytest

from minewatch.analysis.water.exceedance import compare_with_standard
from minewatch.analysis.water.samples import read_samples, shipped_mapping_path
from minewatch.analysis.water.standards import load_standards
from minewatch.cli.main import main

pytestmark = pytest.mark.shared
AGUA = "calidad_agua_20250711060422.csv"


def _raw_rows(path):
    with open(path, encoding="utf-8-sig", newline="") as fh:
        rows = list(csv.reader(fh))
    return {r[0].strip(): r for r in reversed(rows) if r and r[0].strip()}


def _expected_status(path, label, limit_ug_l):
    """Independently of minewatch: (station, ISO date) -> exceeds / inconclusive / ok."""
    rows = _raw_rows(path)
    codes, dates, vals = rows["Código"], rows["Fecha"], rows[label]
    out = {}
    for j in range(2, len(codes)):
        cell = vals[j].strip()
        if not cell:
            continue
        date = dt.datetime.strptime(dates[j].strip(), "%d/%m/%Y").date().isoformat()
        if cell.startswith("<"):
            status = "inconclusive" if float(cell[1:]) > limit_ug_l else "ok-non-detect"
        else:
            status = "exceeds" if float(cell) > limit_ug_l else "ok"
        out[(codes[j].strip(), date)] = status
    return out


@pytest.fixture
def agua(shared_data):
    path = shared_data("pilcomayo_water_quality", AGUA)
    return path, read_samples(path, shipped_mapping_path("pilcomayo_calidad_agua"))


@pytest.mark.parametrize("label,param,who_ug_l", [
    ("Arsenico total", "As", 10.0), ("Cadmio total", "Cd", 3.0), ("Plomo total", "Pb", 10.0),
    ("Mercurio total", "Hg", 6.0),
])
def test_exceedances_per_station_and_date_match_raw_file(agua, label, param, who_ug_l):
    path, samples = agua
    expected = _expected_status(path, label, who_ug_l)
    comp = compare_with_standard(samples, load_standards(), "WHO-GDWQ-2022")
    sub = comp[(comp.parameter == param) & (comp.fraction == "total")]
    got = {(r.station_id, r.date): r.status for r in sub.itertuples()}
    assert got == expected
    assert "exceeds" in set(got.values())


def test_known_arsenic_exceedance_and_non_detects(agua):
    path, samples = agua
    rows = _raw_rows(path)
    # Colavi - Canutillos (BC7-113), June 2024: "Arsenico total" 607 ug/L in the raw file.
    j = rows["Código"].index("BC7-113")
    assert rows["Fecha"][j] == "23/06/2024" and float(rows["Arsenico total"][j]) > 10
    comp = compare_with_standard(samples, load_standards(), "WHO-GDWQ-2022")
    hit = comp[(comp.station_id == "BC7-113") & (comp.date == "2024-06-23")
               & (comp.parameter == "As") & (comp.fraction == "total")].iloc[0]
    assert hit.status == "exceeds" and hit.value == pytest.approx(float(rows["Arsenico total"][j]) / 1000)
    # every "<x" cell of the mapped rows became a non-detect with LOD x
    nd = samples[samples.qualifier == "<"]
    n_raw = sum(c.strip().startswith("<") for lab in ("Arsenico total", "Cadmio total")
                for c in rows[lab][2:])
    assert len(nd[nd.parameter.isin(["As", "Cd"]) & (nd.fraction == "total")]) == n_raw
    assert samples.sample_id.nunique() == sum(1 for c in rows["Código"][2:] if c.strip())


def test_ita_2006_utm_wide_table(shared_data):
    path = shared_data("pilcomayo_water_quality", "ITA_water_2006.csv")
    samples = read_samples(path, shipped_mapping_path("ita_2006_water"))
    with open(path, encoding="utf-8") as fh:
        raw = list(csv.DictReader(fh))
    expected = {r["Point No."] for r in raw if float(r["As (mg/l)"]) > 0.01}
    comp = compare_with_standard(samples, load_standards(), "WHO-GDWQ-2022")
    got = set(comp[(comp.parameter == "As") & comp.exceeds].station_id)
    assert got == expected and len(expected) >= 5
    # UTM 20S coordinates land in southern Bolivia (Chuquisaca / Tarija / Potosi)
    assert samples.lat.between(-22.5, -18.5).all() and samples.lon.between(-66.5, -62.5).all()


def test_cli_import_writes_tables(shared_data, tmp_path, capsys):
    path = shared_data("pilcomayo_water_quality", AGUA)
    out = tmp_path / "out"
    rc = main(["samples", "import", str(path), "--mapping", "pilcomayo_calidad_agua",
               "--out", str(out), "--standard", "EU-2020/2184"])
    assert rc == 0, capsys.readouterr().err
    for name in ("samples.csv", "stations.csv", "exceedances.csv", "exceedance_summary.csv",
                 "indices.csv", "summary.json", "summary.html"):
        assert (out / name).stat().st_size > 0, name
    summ = json.loads((out / "summary.json").read_text())
    assert summ["standard"] == "EU-2020/2184"
    assert "BC7-113" in summ["stations_with_exceedance"]
    assert len(summ["per_station_date"]) == summ["n_samples"]
    assert "BC7-113" in capsys.readouterr().out


def test_parameters_without_who_limit_are_listed_not_dropped(agua):
    from minewatch.analysis.water.workflow import check_samples

    path, samples = agua
    res = check_samples(samples, standard="WHO-GDWQ-2022")
    without = res["without_limit"].set_index("parameter")
    rows = _raw_rows(path)
    n_zinc = sum(1 for lab in ("Zinc total", "Zinc disuelto") for c in rows[lab][2:] if c.strip())
    # WHO has no health-based guideline for zinc: every zinc result is listed as not assessed
    assert n_zinc > 0 and without.loc["Zn", "n_results"] == n_zinc
    assert not {"As", "Cd", "Pb", "Hg"} & set(without.index)
    assert set(without.index).isdisjoint(res["compared"]["parameter"])
    assert int(without["n_results"].sum()) + len(res["compared"]) == len(samples)
