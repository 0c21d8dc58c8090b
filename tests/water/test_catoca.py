"""Real data: the July 2021 Catoca tailings spill, Sentinel-2 turbidity along the Kasai (6 dates)."""

from __future__ import annotations

import glob

import pandas as pd
import pytest

from minewatch.analysis.water.chainage import read_river_line, read_source_geometry, river_reach
from minewatch.analysis.water.river_signal import analyse_river_signal, read_point_tables

pytestmark = pytest.mark.shared
LOWER = ("mxs_1", "mxs_2", "mys_1", "mys_2", "mys_4")  # lowest Kasai, towards the Congo


@pytest.fixture
def catoca(shared_data):
    root = shared_data("catoca_tailings_spill")
    files = sorted(glob.glob(str(root / "csv" / "data_*.csv")))
    assert len(files) == 6
    reach = river_reach(read_river_line(root / "river.geojson"),
                        read_source_geometry(root / "qgis" / "catoca_reservior.shp"))
    pts = read_point_tables(files)
    return files, reach, analyse_river_signal(pts, reach, "Turbidity", bin_km=20.0)


def test_points_lie_far_downstream_and_no_upstream_test(catoca):
    _, reach, res = catoca
    assert 1300 < reach.geodesic_length_km < 1500
    ch = res["points"].chainage_km
    assert ch.min() > 780 and ch.max() < 1400  # only the lower Kasai was sampled
    assert not res["updown"].testable.any()  # nothing upstream of the reservoir


def test_plume_passes_the_lower_kasai(catoca):
    files, _, res = catoca
    # Independently of chainage: raw median over the lower-Kasai section boxes per date.
    raw = {}
    for f in files:
        d = pd.read_csv(f)
        d = d[d["Bounding Box"].isin(LOWER)]
        if len(d):
            raw[f[-14:-4]] = d["Turbidity"].median()
    assert list(raw) == ["2021-08-10", "2021-08-15", "2021-08-25", "2021-08-30"]
    assert raw["2021-08-10"] < raw["2021-08-15"] > raw["2021-08-25"] > raw["2021-08-30"]
    s = res["series"]
    lower = s[s.window.str.startswith("1140")].set_index("date")["median"]
    assert list(lower.index) == list(raw)
    assert lower.idxmax() == "2021-08-15" and lower.idxmin() in ("2021-08-10", "2021-08-30")


def test_gradients_show_rising_then_falling_limb(catoca):
    _, _, res = catoca
    g = res["gradient"].set_index("date")
    # rising limb: turbidity falls downstream while the front advances
    assert g.loc["2021-08-15", "trend"] == "falls downstream"
    assert g.loc["2021-08-15", "spearman_rho"] < -0.9
    # falling limb in the upper window a week later: it rises downstream (tail passing)
    assert g.loc["2021-08-22", "trend"] == "rises downstream"


def test_front_moves_downstream(catoca):
    _, _, res = catoca
    f = res["fronts"].set_index("date")
    assert f.loc["2021-08-10", "front_state"] == "in window"
    assert f.loc["2021-08-10", "front_km"] < f.loc["2021-08-15", "front_km"]
    assert f.loc["2021-08-30", "front_state"] == "not in window"  # back to background
    sp = res["speeds"]
    assert len(sp) == 1
    row = sp.iloc[0]
    assert (row.from_date, row.to_date) == ("2021-08-10", "2021-08-15")
    assert row.kind == "lower bound" and row.speed_km_per_day >= 20
