"""A small demo scene (64 x 64 px, 4 tiles of 32 px, 20-day cadence, 2019 to 2021), made once per session,
and helpers to read a monitoring state's outputs."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "notify"))  # the loopback receivers
sys.path.insert(0, str(Path(__file__).resolve().parent))

from monitor_helpers import START, TILE, agreement, rasters  # noqa: E402,F401  (fixtures below use them)



@pytest.fixture(scope="session")
def scene(tmp_path_factory):
    from minewatch.demo.scene import generate_scene

    return generate_scene(tmp_path_factory.mktemp("monitor") / "scene", seed=11, size_px=64, cadence_days=20,
                          start="2019-01-01", end="2021-12-31")


@pytest.fixture(scope="session")
def acquisitions(scene) -> list[str]:
    """Acquisition ids of the scene, by date."""
    from minewatch.imagery.catalog import open_catalog

    return [it.id for it in sorted(open_catalog(scene.catalog), key=lambda it: (it.day, it.id))]


@pytest.fixture(scope="session")
def n_history(scene) -> int:
    from minewatch.imagery.catalog import open_catalog

    return sum(it.date < START for it in open_catalog(scene.catalog))






@pytest.fixture(scope="session")
def oneshot(scene, acquisitions, tmp_path_factory):
    """The state built in one go over every acquisition: the reference of the incremental tests."""
    from minewatch.run.monitor import MonitorInitRequest, monitor_init

    state = tmp_path_factory.mktemp("oneshot") / "state"
    monitor_init(MonitorInitRequest(state, scene.catalog, START, licences=scene.licences, tile_size=TILE))
    return state
