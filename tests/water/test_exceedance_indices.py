"""Exceedance rules and pollution indices, checked against hand-computed examples."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from minewatch.analysis.water.exceedance import compare_with_standard, exceedance_summary
from minewatch.analysis.water.indices import (
    contamination_degree,
    hei,
    hpi,
    nemerow,
    pollution_indices,
)
from minewatch.analysis.water.standards import load_standards

NAN = math.nan


def _samples(rows):
    base = {"station_name": "", "time": "", "lat": -19.0, "lon": -65.0, "river": "",
            "reach_id": "", "receptor_id": "", "source_file": "t.csv", "source_line": 2,
            "source_column": "E", "source_label": ""}
    out = []
    for sid, date, par, frac, val, qual, lod, unit in rows:
        out.append({**base, "sample_id": f"{sid}@{date}", "station_id": sid, "date": date,
                    "parameter": par, "fraction": frac, "value": val, "qualifier": qual,
                    "detection_limit": lod, "unit": unit})
    return pd.DataFrame(out)


def test_hand_computed_indices():
    # As 20 ug/L against S=10, Cd 1.5 ug/L against S=3 (ideal values 0).
    c, s = np.array([20.0, 1.5]), np.array([10.0, 3.0])
    # HPI: W = [0.1, 1/3], Q = [200, 50] -> (20 + 16.667) / 0.4333 = 84.615
    assert hpi(c, s) == pytest.approx((0.1 * 200 + 50 / 3) / (0.1 + 1 / 3))
    assert hpi(c, s) == pytest.approx(84.6154, abs=1e-4)
    assert hei(c, s) == pytest.approx(2.5)
    assert contamination_degree(c, s) == pytest.approx(0.5)
    # Nemerow: P = [2, 0.5], mean 1.25, max 2 -> sqrt((1.5625 + 4) / 2)
    assert nemerow(c, s) == pytest.approx(math.sqrt(2.78125))
    # With an ideal value I: Q = 100 |C - I| / (S - I)
    assert hpi(np.array([5.0]), np.array([10.0]), np.array([2.0])) == pytest.approx(37.5)


def test_exceedance_statuses_and_unit_conversion():
    t = load_standards()
    df = _samples([
        ("A", "2024-01-01", "As", "total", 12.0, "", NAN, "ug/L"),     # 0.012 mg/L > 0.01
        ("A", "2024-01-01", "Pb", "total", 0.009, "", NAN, "mg/L"),    # ok
        ("A", "2024-01-01", "Cd", "total", NAN, "<", 1.0, "ug/L"),     # LOD 0.001 <= 0.003
        ("A", "2024-01-01", "Hg", "total", NAN, "<", 10.0, "ug/L"),    # LOD 0.01 > 0.006
        ("A", "2024-01-01", "Ni", "total", NAN, "<", NAN, "ug/L"),     # ND, LOD unknown
        ("A", "2024-01-01", "Cu", "total", 3.0, ">", NAN, "mg/L"),     # >3 >= 2
        ("A", "2024-01-01", "Zn", "total", 9.0, "", NAN, "mg/L"),      # no WHO value
        ("B", "2024-01-02", "pH", "", 5.9, "", NAN, "pH"),             # no WHO pH value
    ])
    who = compare_with_standard(df, t, "WHO-GDWQ-2022").set_index("parameter")
    assert who.loc["As", "status"] == "exceeds" and who.loc["As", "value"] == pytest.approx(0.012)
    assert who.loc["As", "ratio"] == pytest.approx(1.2) and who.loc["As", "unit"] == "mg/L"
    assert who.loc["Pb", "status"] == "ok"
    assert who.loc["Cd", "status"] == "ok-non-detect" and not who.loc["Cd", "exceeds"]
    assert who.loc["Hg", "status"] == "inconclusive" and not who.loc["Hg", "exceeds"]
    assert who.loc["Ni", "status"] == "inconclusive"
    assert who.loc["Cu", "status"] == "exceeds"
    assert "Zn" not in who.index and "pH" not in who.index
    eu = compare_with_standard(df, t, "EU-2020/2184").set_index("parameter")
    assert eu.loc["pH", "status"] == "below-range" and eu.loc["pH", "exceeds"]
    assert eu.loc["As", "value"] == pytest.approx(12.0) and eu.loc["As", "unit"] == "ug/L"
    assert eu.loc["Pb", "status"] == "exceeds"  # 9 ug/L > 5 ug/L
    assert eu.loc["Hg", "status"] == "inconclusive"  # LOD 10 > 1 ug/L
    summ = exceedance_summary(compare_with_standard(df, t, "EU-2020/2184")).set_index("station_id")
    assert summ.loc["A", "n_exceeds"] == 3  # As, Pb, Cu
    assert summ.loc["A", "exceeded"].startswith("Pb[total] x1.8")
    assert summ.loc["B", "exceeded"] == "pH below-range"


def test_pollution_indices_nondetect_rule_and_fraction_choice():
    t = load_standards()
    df = _samples([
        ("A", "2024-01-01", "As", "total", 20.0, "", NAN, "ug/L"),
        ("A", "2024-01-01", "As", "dissolved", 5.0, "", NAN, "ug/L"),   # total preferred
        ("A", "2024-01-01", "Cd", "total", NAN, "<", 3.0, "ug/L"),      # LOD/2 = 1.5
        ("A", "2024-01-01", "Ni", "total", NAN, "<", NAN, "ug/L"),      # excluded
        ("A", "2024-01-01", "pH", "", 7.0, "", NAN, "pH"),              # not a metal
    ])
    ix = pollution_indices(df, t, "WHO-GDWQ-2022").iloc[0]
    assert ix["n_metals"] == 2 and ix["n_excluded"] == 1
    assert ix["metals"] == "As[total] Cd[total]"
    assert ix["hpi"] == pytest.approx(84.6154, abs=1e-4)  # same numbers as the hand example
    assert ix["hei"] == pytest.approx(2.5) and not ix["hpi_above_critical"]
    zero = pollution_indices(df, t, "WHO-GDWQ-2022", nondetect="zero").iloc[0]
    assert zero["hei"] == pytest.approx(2.0)
    lod = pollution_indices(df, t, "WHO-GDWQ-2022", nondetect="lod").iloc[0]
    assert lod["hei"] == pytest.approx(3.0)
    with pytest.raises(ValueError):
        pollution_indices(df, t, "WHO-GDWQ-2022", nondetect="median")
