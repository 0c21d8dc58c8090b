"""The shipped standards table: values checked against their sources, tamper detection."""

from __future__ import annotations

import shutil

import pandas as pd
import pytest

from minewatch.analysis.water.standards import (
    load_standards,
    row_fingerprint,
    select_standard,
    shipped_sidecar_path,
    shipped_table_path,
    verify_fingerprints,
)
from minewatch.errors import InputError, ValidationError

WHO = "WHO-GDWQ-2022"
EU = "EU-2020/2184"
WHO_TABLE = "Annex 3, Table A3.3"

# Transcribed independently of the CSV, from the sources themselves:
# WHO, Guidelines for drinking-water quality, 4th ed. incorporating the 1st and 2nd
# addenda (2022), Annex 3 Table A3.3 (mg/L); Directive (EU) 2020/2184 Annex I Part B
# (chemical) and Part C (indicator parameters).
EXPECTED = {
    (WHO, "Sb"): (0.02, "mg/L", WHO_TABLE),
    (WHO, "As"): (0.01, "mg/L", WHO_TABLE),
    (WHO, "Ba"): (1.3, "mg/L", WHO_TABLE),
    (WHO, "B"): (2.4, "mg/L", WHO_TABLE),
    (WHO, "Cd"): (0.003, "mg/L", WHO_TABLE),
    (WHO, "Cr"): (0.05, "mg/L", WHO_TABLE),
    (WHO, "Cu"): (2.0, "mg/L", WHO_TABLE),
    (WHO, "F"): (1.5, "mg/L", WHO_TABLE),
    (WHO, "Pb"): (0.01, "mg/L", WHO_TABLE),
    (WHO, "Mn"): (0.08, "mg/L", WHO_TABLE),
    (WHO, "Hg"): (0.006, "mg/L", WHO_TABLE),
    (WHO, "Ni"): (0.07, "mg/L", WHO_TABLE),
    (WHO, "NO3"): (50.0, "mg/L", WHO_TABLE),
    (WHO, "NO2"): (3.0, "mg/L", WHO_TABLE),
    (WHO, "Se"): (0.04, "mg/L", WHO_TABLE),
    (WHO, "U"): (0.03, "mg/L", WHO_TABLE),
    (EU, "Sb"): (10.0, "ug/L", "Annex I, Part B"),
    (EU, "As"): (10.0, "ug/L", "Annex I, Part B"),
    (EU, "B"): (1.5, "mg/L", "Annex I, Part B"),
    (EU, "Cd"): (5.0, "ug/L", "Annex I, Part B"),
    (EU, "Cr"): (25.0, "ug/L", "Annex I, Part B"),
    (EU, "Cu"): (2.0, "mg/L", "Annex I, Part B"),
    (EU, "CN"): (50.0, "ug/L", "Annex I, Part B"),
    (EU, "F"): (1.5, "mg/L", "Annex I, Part B"),
    (EU, "Pb"): (5.0, "ug/L", "Annex I, Part B"),
    (EU, "Hg"): (1.0, "ug/L", "Annex I, Part B"),
    (EU, "Ni"): (20.0, "ug/L", "Annex I, Part B"),
    (EU, "NO3"): (50.0, "mg/L", "Annex I, Part B"),
    (EU, "NO2"): (0.5, "mg/L", "Annex I, Part B"),
    (EU, "Se"): (20.0, "ug/L", "Annex I, Part B"),
    (EU, "U"): (30.0, "ug/L", "Annex I, Part B"),
    (EU, "Al"): (200.0, "ug/L", "Annex I, Part C"),
    (EU, "NH4"): (0.5, "mg/L", "Annex I, Part C"),
    (EU, "Cl"): (250.0, "mg/L", "Annex I, Part C"),
    (EU, "Fe"): (200.0, "ug/L", "Annex I, Part C"),
    (EU, "Mn"): (50.0, "ug/L", "Annex I, Part C"),
    (EU, "Na"): (200.0, "mg/L", "Annex I, Part C"),
    (EU, "SO4"): (250.0, "mg/L", "Annex I, Part C"),
    (EU, "pH"): (9.5, "pH", "Annex I, Part C"),
}


def test_shipped_values_match_transcribed_sources():
    t = load_standards()
    got = {(r.standard, r.parameter): (r.limit, r.unit, r.table) for r in t.itertuples()}
    assert set(got) == set(EXPECTED), set(got) ^ set(EXPECTED)
    for key, (limit, unit, table) in EXPECTED.items():
        assert got[key][0] == pytest.approx(limit), key
        assert got[key][1:] == (unit, table), key
    ph = select_standard(t, EU).loc["pH"]
    assert ph["lower_limit"] == 6.5
    assert (t.loc[t.standard == WHO, "edition"].str.contains("2nd addenda").all())
    assert (t.loc[t.standard == EU, "edition"].str.contains("2020/2184").all())


def test_provisional_values_are_marked():
    who = select_standard(load_standards(), WHO)
    for p in ("As", "Pb", "Cr", "Se", "U", "Mn"):
        assert "provisional" in who.loc[p, "note"], p
    eu = select_standard(load_standards(), EU)
    assert "2036" in eu.loc["Pb", "note"] and "2036" in eu.loc["Cr", "note"]


def test_fingerprints_match_sidecar():
    assert verify_fingerprints(load_standards()) == []


def _copy_shipped(tmp_path):
    t = tmp_path / "drinking_water.csv"
    s = tmp_path / "drinking_water.sources.json"
    shutil.copy(shipped_table_path(), t)
    shutil.copy(shipped_sidecar_path(), s)
    return t, s


def test_changed_value_without_source_change_is_detected(tmp_path):
    t, s = _copy_shipped(tmp_path)
    raw = pd.read_csv(t, dtype=str, keep_default_na=False)
    i = raw.index[(raw.standard == WHO) & (raw.parameter == "As")][0]
    raw.loc[i, "limit"] = "0.05"
    raw.to_csv(t, index=False)
    problems = verify_fingerprints(load_standards(t), s)
    assert len(problems) == 1 and "WHO-GDWQ-2022 As" in problems[0]


def test_changed_citation_alone_is_detected(tmp_path):
    t, s = _copy_shipped(tmp_path)
    raw = pd.read_csv(t, dtype=str, keep_default_na=False)
    i = raw.index[(raw.standard == EU) & (raw.parameter == "Pb")][0]
    raw.loc[i, "table"] = "Annex I, Part C"
    raw.to_csv(t, index=False)
    assert any("EU-2020/2184 Pb" in p for p in verify_fingerprints(load_standards(t), s))


def test_fingerprint_depends_on_value_and_citation():
    row = {"standard": "X", "parameter": "As", "unit": "ug/L", "limit": 10.0,
           "lower_limit": float("nan"), "edition": "e1", "table": "T1"}
    base = row_fingerprint(row)
    assert row_fingerprint({**row, "limit": 10.5}) != base
    assert row_fingerprint({**row, "edition": "e2"}) != base
    assert row_fingerprint(dict(row)) == base


def test_user_table_loads_and_is_validated(tmp_path):
    p = tmp_path / "bolivia.csv"
    p.write_text("standard,parameter,unit,limit,edition,table,note\n"
                 "BO-RMCH-A,As,mg/l,0.05,Reglamento en Materia de Contaminacion Hidrica 1995,"
                 "Anexo A-1 clase A,\n"
                 "BO-RMCH-A,Pb,ug/L,50,Reglamento 1995,Anexo A-1 clase A,\n", encoding="utf-8")
    t = load_standards(p)
    assert list(t.parameter) == ["As", "Pb"]
    assert list(t.unit) == ["mg/L", "ug/L"]
    bad = tmp_path / "bad.csv"
    bad.write_text("standard,parameter,unit,limit,edition,table\n"
                   "X,As,furlongs,1,e,t\nX,Pb,mg/L,abc,e,t\n", encoding="utf-8")
    with pytest.raises(ValidationError) as ei:
        load_standards(bad)
    msg = str(ei.value)
    assert "line 2, column 'unit'" in msg and "furlongs" in msg
    assert "line 3, column 'limit'" in msg
    with pytest.raises(InputError, match="missing column"):
        nocol = tmp_path / "nocol.csv"
        nocol.write_text("standard,parameter,limit\nX,As,1\n")
        load_standards(nocol)


def test_unknown_standard_lists_choices():
    with pytest.raises(InputError) as ei:
        select_standard(load_standards(), "US-EPA")
    assert "WHO-GDWQ-2022" in str(ei.value)
