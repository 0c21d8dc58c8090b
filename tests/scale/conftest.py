"""A small demo scene for the scale tests, and helpers to compare run folders."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

#: Outputs that must be byte-identical between two runs of the same request.
SAME_BYTES = ("disturbance_date.tif", "confidence.tif", "footprint.tif", "assessment.tif", "alerts.geojson")
#: Summary keys that hold wall-clock times or where the run was written.
TIMESTAMPS = ("started", "finished", "started_at", "finished_at", "generated_at", "run_seconds")


@pytest.fixture(scope="session")
def tiny_scene(tmp_path_factory) -> Path:
    """A reduced demo scene (64 x 64 px, 30-day cadence): 4 tiles of 32 px, 16 of 16 px."""
    from minewatch.demo.scene import generate_scene

    return generate_scene(tmp_path_factory.mktemp("tiny") / "scene", seed=5, size_px=64, cadence_days=30,
                          start="2018-01-01")


def _strip(doc, drop: tuple[str, ...]):
    if isinstance(doc, dict):
        return {k: _strip(v, drop) for k, v in doc.items() if k not in drop}
    if isinstance(doc, list):
        return [_strip(v, drop) for v in doc]
    return doc


def assert_same_run(a: Path, b: Path, *, tile_sizes_differ: bool = False) -> None:
    """The rasters and alerts byte for byte, the summary except its timestamps (and the
    tile size it records, when the runs used different ones)."""
    for name in SAME_BYTES:
        assert (a / name).read_bytes() == (b / name).read_bytes(), name
    drop = TIMESTAMPS + (("tile_size",) if tile_sizes_differ else ())
    sa = _strip(json.loads((a / "summary.json").read_text()), drop)
    sb = _strip(json.loads((b / "summary.json").read_text()), drop)
    assert sa == sb


def analyze_args(scene, out: Path, *extra: str) -> list[str]:
    """``minewatch analyze`` of ``scene`` into ``out`` with 32 px tiles (``extra`` appended)."""
    return ["analyze", str(scene.catalog), "--licences", str(scene.licences), "--start", "2020-01-01",
            "--end", "2024-12-31", "--out", str(out), "--tile-size", "32", *extra]


@pytest.fixture(scope="session")
def serial_run(tiny_scene, tmp_path_factory) -> Path:
    """The tiny scene analysed serially (the reference the other runs must equal)."""
    from minewatch.cli.main import main

    out = tmp_path_factory.mktemp("serial") / "out"
    assert main(analyze_args(tiny_scene, out, "--scheduler", "serial")) == 0
    return out
