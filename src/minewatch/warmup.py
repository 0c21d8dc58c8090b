"""Compile minewatch's Numba kernels ahead of a run by analysing a tiny synthetic scene.

Numba compiles a kernel the first time it is called with given argument types and caches
the machine code on disk. ``minewatch demo`` starts this module in a second process while
it writes the demo scene, so the compilation runs on the other core and the analysis then
loads every kernel from the cache. Run it by hand with ``python -m minewatch.warmup``.
"""

from __future__ import annotations

import datetime as dt
import tempfile
from pathlib import Path


def warm_up() -> None:
    """Generate and analyse a 60 x 60 px scene in a temporary folder (same code paths and dtypes
    as a real run, so every kernel lands in the Numba cache)."""
    from minewatch.demo.scene import generate_scene
    from minewatch.run import MonitoringRequest, Period, RunInputs, run_monitoring

    with tempfile.TemporaryDirectory(prefix="minewatch-warmup-") as tmp:
        scene = generate_scene(Path(tmp) / "scene", seed=1, size_px=60, cadence_days=40)
        run_monitoring(MonitoringRequest(
            inputs=RunInputs(catalog=scene.catalog, licences=scene.licences, receptors=scene.receptors,
                             dem=scene.dem),
            period=Period(dt.date.fromisoformat(scene.monitor_start), dt.date.fromisoformat(scene.monitor_end)),
            out=Path(tmp) / "out",
        ))


if __name__ == "__main__":
    warm_up()
