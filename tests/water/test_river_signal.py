"""River signal: indices by hand, chainage on a known line, a synthetic plume of known speed."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest
from shapely.geometry import LineString, Point

from minewatch.analysis.water.chainage import river_reach
from minewatch.analysis.water.river_signal import (
    add_water_indices,
    analyse_river_signal,
    dogliotti_turbidity,
    ndti,
)
from minewatch.cli.main import main

EQUATOR_DEG_M = 6378137.0 * math.pi / 180.0  # one degree of longitude on the WGS84 equator


def test_ndti_and_iron_ratio():
    assert ndti(np.array([0.03]), np.array([0.02]))[0] == pytest.approx(0.2)
    df = add_water_indices(pd.DataFrame({"B02": [200.0], "B03": [200.0], "B04": [300.0]}),
                           scale=1e-4)
    assert df.ndti[0] == pytest.approx(0.2) and df.iron_ratio[0] == pytest.approx(1.5)
    assert "turbidity_dogliotti" not in df  # no NIR column


def test_dogliotti_2015_branches():
    red = lambda r: 228.1 * r / (1 - r / 0.1641)
    nir = lambda r: 3078.9 * r / (1 - r / 0.2112)
    t = dogliotti_turbidity(np.array([0.03, 0.08, 0.06]), np.array([0.005, 0.02, 0.01]))
    assert t[0] == pytest.approx(red(0.03)) and t[0] == pytest.approx(8.374, abs=1e-3)
    assert t[1] == pytest.approx(nir(0.02)) and t[1] == pytest.approx(68.019, abs=1e-3)
    assert t[2] == pytest.approx(0.5 * red(0.06) + 0.5 * nir(0.01))


def test_chainage_on_the_equator():
    line = LineString([(0.0, 0.0), (1.0, 0.0), (2.0, 0.0)])
    reach = river_reach(line, Point(0.2, 0.01))
    assert reach.geodesic_length_km == pytest.approx(2 * EQUATOR_DEG_M / 1000, rel=1e-9)
    ch, off = reach.chainage(np.array([1.0, 0.1]), np.array([0.0, 0.0]))
    assert ch[0] == pytest.approx(0.8 * EQUATOR_DEG_M / 1000, abs=0.03)
    assert ch[1] == pytest.approx(-0.1 * EQUATOR_DEG_M / 1000, abs=0.03)
    assert off[0] == pytest.approx(0.0, abs=1.0)
    assert reach.source_offset_km == pytest.approx(1.106, abs=0.01)
    rev = river_reach(line, Point(0.2, 0.01), reverse=True)
    assert rev.chainage(np.array([1.0]), np.array([0.0]))[0][0] == pytest.approx(-ch[0], abs=0.05)


def _synthetic_plume(speed_km_day=25.0, days=(0, 2, 4), start_km=30.0):
    """Points every ~111 m along an equatorial river; plume of 210 FNU behind a moving front."""
    rng = np.random.default_rng(0)
    lon = np.arange(0.02, 2.0, 0.001)
    frames = []
    for d in days:
        ch_km = (lon - 0.2) * EQUATOR_DEG_M / 1000
        front = start_km + speed_km_day * d
        tur = 10 + rng.normal(0, 1, lon.size)
        tur[(ch_km > 0) & (ch_km < front)] += 200
        frames.append(pd.DataFrame({
            "date": (pd.Timestamp("2021-08-01") + pd.Timedelta(days=d)).strftime("%Y-%m-%d"),
            "lon": lon, "lat": 0.0005 * rng.standard_normal(lon.size), "Turbidity": tur}))
    return pd.concat(frames, ignore_index=True)


def test_synthetic_plume_speed_and_updown_test():
    line = LineString([(0.0, 0.0), (2.0, 0.0)])
    reach = river_reach(line, Point(0.2, 0.0))
    res = analyse_river_signal(_synthetic_plume(), reach, "Turbidity", bin_km=10.0)
    fronts = res["fronts"].set_index("date")
    assert list(fronts.front_km) == pytest.approx([30.0, 80.0, 130.0])
    sp = res["speeds"]
    assert list(sp.kind) == ["estimate", "estimate"]
    assert list(sp.speed_km_per_day) == pytest.approx([25.0, 25.0])
    ud = res["updown"].set_index("date")
    assert ud.testable.all()
    # day 0: the plume covers 30 of 180 km downstream, the median is still background
    assert ud.loc["2021-08-01", "ratio"] < 1.5
    # day 4: 130 of 180 km are turbid
    assert ud.loc["2021-08-05", "p_value"] < 1e-6 and ud.loc["2021-08-05", "ratio"] > 10
    assert res["threshold"] == pytest.approx(2 * 10, rel=0.05)  # 2 x background


def test_cli_river_signal_and_atomic_failure(tmp_path, capsys):
    pts = _synthetic_plume()
    files = []
    for d, g in pts.groupby("date"):
        f = tmp_path / f"points_{d}.csv"
        g.drop(columns="date").rename(columns={"lon": "Longitude", "lat": "Latitude"}).to_csv(
            f, index=False)
        files.append(str(f))
    river = tmp_path / "river.geojson"
    river.write_text(json.dumps({"type": "FeatureCollection", "features": [{
        "type": "Feature", "properties": {},
        "geometry": {"type": "LineString", "coordinates": [[0, 0], [2, 0]]}}]}))
    src = tmp_path / "mine.geojson"
    src.write_text(json.dumps({"type": "Feature", "properties": {},
                               "geometry": {"type": "Point", "coordinates": [0.2, 0.0]}}))
    out = tmp_path / "out"
    rc = main(["river-signal", *files, "--river", str(river), "--source", str(src),
               "--out", str(out), "--bin-km", "10"])
    assert rc == 0, capsys.readouterr().err
    assert (out / "river_signal.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    summary = json.loads((out / "river_signal.json").read_text())
    assert summary["speeds"][0]["speed_km_per_day"] == pytest.approx(25.0)
    assert "25.0 km/day" in capsys.readouterr().out
    bad_out = tmp_path / "bad"
    rc = main(["river-signal", *files, "--river", str(river), "--out", str(bad_out),
               "--value", "NoSuchColumn"])
    assert rc == 2
    assert "NoSuchColumn" in capsys.readouterr().err
    assert not bad_out.exists() or not any(bad_out.iterdir())
