"""Benchmark: end-to-end ``minewatch analyze`` throughput and memory as the AOI and the workers grow.

One command::

    PYTHONPATH=$PWD/src python bench/scale.py [--sizes 1000,3000] [--dates 100] [--baseline-size 1000]

For each size, a synthetic AOI (bench/scale_aoi.py; generated once into /tmp/scale-aoi-*, then
reused) is analysed by this tree's ``minewatch analyze`` in a subprocess on a LocalCluster of one
worker (``--scheduler local --workers 1``); at the largest size also with two workers. The
baseline is ``analyze`` as it was before tiles became tasks (commit ``BASELINE``, extracted with
``git archive`` into /tmp/scale-baseline-<commit>/ and run with the same interpreter), on the
``--baseline-size`` AOI. Every process of a run is sampled with psutil (every 0.2 s) for its
resident memory; "per worker" is the largest worker process (the client process for the
baseline, which has no workers). Each tree runs once on the smallest AOI first, discarded, so
Numba's compilation is not counted. Throughput is pixel-dates per second per core used
(workers, or the machine's cores for the baseline whose Numba kernels use them all).

The machine's load is printed before and after (``uptime``): on a shared machine the
figures move with it. The last line is machine-readable::

    speedup_vs_baseline=X rss_mb_1000=A rss_mb_3000=B workers2_speedup=Y

``speedup_vs_baseline``: this tree's throughput (pixel-dates/s, best worker count) over the
baseline's at ``--baseline-size``; ``rss_mb_<size>``: peak RSS per worker; ``workers2_speedup``:
wall time with one worker over wall time with two at the largest size.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil

sys.path.insert(0, str(Path(__file__).resolve().parent))
from scale_aoi import aoi_period, make_aoi  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
#: ``analyze`` as it was before tiles became tasks (the branch point of this work).
BASELINE = "8ae1437"


def uptime() -> str:
    return subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()


def baseline_src() -> Path:
    dest = Path(f"/tmp/scale-baseline-{BASELINE}")
    if not (dest / "src" / "minewatch").is_dir():
        dest.mkdir(parents=True, exist_ok=True)
        arch = subprocess.run(["git", "-C", str(REPO), "archive", BASELINE, "src/minewatch"], capture_output=True,
                              check=True).stdout
        subprocess.run(["tar", "-x", "-C", str(dest)], input=arch, check=True)
    return dest / "src"


def run_analyze(src: Path, aoi: Path, n_dates: int, extra: list[str]) -> dict:
    """Run ``analyze`` on ``aoi`` with ``src`` first on the path; wall time and peak RSS per process kind."""
    start, end = aoi_period(n_dates)
    out = Path(tempfile.mkdtemp(prefix="scale-out-", dir="/tmp")) / "out"
    cmd = [sys.executable, "-m", "minewatch", "analyze", str(aoi / "items.json"), "--licences",
           str(aoi / "licences.geojson"), "--start", start.isoformat(), "--end", end.isoformat(), "--out", str(out),
           *extra]
    env = {**os.environ, "PYTHONPATH": str(src)}
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    root = psutil.Process(proc.pid)
    peak: dict[int, int] = {}
    kind: dict[int, str] = {}
    while proc.poll() is None:
        try:
            procs = [root, *root.children(recursive=True)]
        except psutil.NoSuchProcess:
            break
        for p in procs:
            try:
                rss = p.memory_info().rss
                if p.pid not in kind:
                    line = " ".join(p.cmdline())
                    kind[p.pid] = "client" if p.pid == root.pid else (
                        "worker" if "spawn_main" in line or "forkserver" in line else "other")
            except (psutil.NoSuchProcess, psutil.AccessDenied):
                continue
            peak[p.pid] = max(peak.get(p.pid, 0), rss)
        time.sleep(0.2)
    wall = time.perf_counter() - t0
    log = proc.stdout.read().decode(errors="replace")
    if proc.returncode != 0:
        raise RuntimeError(f"analyze failed ({proc.returncode}):\n{log[-3000:]}")
    summary = json.loads((out / "summary.json").read_text())
    mb = {k: max((v for p, v in peak.items() if kind.get(p) == k), default=0) / 2**20 for k in ("client", "worker")}
    subprocess.run(["rm", "-rf", str(out.parent)])
    return {"wall_s": wall, "client_mb": mb["client"], "worker_mb": mb["worker"],
            "n_alerts": len(summary["alerts"]), "area_ha": summary["disturbance"]["total_area_ha"]}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sizes", default="1000,3000", help="AOI sizes in px (comma-separated)")
    ap.add_argument("--dates", type=int, default=100)
    ap.add_argument("--baseline-size", type=int, default=1000, help="AOI size the baseline runs on (0: skip)")
    ap.add_argument("--tile-size", type=int, default=256, help="tile size (tasks: (size / tile)^2)")
    args = ap.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    cores = os.cpu_count() or 1
    print(f"load before: {uptime()}  ({cores} cores)")
    src = REPO / "src"
    # warm-up, discarded: Numba compiles (and caches) each tree's kernels on its first run
    warm = make_aoi(min(sizes), args.dates)
    for tree in (src, *((baseline_src(),) if args.baseline_size else ())):
        run_analyze(tree, warm, args.dates, [] if tree != src else ["--scheduler", "local", "--workers", "1"])
    rows = {}
    for size in sizes:
        t0 = time.perf_counter()
        aoi = make_aoi(size, args.dates)
        print(f"AOI {size} x {size} px x {args.dates} dates: {aoi} ({time.perf_counter() - t0:.0f} s to make/reuse)")
        workers = (1, 2) if size == max(sizes) else (1,)
        for n in workers:
            r = run_analyze(src, aoi, args.dates, ["--scheduler", "local", "--workers", str(n),
                                                   "--tile-size", str(args.tile_size)])
            pd = size * size * args.dates
            r["pd_per_s_core"] = pd / r["wall_s"] / n
            rows[(size, n)] = r
            print(f"  this tree, {n} worker(s): {r['wall_s']:.1f} s, {r['pd_per_s_core']:.0f} pixel-dates/s/core, "
                  f"peak RSS per worker {r['worker_mb']:.0f} MB, client {r['client_mb']:.0f} MB, "
                  f"{r['n_alerts']} alerts, {r['area_ha']:.1f} ha")
    base = None
    if args.baseline_size:
        aoi = make_aoi(args.baseline_size, args.dates)
        base = run_analyze(baseline_src(), aoi, args.dates, [])
        pd = args.baseline_size ** 2 * args.dates
        base["pd_per_s"] = pd / base["wall_s"]
        print(f"  baseline {BASELINE} at {args.baseline_size} px (serial, Numba on {cores} cores): "
              f"{base['wall_s']:.1f} s, {base['pd_per_s'] / cores:.0f} pixel-dates/s/core, peak RSS "
              f"{base['client_mb']:.0f} MB, {base['n_alerts']} alerts, {base['area_ha']:.1f} ha")
    print(f"load after: {uptime()}")
    big = max(sizes)
    w2 = rows[(big, 1)]["wall_s"] / rows[(big, 2)]["wall_s"] if (big, 2) in rows else float("nan")
    speedup = float("nan")
    if base is not None and (args.baseline_size, 1) in rows:
        mine = rows[(args.baseline_size, 1)]
        best = max(mine["wall_s"] ** -1, (rows[(args.baseline_size, 2)]["wall_s"] ** -1)
                   if (args.baseline_size, 2) in rows else 0)
        speedup = best / (base["wall_s"] ** -1)
    rss = " ".join(f"rss_mb_{s}={rows[(s, 1)]['worker_mb']:.0f}" for s in sizes)
    print(f"speedup_vs_baseline={speedup:.2f} {rss} workers2_speedup={w2:.2f}")


if __name__ == "__main__":
    main()
