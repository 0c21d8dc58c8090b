"""Small synthetic stacks shared by the change-detection tests."""

from __future__ import annotations

import numpy as np
import pytest

from minewatch.analysis.change.synthetic import StackSpec, indices_from_bands, make_stack


def first_valid_on_or_after(valid: np.ndarray, days: np.ndarray, truth_date: np.ndarray):
    """Day of the first valid observation on/after each pixel's true break (0 if none)."""
    T = valid.shape[0]
    out = np.zeros(truth_date.shape, np.int64)
    for t in range(T - 1, -1, -1):
        hit = valid[t] & (days[t] >= truth_date) & (truth_date > 0)
        out = np.where(hit, days[t], out)
    return out


@pytest.fixture(name="first_valid_on_or_after")
def _first_valid_fixture():
    """The helper above, as a fixture."""
    return first_valid_on_or_after


@pytest.fixture(scope="session")
def stack50():
    """50 x 50 pixels x 120 dates, 30 % gaps, 20 % of pixels with a break."""
    spec = StackSpec(height=50, width=50, seed=101)
    bands, tflag, tdate = make_stack(spec)
    vals = indices_from_bands(bands)
    return spec, vals, tflag, tdate


@pytest.fixture(scope="session")
def stable50():
    """Same as ``stack50`` without any break."""
    spec = StackSpec(height=50, width=50, seed=202, break_fraction=0.0)
    bands, _, _ = make_stack(spec)
    return spec, indices_from_bands(bands)
