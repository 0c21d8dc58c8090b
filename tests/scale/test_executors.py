"""Tiles as Dask tasks: the same outputs whether the tiles run serially in this process, on a
LocalCluster, or on a separate scheduler with two worker processes on loopback; tile seams do not
split alerts; a killed worker's tiles are redone."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from minewatch.cli.main import main
from minewatch.errors import InputError, WorkerError
from minewatch.run.cluster import open_executor, resolve_scheduler

from .conftest import analyze_args as _args
from .conftest import assert_same_run

REPO = Path(__file__).resolve().parents[2]


@contextlib.contextmanager
def _dask_cluster(folder: Path):
    """A real ``dask scheduler`` and two ``dask worker`` processes on loopback; yields
    (address, worker processes)."""
    env = {**os.environ, "PYTHONPATH": str(REPO / "src"), "NUMBA_NUM_THREADS": "1"}
    sched_file = folder / "scheduler.json"
    procs = [subprocess.Popen([sys.executable, "-m", "dask", "scheduler", "--host", "127.0.0.1", "--port", "0",
                               "--no-dashboard", "--scheduler-file", str(sched_file)], env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)]
    try:
        deadline = time.time() + 120
        address = None
        while address is None and time.time() < deadline:
            try:
                address = json.loads(sched_file.read_text())["address"]
            except (OSError, ValueError, KeyError):  # not written yet, or half written
                time.sleep(0.2)
        workers = [subprocess.Popen([sys.executable, "-m", "dask", "worker", address, "--nthreads", "1",
                                     "--nworkers", "1", "--no-nanny", "--no-dashboard", "--name", f"w{k}"],
                                    env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                   for k in range(2)]
        procs += workers
        from distributed import Client

        with Client(address, timeout="30s") as c:
            c.wait_for_workers(2, timeout=90)
        yield address, workers
    finally:
        for p in reversed(procs):
            if p.poll() is None:
                p.terminate()
        for p in procs:
            try:
                p.wait(timeout=20)
            except subprocess.TimeoutExpired:
                p.kill()


@pytest.fixture(scope="module")
def dask_cluster(tmp_path_factory):
    with _dask_cluster(tmp_path_factory.mktemp("cluster")) as c:
        yield c


def test_local_cluster_gives_the_serial_outputs(tiny_scene, serial_run, tmp_path):
    out = tmp_path / "local"
    assert main(_args(tiny_scene, out, "--scheduler", "local", "--workers", "2")) == 0
    assert_same_run(serial_run, out)


def test_external_scheduler_with_two_workers_gives_the_serial_outputs(tiny_scene, serial_run, tmp_path,
                                                                     dask_cluster, monkeypatch):
    address, _ = dask_cluster
    out = tmp_path / "external"
    monkeypatch.setenv("MINEWATCH_SCHEDULER", address)  # the environment variable, not the option
    assert main(_args(tiny_scene, out)) == 0
    assert_same_run(serial_run, out)
    from distributed import Client

    with Client(address) as c:  # both workers took tiles
        done = c.run(lambda dask_worker: dask_worker.state.executed_count)
    assert len(done) == 2 and all(n > 0 for n in done.values()), done


def test_tile_seams_do_not_split_alerts(tiny_scene, serial_run, tmp_path):
    """A pit over a seam of 32 px tiles is one alert: the alerts of 16 px tiles and of one
    512 px tile are those of the 32 px tiles, and some alert crosses a seam."""
    alerts = json.loads((serial_run / "alerts.geojson").read_text())["features"]
    assert alerts, "the scene must have alerts for this test to mean anything"
    summary = json.loads((serial_run / "summary.json").read_text())
    res = summary["grid"]["resolution_m"]
    import rasterio

    with rasterio.open(serial_run / "disturbance_date.tif") as src:
        transform = src.transform
    import pyproj
    import shapely
    from shapely.geometry import shape

    to_grid = pyproj.Transformer.from_crs("EPSG:4326", summary["grid"]["crs"], always_xy=True).transform
    crossing = 0
    for a in alerts:
        x0, y0, x1, y1 = shapely.transform(shape(a["geometry"]), lambda xy: np.column_stack(to_grid(*xy.T))).bounds
        c0, c1 = (x0 - transform.c) / res, (x1 - transform.c) / res
        r0, r1 = (transform.f - y1) / res, (transform.f - y0) / res
        crossing += any(lo < 32 < hi for lo, hi in ((c0, c1), (r0, r1)))
    assert crossing >= 1, "no alert straddles the 32 px seam"
    for size in ("16", "512"):
        out = tmp_path / f"t{size}"
        args = _args(tiny_scene, out)
        args[args.index("--tile-size") + 1] = size
        assert main(args) == 0
        assert_same_run(serial_run, out, tile_sizes_differ=True)


def test_a_killed_worker_s_tiles_are_redone(tiny_scene, serial_run, tmp_path):
    """SIGKILL of a worker during the run: the other worker redoes its tiles; same outputs."""
    with _dask_cluster(tmp_path) as (address, workers):
        _run_and_kill_a_worker(tiny_scene, serial_run, tmp_path, address, workers)


def _run_and_kill_a_worker(tiny_scene, serial_run, tmp_path, address, workers):
    out = tmp_path / "killed-worker"
    env = {**os.environ, "PYTHONPATH": str(REPO / "src")}
    args = _args(tiny_scene, out, "--scheduler", address)
    args[args.index("--tile-size") + 1] = "16"
    client = subprocess.Popen([sys.executable, "-m", "minewatch", *args], env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT)
    deadline = time.time() + 300
    while time.time() < deadline and client.poll() is None:
        if any(tmp_path.glob(".killed-worker.tiles-*/tile-*.pkl")):
            break
        time.sleep(0.1)
    workers[0].send_signal(signal.SIGKILL)
    output = client.communicate(timeout=600)[0].decode()
    assert client.returncode == 0, output
    assert workers[0].poll() is not None, "the worker was killed during the run"
    assert_same_run(serial_run, out, tile_sizes_differ=True)


def test_scheduler_mistakes_are_one_line_errors(tiny_scene, tmp_path, capsys):
    with pytest.raises(InputError, match="unknown"):
        resolve_scheduler("nowhere")
    rc = main(_args(tiny_scene, tmp_path / "x", "--scheduler", "tcp://127.0.0.1:9"))
    err = capsys.readouterr().err
    assert rc == 2 and "cannot reach the Dask scheduler" in " ".join(err.split()) and "Traceback" not in err
    assert not (tmp_path / "x").exists()


def test_workers_that_cannot_read_the_imagery_are_named(dask_cluster, tmp_path):
    address, _ = dask_cluster
    with open_executor(address) as ex, pytest.raises(WorkerError, match="cannot read the imagery"):
        ex.check_workers([str(tmp_path / "not-there.tif")])
