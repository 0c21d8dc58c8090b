"""A small demo scene (64 x 64 px, 4 tiles of 32 px, 20-day cadence), made once per session,
and helpers to read a monitoring state's outputs."""

from __future__ import annotations

import datetime as dt
import sys
from pathlib import Path

import numpy as np
import pytest
import rasterio

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "notify"))  # the loopback receivers

START = dt.date(2020, 1, 1)
TILE = 32


@pytest.fixture(scope="session")
def scene(tmp_path_factory):
    from minewatch.demo.scene import generate_scene

    return generate_scene(tmp_path_factory.mktemp("monitor") / "scene", seed=11, size_px=64, cadence_days=20,
                          start="2019-01-01", end="2021-06-30")


@pytest.fixture(scope="session")
def acquisitions(scene) -> list[str]:
    """Acquisition ids of the scene, by date."""
    from minewatch.imagery.catalog import open_catalog

    return [it.id for it in sorted(open_catalog(scene.catalog), key=lambda it: (it.day, it.id))]


@pytest.fixture(scope="session")
def n_history(scene) -> int:
    from minewatch.imagery.catalog import open_catalog

    return sum(it.date < START for it in open_catalog(scene.catalog))


def rasters(folder: Path) -> dict[str, np.ndarray]:
    """alert_level.tif and disturbance_date.tif of a run folder or a state's ``latest/``."""
    out = {}
    for name in ("alert_level", "disturbance_date"):
        with rasterio.open(Path(folder) / f"{name}.tif") as src:
            out[name] = src.read(1)
    return out


def agreement(a: dict, b: dict) -> dict[str, float]:
    return {k: float((a[k] == b[k]).mean()) for k in a}


@pytest.fixture(scope="session")
def oneshot(scene, acquisitions, tmp_path_factory):
    """The state built in one go over every acquisition: the reference of the incremental tests."""
    from minewatch.run.monitor import MonitorInitRequest, monitor_init

    state = tmp_path_factory.mktemp("oneshot") / "state"
    monitor_init(MonitorInitRequest(state, scene.catalog, START, licences=scene.licences, tile_size=TILE))
    return state
