"""A full-size demo scene and its analysis, made once per test session through the CLI."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from minewatch.cli.main import main


@pytest.fixture(scope="session")
def demo_run(tmp_path_factory) -> dict:
    """Run ``minewatch demo`` once (the README's first command, default seed)."""
    out = tmp_path_factory.mktemp("demo")
    rc = main(["demo", "--out", str(out)])
    assert rc == 0
    return {
        "out": out,
        "scene": out / "scene",
        "result": out / "result",
        "summary": json.loads((out / "result" / "summary.json").read_text()),
        "accuracy": json.loads((out / "result" / "accuracy.json").read_text()),
        "truth": json.loads((out / "scene" / "truth" / "truth.json").read_text()),
    }


@pytest.fixture(scope="session")
def small_scene(tmp_path_factory) -> Path:
    """A reduced demo scene (120 x 120 px, 30-day cadence) for the error paths."""
    from minewatch.demo.scene import generate_scene

    return generate_scene(tmp_path_factory.mktemp("small") / "scene", seed=3, size_px=120, cadence_days=30,
                          start="2018-01-01")
