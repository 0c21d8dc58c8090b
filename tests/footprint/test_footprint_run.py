"""The footprint classes through `minewatch analyze`: raster contract, areas, alerts, report text."""

from __future__ import annotations

import copy
import html as htmllib

import numpy as np
import rasterio

from minewatch.analysis.footprint.classify import FOOTPRINT_LEGEND, MINE_CLASSES
from minewatch.reports.i18n import Translator
from minewatch.reports.text import footprint_sentence


def test_footprint_class_raster_and_legend(small_run):
    s = small_run["summary"]
    with rasterio.open(small_run["result"] / "footprint_class.tif") as src:
        assert src.dtypes[0] == "uint8" and src.nodata == 255
        years = [int(d) for d in src.descriptions]
        classes = src.read()
    assert years == sorted(years) and years[0] == 2018 and years[-1] == 2024
    assert s["footprint_legend"] == {str(k): v for k, v in FOOTPRINT_LEGEND.items()}
    assert s["footprint_legend"]["1"] == "open pit" and s["footprint_legend"]["7"] == "other bare / natural water"
    assert set(np.unique(classes)) <= set(FOOTPRINT_LEGEND)
    assert np.isin(classes[-1], MINE_CLASSES).sum() > np.isin(classes[0], MINE_CLASSES).sum(), "the mine grows"


def test_footprint_by_year_matches_the_raster_exactly(small_run):
    s = small_run["summary"]
    px_ha = s["grid"]["pixel_area_m2"] / 1e4
    with rasterio.open(small_run["result"] / "footprint_class.tif") as src:
        classes = src.read()
        years = [int(d) for d in src.descriptions]
    assert [r["year"] for r in s["footprint_by_year"]] == years
    for k, row in enumerate(s["footprint_by_year"]):
        assert sum(c["pixels"] for c in row["classes"].values()) == classes[k].size
        for code, name in FOOTPRINT_LEGEND.items():
            c = row["classes"][name]
            n = int((classes[k] == code).sum())
            assert c["pixels"] == n, (row["year"], name)
            assert c["area_ha"] == round(n * px_ha, 4)
            assert abs(c["inside_licences_ha"] + c["outside_licences_ha"] - c["area_ha"]) < 2e-4
        mine = int(np.isin(classes[k], MINE_CLASSES).sum())
        assert row["mine_area_ha"] == round(mine * px_ha, 4)


def test_alerts_carry_the_class_they_turned_into(small_run):
    alerts = small_run["summary"]["alerts"]
    assert alerts
    names = set(FOOTPRINT_LEGEND.values())
    assert all("footprint_class" in a for a in alerts)
    assert {a["footprint_class"] for a in alerts if a["footprint_class"]} <= names
    big = max(alerts, key=lambda a: a["area_ha"])
    assert big["footprint_class"] in ("open pit", "waste dump / heap", "tailings", "mine water")


def test_environment_block_has_counts_behind_each_figure(small_run):
    env = small_run["summary"]["environment"]
    assert [e["year"] for e in env["years"]] == [r["year"] for r in small_run["summary"]["footprint_by_year"]]
    last = env["years"][-1]
    control = last["vegetation"]["control"]
    for ring in last["vegetation"]["rings"]:
        assert ring["pixels"] > 0 and ring["median_clear_obs"] > 0 and ring["ndvi_anomaly"] is not None
        if control["pixels"]:  # the 1.2 km scene may hold no vegetation 1 km from the mine
            assert abs(ring["ndvi_anomaly_net_of_control"] - (ring["ndvi_anomaly"] - control["ndvi_anomaly"])) < 2e-4
        else:
            assert ring["ndvi_anomaly_net_of_control"] is None and not ring["decline"]
    assert last["tailings_pond"]["area_ha"] >= 0 and "median_clear_obs" in last["mine_water"]


def test_report_sentence_comes_from_the_fields(small_run):
    s = small_run["summary"]
    sentence = footprint_sentence(s)
    assert sentence
    page = htmllib.unescape((small_run["result"] / "report.html").read_text())
    assert sentence in page
    assert "The mine as it stands" in page and "Environmental condition" in page
    last = s["footprint_by_year"][-1]
    pit = last["classes"]["open pit"]["area_ha"]
    assert f"{pit:.2f}" in sentence
    # change the fields: the sentence follows them
    changed = copy.deepcopy(s)
    changed["footprint_by_year"][-1]["classes"]["open pit"]["area_ha"] = 123.45
    changed["footprint_by_year"][-2]["classes"]["open pit"]["area_ha"] = 100.0
    changed["footprint_by_year"][-1]["classes"]["rehabilitated"]["area_ha"] = 7.5
    changed["footprint_by_year"][-1]["classes"]["tailings"]["area_ha"] = 9.25
    text = footprint_sentence(changed)
    year = last["year"]
    assert text.startswith(f"The open pit grew by 23.45 ha in {year}, to 123.45 ha;")
    assert "the tailings reached 9.25 ha" in text
    assert "7.50 ha were rehabilitated" in text
    es = footprint_sentence(changed, Translator("es"))
    assert "123,45" in es and "se rehabilitaron 7,50 ha" in es
