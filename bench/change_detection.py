"""Benchmark: minewatch's change-detection engine against bfast and pyxccd (COLD).

One command builds a fixed synthetic stack (default 1000 x 1000 pixels x 120 dates, 30 %
cloud gaps, seasonal signal, noise, abrupt vegetation-loss breaks of known dates on 20 %
of the pixels) and prints, from one run, each tool's pixels/s, peak memory (RSS of its
own process), precision, recall, F1 and median break-date error against the injected
breaks.

    python bench/change_detection.py                 # CPU: minewatch vs bfast vs COLD
    python bench/change_detection.py --gpu           # + GPU backend at 10000 x 10000 x 120

* minewatch runs on every pixel, in row blocks generated on the fly (only
  ``detect_breaks`` is timed; Numba compilation happens in an untimed warm-up): its
  COLD-style test with default settings on COLD's five change bands (green, red, NIR,
  SWIR1, SWIR2; the headline row), the same on three indices (NDVI, BSI, SWIR1), and its
  MOSUM test with bfast's settings on NDVI.
* bfast (PyPI, bfastmonitor, NDVI, k=3, h=0.25, level 0.05) runs in its own virtual
  environment (``bash bench/bfast_env/setup.sh``) with its fastest backend that works
  here: OpenCL on every pixel, else the Python backend on the subsample.
* pyxccd's COLD (7 bands, its defaults: 6 consecutive observations, p=0.99) runs on a
  fixed random subsample (default 10 000 pixels) of the same stack: it is ~1000 x slower.

The last line is machine-readable:
``speedup_vs_bfast=<x> f1=<minewatch f1> bfast_f1=<bfast f1> cold_f1=<COLD f1 or nan>``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))

from minewatch.analysis.change.synthetic import (  # noqa: E402
    StackSpec,
    indices_from_bands,
    make_rows,
)

DEFAULT_BFAST_PY = os.environ.get("MINEWATCH_BFAST_PYTHON", "/work/bfast-venv/bin/python")
BFAST_K = 3  # bfast's OpenCL backend needs k >= 3; minewatch's MOSUM row uses the same
EPOCH_ORDINAL = dt.date(1970, 1, 1).toordinal()


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def spec_from(args) -> StackSpec:
    return StackSpec(height=args.size, width=args.size, n_dates=args.dates, seed=args.seed)


def metrics(flag, date, tflag, tdate) -> dict:
    flag = np.asarray(flag, bool).ravel()
    tflag = np.asarray(tflag, bool).ravel()
    tp = int((flag & tflag).sum())
    precision = tp / max(int(flag.sum()), 1)
    recall = tp / max(int(tflag.sum()), 1)
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    hit = flag & tflag
    err = np.abs(np.asarray(date).ravel()[hit].astype(np.int64) - np.asarray(tdate).ravel()[hit])
    return {
        "precision": precision,
        "recall": recall,
        "f1": f1,
        "median_date_error_days": float(np.median(err)) if err.size else float("nan"),
    }


# --------------------------------------------------------------------------- workers


def worker_prepare(args, work: Path) -> dict:
    """Truth, the subsample, and the NDVI stack bfast reads (written block by block)."""
    spec = spec_from(args)
    H, W, T = spec.height, spec.width, spec.n_dates
    rng = np.random.default_rng(12345)
    n_sub = min(args.subsample, H * W)
    sub = np.sort(rng.choice(H * W, n_sub, replace=False))
    tflag = np.zeros((H, W), bool)
    tdate = np.zeros((H, W), np.int64)
    ndvi = None
    if args.bfast_full:
        ndvi = np.lib.format.open_memmap(work / "ndvi.npy", "w+", np.float32, (T, H, W))
    cold = np.empty((T, 7, n_sub), np.float32)
    sub_ndvi = np.empty((T, n_sub), np.float32)
    sy, sx = np.divmod(sub, W)
    for y0 in range(0, H, args.block_rows):
        y1 = min(H, y0 + args.block_rows)
        bands, f, d = make_rows(spec, y0, y1)
        tflag[y0:y1], tdate[y0:y1] = f, d
        nd = indices_from_bands(bands)[:, 0]
        if ndvi is not None:
            ndvi[:, y0:y1] = nd
        m = (sy >= y0) & (sy < y1)
        cold[:, :, m] = bands[:, :, sy[m] - y0, sx[m]]
        sub_ndvi[:, m] = nd[:, sy[m] - y0, sx[m]]
    if ndvi is not None:
        ndvi.flush()
        del ndvi
    np.save(work / "truth_flag.npy", tflag)
    np.save(work / "truth_date.npy", tdate)
    np.save(work / "sub_idx.npy", sub)
    np.save(work / "cold_bands.npy", cold)
    side = int(np.ceil(np.sqrt(n_sub)))
    pad = np.full((T, side * side), np.nan, np.float32)
    pad[:, :n_sub] = sub_ndvi
    (work / "bfast_sub").mkdir(exist_ok=True)
    np.save(work / "bfast_sub" / "values.npy", pad.reshape(T, side, side))
    np.save(work / "bfast_sub" / "days.npy", spec.days)
    if args.bfast_full:
        (work / "bfast_full").mkdir(exist_ok=True)
        os.replace(work / "ndvi.npy", work / "bfast_full" / "values.npy")
        np.save(work / "bfast_full" / "days.npy", spec.days)
    return {"subsample": n_sub, "break_share": float(tflag.mean())}


def worker_minewatch(args, work: Path, method: str, backend: str) -> dict:
    """minewatch on every pixel, row block by row block; only detect_breaks is timed."""
    from minewatch.analysis.change import ChangeParams, detect_breaks

    spec = spec_from(args)
    H, W = spec.height, spec.width
    if method == "mosum":
        params = ChangeParams(
            method="mosum", harmonics=BFAST_K, period_days=365, rmse_floor=0.0,
            min_history_obs=6,
        )
    else:
        params = ChangeParams(method="cold")

    def inputs(bands):
        if method == "cold5":  # COLD's change bands: green, red, NIR, SWIR1, SWIR2
            return np.ascontiguousarray(bands[:, 1:6])
        idx = indices_from_bands(bands)
        return np.ascontiguousarray(idx if method == "cold3" else idx[:, :1])

    # warm-up (Numba compilation / CUDA context), not timed
    b, _, _ = make_rows(StackSpec(height=2, width=16, n_dates=spec.n_dates), 0, 2)
    detect_breaks(inputs(b), spec.days, spec.monitor_day, params, backend)
    flag = np.zeros((H, W), bool)
    date = np.zeros((H, W), np.int32)
    seconds = 0.0
    for y0 in range(0, H, args.block_rows):
        y1 = min(H, y0 + args.block_rows)
        bands, _, _ = make_rows(spec, y0, y1)
        vals = inputs(bands)
        del bands
        t0 = time.perf_counter()
        res = detect_breaks(vals, spec.days, spec.monitor_day, params, backend)
        seconds += time.perf_counter() - t0
        flag[y0:y1], date[y0:y1] = res.flag, res.date
        del vals, res
    np.savez(work / f"minewatch_{method}_{backend}.npz", flag=flag, date=date)
    return {"seconds": seconds, "pixels": H * W, "peak_rss_mb": peak_rss_mb()}


def worker_gpu(args, work: Path) -> dict:
    """GPU backend at gpu_size x gpu_size: one generated row block, streamed repeatedly.

    Generating 10^8 synthetic pixels would take far longer than detecting breaks in them,
    so one block of rows is generated and every row block of the big image is a copy of it
    (it still travels host -> device and back each time; that transfer is timed).
    """
    from minewatch.analysis.change import ChangeParams, detect_breaks
    from minewatch.analysis.change.engine import torch_cuda_available

    if not torch_cuda_available():
        return {"error": "no CUDA device (torch.cuda.is_available() is False)"}
    import torch

    n = args.gpu_size
    rows = args.gpu_block_rows
    spec = StackSpec(height=rows, width=n, n_dates=args.dates, seed=args.seed)
    bands, tflag, tdate = make_rows(spec, 0, rows)
    vals = np.ascontiguousarray(indices_from_bands(bands))
    del bands
    params = ChangeParams(method="cold")
    detect_breaks(vals[:, :, :2, :64], spec.days, spec.monitor_day, params, "gpu")  # warm-up
    torch.cuda.synchronize()
    seconds, first = 0.0, None
    n_blocks = int(np.ceil(n / rows))
    for _ in range(n_blocks):
        t0 = time.perf_counter()
        res = detect_breaks(vals, spec.days, spec.monitor_day, params, "gpu")
        torch.cuda.synchronize()
        seconds += time.perf_counter() - t0
        first = first or res
    m = metrics(first.flag, first.date, tflag, tdate)
    return {
        "seconds": seconds,
        "pixels": n_blocks * rows * n,
        "peak_rss_mb": peak_rss_mb(),
        "peak_gpu_mb": torch.cuda.max_memory_allocated() / 2**20,
        "device": torch.cuda.get_device_name(0),
        **m,
    }


def worker_cold(args, work: Path) -> dict:
    """pyxccd's COLD on the subsample, pixel by pixel (its per-pixel API)."""
    from pyxccd import cold_detect

    spec = spec_from(args)
    bands = np.load(work / "cold_bands.npy")
    T, _, n = bands.shape
    ordinal = (spec.days + EPOCH_ORDINAL).astype(np.int64)
    mon = spec.monitor_day + EPOCH_ORDINAL
    flag = np.zeros(n, bool)
    date = np.zeros(n, np.int64)
    refl = np.round(bands[:, :6] * 10000.0)
    therm = np.round((bands[:, 6] - 273.15) * 100.0)
    seconds = 0.0
    for i in range(n):
        ok = np.isfinite(bands[:, 0, i])
        r = refl[ok, :, i].astype(np.int64)
        th = therm[ok, i].astype(np.int64)
        qa = np.zeros(int(ok.sum()), np.int64)
        t0 = time.perf_counter()
        rec = cold_detect(ordinal[ok], r[:, 0].copy(), r[:, 1].copy(), r[:, 2].copy(),
                          r[:, 3].copy(), r[:, 4].copy(), r[:, 5].copy(), th, qa)
        seconds += time.perf_counter() - t0
        brk = sorted(int(s["t_break"]) for s in rec if s["t_break"] >= mon)
        if brk:
            flag[i] = True
            date[i] = brk[0] - EPOCH_ORDINAL
    np.savez(work / "cold.npz", flag=flag, date=date)
    return {"seconds": seconds, "pixels": n, "peak_rss_mb": peak_rss_mb()}


def run_worker(args, work: Path, name: str, *extra: str, timeout: float | None = None) -> dict:
    cmd = [sys.executable, str(Path(__file__).resolve()), "--worker", name, "--workdir",
           str(work), *extra, *forward_args(args)]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    if proc.returncode != 0:
        return {"error": (proc.stderr or proc.stdout).strip().splitlines()[-1:]}
    return json.loads(proc.stdout.strip().splitlines()[-1])


def forward_args(args) -> list[str]:
    out = ["--size", str(args.size), "--dates", str(args.dates), "--seed", str(args.seed),
           "--subsample", str(args.subsample), "--block-rows", str(args.block_rows),
           "--gpu-size", str(args.gpu_size), "--gpu-block-rows", str(args.gpu_block_rows)]
    if args.bfast_full:
        out.append("--bfast-full")
    return out


def run_bfast(args, work: Path, full: bool) -> dict:
    py = args.bfast_python
    if not (py and Path(py).exists()):
        return {"error": "bfast not available: run bench/bfast_env/setup.sh"}
    spec = spec_from(args)
    attempts = [("opencl", "bfast_full" if full else "bfast_sub"), ("python", "bfast_sub")]
    if args.bfast_backend != "auto":
        attempts = [(args.bfast_backend, "bfast_sub" if args.bfast_backend != "opencl" or not full
                     else "bfast_full")]
    errors = []
    for backend, data in attempts:
        out = work / f"bfast_out_{backend}"
        cmd = [py, str(REPO / "bench" / "bfast_env" / "run_bfast.py"), str(work / data),
               str(out), "--monitor-start", str(spec.monitor_day), "--k", str(BFAST_K),
               "--backend", backend]
        if backend == "opencl":
            # PoCL compiles bfast's kernels on first use, specialised per work size, and
            # caches them: an untimed run on the same data first
            warm = cmd[:3] + [str(work / "bfast_warm_out")] + cmd[4:]
            try:
                subprocess.run(warm, capture_output=True, text=True, timeout=args.bfast_timeout)
            except subprocess.TimeoutExpired:
                errors.append(f"{backend}: warm-up timed out after {args.bfast_timeout} s")
                continue
        try:
            proc = subprocess.run(cmd, capture_output=True, text=True, timeout=args.bfast_timeout)
        except subprocess.TimeoutExpired:
            errors.append(f"{backend}: timed out after {args.bfast_timeout} s")
            continue
        if proc.returncode != 0:
            errors.append(f"{backend}: {(proc.stderr or proc.stdout).strip().splitlines()[-1:]}")
            continue
        info = json.loads((out / "info.json").read_text())
        breaks = np.load(out / "breaks.npy").ravel()
        day = np.load(out / "break_day.npy").ravel()
        info["subsample"] = data == "bfast_sub"
        if info["subsample"]:
            n = int(np.load(work / "sub_idx.npy").size)
            breaks, day = breaks[:n], day[:n]
            info["pixels"] = n
        info["flag"], info["date"] = breaks >= 0, day
        return info
    return {"error": "; ".join(errors)}


# --------------------------------------------------------------------------- main


def fmt_row(name, pixels, note, pps, rss, m) -> str:
    def f(x, spec):
        return "nan" if x is None or (isinstance(x, float) and not np.isfinite(x)) else format(
            x, spec)

    return (f"{name:<38} {pixels:>10,} {note:<11} {f(pps, ',.0f'):>12} {f(rss, ',.0f'):>9} "
            f"{f(m.get('precision'), '.3f'):>9} {f(m.get('recall'), '.3f'):>7} "
            f"{f(m.get('f1'), '.3f'):>6} {f(m.get('median_date_error_days'), '.0f'):>10}")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--size", type=int, default=1000, help="image side in pixels")
    ap.add_argument("--dates", type=int, default=120)
    ap.add_argument("--seed", type=int, default=20240601)
    ap.add_argument("--subsample", type=int, default=10000,
                    help="pixels for the slow peers (COLD; bfast's Python backend)")
    ap.add_argument("--block-rows", type=int, default=50)
    ap.add_argument("--gpu", action="store_true", help="also run the GPU backend")
    ap.add_argument("--gpu-size", type=int, default=10000)
    ap.add_argument("--gpu-block-rows", type=int, default=100)
    ap.add_argument("--bfast-python", default=DEFAULT_BFAST_PY)
    ap.add_argument("--bfast-backend", default="auto", help="auto | opencl | python")
    ap.add_argument("--bfast-timeout", type=float, default=3600.0)
    ap.add_argument("--no-bfast", action="store_true")
    ap.add_argument("--no-cold", action="store_true")
    ap.add_argument("--workdir", default=None, help=argparse.SUPPRESS)
    ap.add_argument("--worker", default=None, help=argparse.SUPPRESS)
    ap.add_argument("--bfast-full", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)

    if args.worker:
        work = Path(args.workdir)
        if args.worker == "prepare":
            out = worker_prepare(args, work)
        elif args.worker.startswith("minewatch-"):
            _, method, backend = args.worker.split("-")
            out = worker_minewatch(args, work, method, backend)
        elif args.worker == "gpu":
            out = worker_gpu(args, work)
        elif args.worker == "cold":
            out = worker_cold(args, work)
        else:
            raise SystemExit(f"unknown worker {args.worker}")
        print(json.dumps(out))
        return 0

    spec = spec_from(args)
    have_bfast = not args.no_bfast and Path(args.bfast_python).exists()
    args.bfast_full = have_bfast and args.bfast_backend in ("auto", "opencl")
    work = Path(tempfile.mkdtemp(prefix="mw_change_bench_"))
    try:
        print(f"change-detection benchmark: {spec.height} x {spec.width} pixels x {spec.n_dates} "
              f"dates every {spec.step_days} d from {spec.start}, monitoring from "
              f"{spec.monitor_start}, {spec.cloud_fraction:.0%} cloud gaps, "
              f"{spec.break_fraction:.0%} of pixels with a break, seed {spec.seed}; "
              f"{os.cpu_count()} CPU cores", flush=True)
        prep = run_worker(args, work, "prepare")
        if "error" in prep:
            raise SystemExit(f"stack preparation failed: {prep['error']}")
        tflag = np.load(work / "truth_flag.npy")
        tdate = np.load(work / "truth_date.npy")
        sub = np.load(work / "sub_idx.npy")
        rows = []
        results = {}

        for method, label in (("cold5", "minewatch cpu (cold; 5 bands)"),
                              ("cold3", "minewatch cpu (cold; ndvi,bsi,swir1)"),
                              ("mosum", "minewatch cpu (mosum k=3; ndvi)")):
            r = run_worker(args, work, f"minewatch-{method}-cpu")
            if "error" in r:
                print(f"{label}: failed: {r['error']}")
                continue
            z = np.load(work / f"minewatch_{method}_cpu.npz")
            m = metrics(z["flag"], z["date"], tflag, tdate)
            results["mw_" + method] = {**r, **m, "pps": r["pixels"] / r["seconds"]}
            rows.append((label, r["pixels"], "all", results["mw_" + method]["pps"],
                         r["peak_rss_mb"], m))
            print(f"  done: {label}", flush=True)

        if args.no_bfast:
            print("bfast skipped (--no-bfast)")
        elif not have_bfast:
            print("bfast not available: run bench/bfast_env/setup.sh")
        else:
            r = run_bfast(args, work, args.bfast_full)
            if "error" in r:
                print(f"bfast failed: {r['error']}")
            else:
                if r["subsample"]:
                    m = metrics(r["flag"], r["date"], tflag.ravel()[sub], tdate.ravel()[sub])
                else:
                    m = metrics(r["flag"], r["date"], tflag, tdate)
                results["bfast"] = {**r, **m, "pps": r["pixels"] / r["seconds"]}
                rows.append((f"bfast 0.7 ({r['backend']}; ndvi)", r["pixels"],
                             "subsample" if r["subsample"] else "all",
                             results["bfast"]["pps"], r["peak_rss_mb"], m))
                print("  done: bfast", flush=True)

        if args.no_cold:
            print("pyxccd COLD skipped (--no-cold)")
        else:
            r = run_worker(args, work, "cold")
            if "error" in r:
                print(f"pyxccd COLD not available: {r['error']}")
            else:
                z = np.load(work / "cold.npz")
                m = metrics(z["flag"], z["date"], tflag.ravel()[sub], tdate.ravel()[sub])
                results["pyxccd"] = {**r, **m, "pps": r["pixels"] / r["seconds"]}
                rows.append(("pyxccd COLD (7 bands, conse=6)", r["pixels"], "subsample",
                             results["pyxccd"]["pps"], r["peak_rss_mb"], m))
                print("  done: pyxccd COLD", flush=True)

        if args.gpu:
            r = run_worker(args, work, "gpu")
            if "error" in r:
                print(f"GPU backend not run: {r['error']}")
            else:
                results["gpu"] = {**r, "pps": r["pixels"] / r["seconds"]}
                n = args.gpu_size
                rows.append((f"minewatch gpu (cold) {n}x{n}", r["pixels"], "tiled",
                             results["gpu"]["pps"], r["peak_rss_mb"], r))
                print(f"  GPU: {r['device']}, peak device memory {r['peak_gpu_mb']:,.0f} MB, "
                      f"{args.gpu_block_rows}-row blocks of one generated block (timed with "
                      "host<->device transfers)")

        print()
        print(f"{'tool':<38} {'pixels':>10} {'run on':<11} {'pixels/s':>12} {'RSS MB':>9} "
              f"{'precision':>9} {'recall':>7} {'F1':>6} {'med |dd| d':>10}")
        for row in rows:
            print(fmt_row(*row))
        print(f"(subsample = fixed random {len(sub):,} pixels of the same stack; peak RSS is "
              "each tool's own process; minewatch's timing excludes generating the stack)")
        mw = results.get("mw_cold5", {})
        bf = results.get("bfast", {})
        cold_f1 = results.get("pyxccd", {}).get("f1", float("nan"))
        speed = mw.get("pps", float("nan")) / bf["pps"] if bf.get("pps") else float("nan")
        print(f"speedup_vs_bfast={speed:.2f} f1={mw.get('f1', float('nan')):.4f} "
              f"bfast_f1={bf.get('f1', float('nan')):.4f} cold_f1={cold_f1:.4f}")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
