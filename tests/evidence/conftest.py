"""One signed analysis of the tiny synthetic scene, shared by the evidence tests (module scope)."""

from __future__ import annotations

import shutil
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
from scene_builder import analyze_args, build_scene  # noqa: E402


@dataclass
class SignedRun:
    base: Path  # holds scene/ (inputs), run/ (outputs) and key, key.pub
    scene: object
    run: Path
    key: Path


@pytest.fixture(scope="session")
def signed_run(tmp_path_factory) -> SignedRun:
    """scene + `minewatch analyze --sign` into base/run (never modified by tests: copy it first)."""
    from minewatch.cli.main import main

    base = tmp_path_factory.mktemp("evidence-base")
    scene = build_scene(base / "scene")
    key = base / "key"
    assert main(["keys", "generate", str(key)]) == 0
    run = base / "run"
    assert main(analyze_args(scene, run, "--sign", str(key))) == 0
    return SignedRun(base, scene, run, key)


@pytest.fixture
def run_copy(signed_run, tmp_path) -> Path:
    """A private copy of scene/ and run/ (same relative layout); returns the run folder."""
    dst = tmp_path / "copy"
    shutil.copytree(signed_run.base / "scene", dst / "scene")
    shutil.copytree(signed_run.run, dst / "run")
    return dst / "run"
