"""The footprint rules on hand-made per-year features: each rule of docs/method.md in turn."""

from __future__ import annotations

import numpy as np

from minewatch.analysis.footprint.classify import (
    DUMP, MINE_WATER, NOT_ASSESSED, NOT_MINE, OTHER_BARE, PIT, REHABILITATED, ROADS, TAILINGS, classify_years)
from minewatch.analysis.footprint.features import FEATURES

#: reflectance (blue, green, red, nir, swir16, swir22) of the surfaces used below
STEPPE = (0.055, 0.08, 0.10, 0.28, 0.28, 0.2)
ROCK = (0.16, 0.19, 0.22, 0.27, 0.30, 0.25)
SPOIL = (0.115, 0.16, 0.24, 0.315, 0.40, 0.34)
BEACH = (0.28, 0.32, 0.35, 0.40, 0.42, 0.36)
TURBID = (0.08, 0.11, 0.10, 0.03, 0.01, 0.008)
DARK = (0.04, 0.04, 0.025, 0.008, 0.004, 0.003)
OUTCROP = (0.10, 0.13, 0.17, 0.24, 0.31, 0.27)


def scene(years: int, size: int = 80) -> np.ndarray:
    f = np.zeros((years, len(FEATURES), size, size), np.float32)
    paint(f, slice(None), (slice(None), slice(None)), STEPPE, p90=0.5)
    return f


def paint(f, year, where, bands, *, p90=None, water=0.0, last=None, n_clear=20):
    for i, v in enumerate(bands):
        f[(year, i, *where)] = v
    nd = (bands[3] - bands[2]) / (bands[3] + bands[2])
    f[(year, FEATURES.index("ndvi_p90"), *where)] = nd if p90 is None else p90
    f[(year, FEATURES.index("water_share"), *where)] = water
    f[(year, FEATURES.index("ndvi_last"), *where)] = nd if last is None else last
    f[(year, FEATURES.index("n_clear"), *where)] = n_clear


def test_pit_dump_and_pre_existing_mining():
    f = scene(3)
    paint(f, slice(None), (slice(10, 20), slice(10, 20)), ROCK)  # pit dug before the series
    paint(f, slice(1, None), (slice(10, 20), slice(20, 30)), ROCK)  # pit push-back in year 1
    paint(f, slice(1, None), (slice(22, 32), slice(10, 30)), SPOIL)  # dump in year 1
    paint(f, slice(None), (slice(60, 70), slice(60, 70)), OUTCROP)  # natural outcrop far away
    c = classify_years(f, 10.0)
    assert (c[0, 10:20, 10:20] == PIT).all(), "older mining joined by the later footprint is mine from year 0"
    assert (c[0, 10:20, 20:30] == NOT_MINE).all()
    assert (c[1:, 10:20, 10:30] == PIT).all()
    assert (c[1:, 22:32, 10:30] == DUMP).all()
    assert (c[:, 60:70, 60:70] == OTHER_BARE).all(), "bare before the series and away from the mine"
    assert (c[:, 40:55, 40:55] == NOT_MINE).all()


def test_tailings_facility_with_pond_beach_and_dam_and_a_pit_lake():
    f = scene(2)
    paint(f, 1, (slice(10, 40), slice(10, 40)), SPOIL)  # dam ring
    paint(f, 1, (slice(14, 36), slice(14, 36)), BEACH)
    paint(f, 1, (slice(20, 30), slice(20, 30)), TURBID, water=1.0)
    paint(f, 1, (slice(50, 70), slice(50, 70)), ROCK)
    paint(f, 1, (slice(56, 64), slice(56, 64)), DARK, water=1.0)  # pit lake
    c = classify_years(f, 10.0)
    assert (c[1, 10:40, 10:40] == TAILINGS).all(), np.unique(c[1, 10:40, 10:40], return_counts=True)
    assert (c[1, 56:64, 56:64] == MINE_WATER).all()
    assert (c[1, 50:56, 50:70] == PIT).all()
    assert (c[0] == NOT_MINE).all()


def test_natural_water_and_soil_stay_not_mine():
    f = scene(3)
    paint(f, slice(None), (slice(0, 80), slice(40, 43)), (0.05, 0.06, 0.04, 0.015, 0.005, 0.004), water=1.0)
    soil = (0.08, 0.11, 0.16, 0.215, 0.30, 0.255)  # a cleared field: dull soil, not mineral ground
    paint(f, slice(1, None), (slice(10, 30), slice(10, 30)), soil)
    c = classify_years(f, 10.0)
    assert (c[:, :, 40:43] == OTHER_BARE).all()
    assert (c[1:, 10:30, 10:30] == NOT_MINE).all()


def test_rehabilitated_late_turn_roads_and_not_assessed():
    f = scene(4)
    paint(f, slice(1, 3), (slice(10, 30), slice(10, 30)), SPOIL)  # dumped in year 1, re-vegetated in year 3
    paint(f, 3, (slice(10, 30), slice(10, 30)), STEPPE, p90=0.45)
    # turned in the autumn of year 1: green mid-year but bare at the year's end, dump in year 2
    paint(f, 1, (slice(50, 60), slice(50, 60)), SPOIL, p90=0.45, last=0.12)
    paint(f, slice(2, None), (slice(50, 60), slice(50, 60)), SPOIL)
    paint(f, slice(1, None), (slice(30, 70), slice(20, 22)), SPOIL)  # a 2-px haul road to the dump
    paint(f, 2, (slice(70, 80), slice(70, 80)), STEPPE, n_clear=0)
    c = classify_years(f, 10.0)
    assert (c[1:3, 10:30, 10:30] == DUMP).all()
    assert (c[3, 10:30, 10:30] == REHABILITATED).all()
    assert (c[1, 50:60, 50:60] == DUMP).all(), "the year it turned, in the class it turned into"
    assert (c[0, 50:60, 50:60] == NOT_MINE).all()
    assert (c[1, 35:48, 20:22] == ROADS).all()
    assert (c[2, 70:80, 70:80] == NOT_ASSESSED).all()


def test_a_pit_in_bare_land_is_found_by_its_depression_on_the_dem():
    f = scene(2)
    paint(f, slice(None), (slice(None), slice(None)), OUTCROP)  # a desert: bare before the series
    paint(f, slice(None), (slice(20, 40), slice(20, 40)), ROCK)
    depth = np.zeros((80, 80), np.float32)
    depth[20:40, 20:40] = 8.0
    depth[18:42, 18:42] = np.maximum(depth[18:42, 18:42], 0.5)  # the rim: shallow, not taken in
    assert (classify_years(f, 10.0)[:, 20:40, 20:40] == OTHER_BARE).all()
    c = classify_years(f, 10.0, depth=depth)
    assert (c[:, 20:40, 20:40] == PIT).all()
    assert (c[:, 18, :] == OTHER_BARE).all() and (c[:, 60:, 60:] == OTHER_BARE).all()
