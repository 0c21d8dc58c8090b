"""Runs through the CLI for the footprint tests: a small scene (contract, figures, sentences) and a
full-size demo on a seed the rules were not developed on (accuracy floors)."""

from __future__ import annotations

import json

import pytest

from minewatch.cli.main import main


@pytest.fixture(scope="session")
def small_run(tmp_path_factory) -> dict:
    """``minewatch analyze`` on a reduced demo scene (120 x 120 px, 30-day cadence, seed 3)."""
    from minewatch.demo.scene import generate_scene

    root = tmp_path_factory.mktemp("fp-small")
    scene = generate_scene(root / "scene", seed=3, size_px=120, cadence_days=30, start="2018-01-01")
    out = root / "result"
    rc = main(["analyze", str(scene.catalog), "--licences", str(scene.licences), "--receptors",
               str(scene.receptors), "--dem", str(scene.dem), "--start", "2020-01-01", "--end", "2024-12-31",
               "--out", str(out)])
    assert rc == 0
    return {"scene": scene.root, "result": out, "summary": json.loads((out / "summary.json").read_text())}


@pytest.fixture(scope="session")
def unseen_demo(tmp_path_factory) -> dict:
    """``minewatch demo --seed 11`` (the rules were developed on seed 7, the default)."""
    out = tmp_path_factory.mktemp("fp-demo11")
    assert main(["demo", "--out", str(out), "--seed", "11"]) == 0
    return {"scene": out / "scene", "result": out / "result",
            "summary": json.loads((out / "result" / "summary.json").read_text()),
            "accuracy": json.loads((out / "result" / "accuracy.json").read_text())}
