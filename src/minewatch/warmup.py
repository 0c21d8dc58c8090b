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
    from minewatch.pipeline import AnalysisRequest, run_analysis

    with tempfile.TemporaryDirectory(prefix="minewatch-warmup-") as tmp:
        scene = generate_scene(Path(tmp) / "scene", seed=1, size_px=60, cadence_days=40)
        run_analysis(AnalysisRequest(
            catalog=scene.catalog, out=Path(tmp) / "out", start=dt.date.fromisoformat(scene.monitor_start),
            end=dt.date.fromisoformat(scene.monitor_end), licences=scene.licences, receptors=scene.receptors,
            dem=scene.dem,
        ))


if __name__ == "__main__":
    warm_up()
