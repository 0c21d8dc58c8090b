"""SIGKILL during ``minewatch monitor update`` leaves the previous state whole; the next update
completes with the same result as an update never interrupted."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
from monitor_helpers import START, TILE, rasters

from minewatch.run.monitor import MonitorInitRequest, MonitorUpdateRequest, monitor_init, monitor_update
from minewatch.run.monitor_state import load_tile_state, read_state

SRC = str(Path(__file__).resolve().parents[2] / "src")


def _check_whole(state: Path, generations: set[int]) -> int:
    doc = read_state(state)
    assert doc["generation"] in generations
    for tile in (state / "tiles").glob("*.npz"):
        load_tile_state(tile)
    assert len(list((state / "tiles").glob("*.npz"))) == 4
    assert (state / "latest" / "summary.json").is_file()
    rasters(state / "latest")
    return doc["generation"]


def test_kill_at_random_moments(scene, acquisitions, n_history, oneshot, tmp_path):
    state = tmp_path / "state"
    monitor_init(MonitorInitRequest(state, scene.catalog, START, acquisitions=tuple(acquisitions[:n_history + 8]),
                                    licences=scene.licences, tile_size=TILE))
    env = {**os.environ, "PYTHONPATH": SRC}
    cmd = [sys.executable, "-m", "minewatch", "monitor", "update", str(state)]
    rng = random.Random(4)
    killed = 0
    for delay in sorted(rng.uniform(0.5, 9.0) for _ in range(5)):
        proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(delay)
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
            killed += 1
        proc.wait()
        generation = _check_whole(state, {0, 1})
        if generation == 1:  # this one finished before the kill: nothing left to interrupt
            break
    assert killed >= 1
    res = monitor_update(MonitorUpdateRequest(state))
    assert _check_whole(state, {1}) == 1
    if res.added:
        assert res.added == acquisitions[n_history + 8:]
    got, ref = rasters(state / "latest"), rasters(oneshot / "latest")
    assert np.array_equal(got["alert_level"], ref["alert_level"])
    assert np.array_equal(got["disturbance_date"], ref["disturbance_date"])
