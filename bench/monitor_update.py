"""Cost of one ``minewatch monitor update`` with one new acquisition against a batch ``analyze``
over the full history, on the demo scene.

One command::

    PYTHONPATH=src python bench/monitor_update.py [--seed 7] [--size 400] [--tile-size 256]

1. Makes (or reuses, cached in ``/tmp/monitor-bench-*``) the demo scene (``minewatch demo``'s:
   400 x 400 px, a 10-day cadence 2019-2024, monitoring from 2020-01-01).
2. ``monitor init`` over every acquisition but the last (untimed for the ratio; printed).
3. ``monitor update`` adding the last acquisition: wall time of the whole use case (reading the
   new acquisition's COGs, screening against the buffered neighbours, the scan, writing the new
   state generation and ``latest/``, publishing). Run 3 times on copies of the state; the median.
4. A batch ``analyze`` (run_monitoring, no evidence package, no river signal: the detection part
   of the contract) over the same acquisitions: wall time.
5. Levels and dates of the updated state against the batch run (share of equal pixels).

Kernels are compiled (an untimed warm-up on a small scene) before anything is timed. The last line
is machine-readable: ``update_s=.. batch_s=.. speedup=.. init_s=.. level_agreement=.. date_agreement=..``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import shutil
import statistics
import time
from pathlib import Path

import numpy as np
import rasterio

from minewatch.imagery.catalog import open_catalog
from minewatch.run import MonitoringRequest, Period, RunInputs, run_monitoring
from minewatch.run.monitor import MonitorInitRequest, MonitorUpdateRequest, monitor_init, monitor_update
from minewatch.run.request import EvidenceOptions, WaterOptions


def scene(seed: int, size: int) -> Path:
    from minewatch.demo.scene import generate_scene

    out = Path(f"/tmp/monitor-bench-scene-{seed}-{size}")
    if not (out / "scene.json").exists():
        generate_scene(out, seed=seed, size_px=size)
    return out


def read(folder: Path) -> dict[str, np.ndarray]:
    out = {}
    for name in ("alert_level", "disturbance_date"):
        with rasterio.open(folder / f"{name}.tif") as src:
            out[name] = src.read(1)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--size", type=int, default=400)
    ap.add_argument("--tile-size", type=int, default=256)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    start = dt.date(2020, 1, 1)
    root = scene(args.seed, args.size)
    catalog = root / "catalog" / "catalog.json"
    licences = root / "licences.geojson"
    items = sorted(open_catalog(catalog), key=lambda it: (it.day, it.id))
    ids = [it.id for it in items]
    work = Path(f"/tmp/monitor-bench-work-{args.seed}-{args.size}")
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir()
    # warm-up: compile the kernels on a small part of the scene
    warm = work / "warm"
    monitor_init(MonitorInitRequest(warm, catalog, start, acquisitions=tuple(ids[:60]), tile_size=64))
    monitor_update(MonitorUpdateRequest(warm, acquisitions=tuple(ids[:61])))
    print(f"scene {root}: {args.size} x {args.size} px, {len(items)} acquisitions "
          f"({sum(it.date < start for it in items)} history), {items[0].date} .. {items[-1].date}")
    base = work / "base"
    t = time.perf_counter()
    monitor_init(MonitorInitRequest(base, catalog, start, acquisitions=tuple(ids[:-1]), licences=licences,
                                    tile_size=args.tile_size))
    init_s = time.perf_counter() - t
    print(f"monitor init over {len(ids) - 1} acquisitions: {init_s:.2f} s")
    times = []
    for k in range(args.repeat):
        state = work / f"state{k}"
        shutil.copytree(base, state)
        t = time.perf_counter()
        res = monitor_update(MonitorUpdateRequest(state, acquisitions=tuple(ids)))
        times.append(time.perf_counter() - t)
        assert res.added == [ids[-1]]
    update_s = statistics.median(times)
    print(f"monitor update with 1 new acquisition: {update_s:.3f} s (median of {args.repeat}: "
          f"{', '.join(f'{x:.3f}' for x in times)})")
    batch = work / "batch"
    t = time.perf_counter()
    run_monitoring(MonitoringRequest(inputs=RunInputs(catalog=catalog, licences=licences),
                                     period=Period(start, items[-1].date), out=batch,
                                     water=WaterOptions(river_signal=False), evidence=EvidenceOptions(write=False)))
    batch_s = time.perf_counter() - t
    print(f"batch analyze over all {len(ids)} acquisitions (no evidence, no river signal): {batch_s:.2f} s")
    a, b = read(work / "state0" / "latest"), read(batch)
    agree = {k: float((a[k] == b[k]).mean()) for k in a}
    print(f"update / batch: {batch_s / update_s:.1f}x faster; state vs batch: levels equal on "
          f"{100 * agree['alert_level']:.3f} % of pixels, dates on {100 * agree['disturbance_date']:.3f} %")
    print(f"update_s={update_s:.3f} batch_s={batch_s:.2f} speedup={batch_s / update_s:.1f} init_s={init_s:.2f} "
          f"level_agreement={agree['alert_level']:.5f} date_agreement={agree['disturbance_date']:.5f}")


if __name__ == "__main__":
    main()
