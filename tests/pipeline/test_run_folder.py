"""A run folder is published whole: OUT is checked before any work, and a run killed at any moment
leaves either the previous complete run or the new complete one, never a mix."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from minewatch.cli.main import main
from minewatch.errors import InputError
from minewatch.run.folder import STAGING_TAG, RunFolder


def _args(scene, out: Path) -> list[str]:
    return ["analyze", str(scene.catalog), "--licences", str(scene.licences), "--start", "2020-01-01",
            "--end", "2024-12-31", "--out", str(out)]


def test_out_is_checked_before_any_work(small_scene, tmp_path, capsys):
    a_file = tmp_path / "a_file"
    a_file.write_text("keep me")
    not_a_run = tmp_path / "photos"
    not_a_run.mkdir()
    (not_a_run / "holiday.jpg").write_text("keep me")
    for out, needle in ((a_file, "is a file"), (a_file / "below", "is a file, so nothing can be written below it"),
                        (not_a_run, "holds files that are not a minewatch run")):
        rc = main(_args(small_scene, out))
        err = capsys.readouterr().err
        assert rc == 2 and needle in " ".join(err.split()) and "Traceback" not in err, err
    assert a_file.read_text() == "keep me" and (not_a_run / "holiday.jpg").read_text() == "keep me"
    assert not list(tmp_path.glob(f".*{STAGING_TAG}*")), "a refused run leaves no staging folder"


def test_unwritable_parent_is_refused(tmp_path):
    if os.geteuid() == 0:
        pytest.skip("root may write anywhere: no unwritable folder to test with")
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o555)
    try:
        with pytest.raises(InputError, match="permission denied"):
            RunFolder(locked / "out").check()
    finally:
        locked.chmod(0o755)


def _manifest_digest(out: Path) -> str | None:
    path = out / "evidence" / "manifest.json.sha256"
    return path.read_text() if path.exists() else None


def _complete(out: Path) -> bool:
    rc = subprocess.run([sys.executable, "-m", "minewatch", "verify", str(out), "--no-rerun"],
                        capture_output=True, text=True).returncode
    return rc == 0


@pytest.mark.slow
def test_killed_runs_leave_old_or_new_complete_run(small_scene, tmp_path):
    out = tmp_path / "out"
    cmd = [sys.executable, "-m", "minewatch", *_args(small_scene, out)]
    t0 = time.monotonic()
    subprocess.run(cmd, check=True, capture_output=True)
    duration = time.monotonic() - t0
    old = _manifest_digest(out)
    assert old and _complete(out)
    rng = random.Random(20261202)
    # kill times over the whole run, half of them in its last third (the output phase)
    delays = sorted([rng.uniform(0.05, 1.0) for _ in range(3)] + [rng.uniform(0.66, 1.05) for _ in range(3)])
    outcomes = []
    for frac in delays:
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(frac * duration)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        assert out.is_dir(), f"killed at {frac:.2f} of the run: OUT is missing"
        digest = _manifest_digest(out)
        assert digest is not None and _complete(out), f"killed at {frac:.2f}: OUT is not a complete run"
        summary = json.loads((out / "summary.json").read_text())
        manifest = json.loads((out / "evidence" / "manifest.json").read_text())
        hashed = {o["path"]: o["sha256"] for o in manifest["outputs"]}
        assert "summary.json" in hashed, "summary and manifest belong to the same run"
        outcomes.append("old" if digest == old else "new")
        old = digest
        assert summary["minewatch_version"]
    # the staging folders of killed runs are removed by the next run
    subprocess.run(cmd, check=True, capture_output=True)
    assert not list(tmp_path.glob(f".*{STAGING_TAG}*")), "stale staging folders are cleaned"
    assert _complete(out)
    assert outcomes, outcomes
