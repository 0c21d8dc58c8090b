"""Per-year features of a tile: quantiles as numpy's, the second half of the year, the last observations."""

from __future__ import annotations

import warnings

import numpy as np

from minewatch.analysis.footprint.features import FEATURES, _quantile, year_features


def test_quantile_matches_numpy_nan_quantiles():
    rng = np.random.default_rng(3)
    v = rng.random((30, 20, 20)).astype(np.float32)
    v[rng.random(v.shape) < 0.1] = np.nan
    use = rng.random(v.shape) < 0.6
    use[:, 0, 0] = False
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        for q in (0.5, 0.9):
            ref = np.nanquantile(np.where(use, v, np.nan), q, axis=0)
            got = _quantile(v, use, q)
            assert np.array_equal(np.isnan(ref), np.isnan(got))
            assert np.nanmax(np.abs(ref - got)) < 1e-6


def test_year_features_use_the_second_half_and_count_clear_observations():
    months = np.array([2, 4, 6, 8, 10, 12, 3, 9])
    years = np.array([2020] * 6 + [2021] * 2)
    T = len(months)
    red = np.where(months[:, None, None] >= 7, 0.2, 0.05) * np.ones((T, 2, 2), np.float32)
    nir = np.full((T, 2, 2), 0.3, np.float32)
    data = {"blue": np.full((T, 2, 2), 0.1, np.float32), "green": np.full((T, 2, 2), 0.1, np.float32),
            "red": red.astype(np.float32), "nir": nir, "swir16": np.full((T, 2, 2), 0.3, np.float32),
            "swir22": np.full((T, 2, 2), 0.25, np.float32)}
    clear = np.ones((T, 2, 2), bool)
    clear[3:6, 0, 0] = False  # pixel (0, 0): no clear observation in the second half of 2020
    f = year_features(data, clear, years, months, [2020, 2021, 2022])
    red_i, n_i = FEATURES.index("red"), FEATURES.index("n_clear")
    assert f[0, red_i, 1, 1] == np.float32(0.2)  # July-December only
    assert f[0, red_i, 0, 0] == np.float32(0.05)  # the whole year where the late half has nothing
    assert f[0, n_i, 0, 0] == 3 and f[0, n_i, 1, 1] == 6 and f[1, n_i, 1, 1] == 2
    assert f[2, n_i, 0, 0] == 0 and np.isnan(f[2, red_i, 0, 0])
    last = f[0, FEATURES.index("ndvi_last"), 1, 1]
    assert abs(last - (0.3 - 0.2) / 0.5) < 1e-6  # the last two clear observations (October, December)
