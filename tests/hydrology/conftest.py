"""Fixtures for the hydrology tests."""

from __future__ import annotations

import pytest
from hydro_synth import v_valley, write_dem


@pytest.fixture
def valley_tif(tmp_path):
    return write_dem(tmp_path / "valley.tif", v_valley())
