"""A run killed with SIGKILL and restarted with the same command redoes only the unfinished
tiles and ends with the outputs of an uninterrupted run."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from minewatch.run import DetectionOptions, MonitoringRequest, Period, RunInputs, run_monitoring
from minewatch.run.checkpoint import TAG
from minewatch.run.cluster import SerialExecutor

from .conftest import analyze_args, assert_same_run

REPO = Path(__file__).resolve().parents[2]


class CountingExecutor(SerialExecutor):
    """The serial executor, counting the tiles it is given to compute."""

    tasks = 0

    def map(self, fn, shared, per_task, keys):
        self.tasks += len(per_task)
        yield from super().map(fn, shared, per_task, keys)


def test_killed_client_resumes_with_only_the_unfinished_tiles(tiny_scene, serial_run, tmp_path):
    out = tmp_path / "out"
    args = analyze_args(tiny_scene, out, "--scheduler", "serial")
    args[args.index("--tile-size") + 1] = "16"  # 16 tiles
    env = {**os.environ, "PYTHONPATH": str(REPO / "src")}
    proc = subprocess.Popen([sys.executable, "-m", "minewatch", *args], env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    deadline = time.time() + 600
    while time.time() < deadline and proc.poll() is None:
        if len(list(tmp_path.glob(f".out{TAG}*/tile-*.pkl"))) >= 4:
            break
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert not out.exists(), "a killed run publishes nothing"
    done = len(list(tmp_path.glob(f".out{TAG}*/tile-*.pkl")))
    assert 4 <= done < 16, done

    executor = CountingExecutor()
    req = MonitoringRequest(inputs=RunInputs(catalog=tiny_scene.catalog, licences=tiny_scene.licences),
                            period=Period(*(__import__("datetime").date.fromisoformat(d)
                                            for d in ("2020-01-01", "2024-12-31"))),
                            out=out, detection=DetectionOptions(tile_size=16))
    run_monitoring(req, executor=executor)
    assert executor.tasks == 16 - done, "only the unfinished tiles are computed again"
    assert_same_run(serial_run, out, tile_sizes_differ=True)
    assert not list(tmp_path.glob(f".out{TAG}*")), "the checkpoint goes once the run is published"
