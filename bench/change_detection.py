"""Benchmark: the change detector `minewatch analyze` runs, against bfast, pyxccd's COLD and v0.1.0.

One command builds a fixed synthetic reflectance cube (bench/synthetic_cube.py: default
1000 x 1000 pixels x 120 dates every 16 days from 2018-01-01, monitoring from 2020-01-01,
30 % cloud gaps; half the pixels stable, the rest with lasting losses, transients that
regrow, transients followed by a lasting loss, and greener seasons followed by a clearing)
and prints, for each tool, pixels/s, peak RSS of its own process, precision, recall, F1
and the median date error against the *lasting* changes, and the share of transient-only
and of stable pixels it flags:

    python bench/change_detection.py                    # a few minutes on 2 cores
    python bench/change_detection.py --torch-rows 1000  # torch on every pixel (default on CUDA)

* minewatch: ``detect_persistent_change`` (docs/method.md, section 4) with the pipeline's
  settings (``DisturbanceParams().change``) on the pipeline's five indices (NDVI, NBR,
  MNDWI, BSI, SWIR1, from ``analysis.indices.change_stack``), Numba on every core, on every
  pixel, in row blocks; only the detector is timed (after an untimed warm-up that compiles
  the kernels). This is the detector only, without the mining rules of ``map_tile``.
* minewatch torch: the same test on the PyTorch backend (CUDA when present, else the CPU
  device, where it runs on ``--torch-rows`` rows only), when PyTorch imports, with its
  agreement with Numba.
* minewatch v0.1.0: the previous release's detector, extracted from the git tag
  (``git archive v0.1.0``) and run the same way in its own process. v0.1.0's ``analyze``
  ran this same persistent-change test (its benchmark measured an engine the product did
  not run), so this row checks that the code moves changed neither results nor speed.
* bfast (PyPI, BFASTMonitor: NDVI, k=3, freq=365, h=0.25, level=0.05, its venv from
  ``bash bench/bfast_env/setup.sh``): by default its Python backend on the fixed random
  subsample; ``--bfast-backend opencl`` runs its OpenCL backend on every pixel (PoCL on the
  CPU; its kernels must be compiled first, about an hour on 2 cores, see setup.sh).
* pyxccd's COLD (7 bands, its defaults: 6 consecutive observations, p=0.99) on the
  subsample, pixel by pixel; its first break on or after the monitoring start is its answer.

Peers that run on the subsample are per-pixel algorithms, so their pixels/s compare with
the full runs; their accuracy is measured on the subsample's pixels.

The last line is machine-readable: ``numba_pps=.. f1=.. speedup_vs_v0.1.0=..
speedup_vs_bfast=.. speedup_vs_cold=.. bfast_f1=.. cold_f1=.. torch_pps=.. torch_device=..``.
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

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(HERE))

from synthetic_cube import BAND_NAMES, KIND_NAMES, CubeSpec, make_rows, ndvi  # noqa: E402

DEFAULT_BFAST_PY = os.environ.get("MINEWATCH_BFAST_PYTHON", "/work/bfast-venv/bin/python")
BFAST_K = 3  # bfast's OpenCL backend needs k >= 3
EPOCH_ORDINAL = dt.date(1970, 1, 1).toordinal()
BASELINE = "v0.1.0"


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def spec_from(args) -> CubeSpec:
    return CubeSpec(height=args.size, width=args.size, n_dates=args.dates, seed=args.seed)


def metrics(date: np.ndarray, tdate: np.ndarray, kinds: np.ndarray) -> dict:
    """Scores of one tool's dates (0 = no change) against the lasting changes."""
    flag = np.asarray(date).ravel() > 0
    truth = np.asarray(tdate).ravel() > 0
    kinds = np.asarray(kinds).ravel()
    hit = flag & truth
    tp = int(hit.sum())
    precision = tp / max(int(flag.sum()), 1)
    recall = tp / max(int(truth.sum()), 1)
    err = np.abs(np.asarray(date).ravel()[hit].astype(np.int64) - np.asarray(tdate).ravel()[hit])

    def share(mask: np.ndarray) -> float:
        return float(mask.mean()) if mask.size else float("nan")

    return {
        "precision": precision,
        "recall": recall,
        "f1": 2 * precision * recall / (precision + recall) if precision + recall else 0.0,
        "median_date_error_days": float(np.median(err)) if err.size else float("nan"),
        "transient_flagged": share(flag[kinds == 2]),
        "stable_flagged": share(flag[kinds == 0]),
        "transient_then_lasting_within_48d": share(err[kinds[hit] == 3] <= 48),
        "greener_then_clearing_within_48d": share(err[kinds[hit] == 4] <= 48),
    }


# --------------------------------------------------------------------------- workers


def worker_prepare(args, work: Path) -> dict:
    """Truth, the subsample, and the inputs of the peers (written block by block)."""
    spec = spec_from(args)
    H, W, T = spec.height, spec.width, spec.n_dates
    rng = np.random.default_rng(12345)
    n_sub = min(args.subsample, H * W)
    sub = np.sort(rng.choice(H * W, n_sub, replace=False))
    tdate = np.zeros((H, W), np.int64)
    kinds = np.zeros((H, W), np.int8)
    full_ndvi = None
    if args.bfast_backend == "opencl":
        (work / "bfast_full").mkdir(exist_ok=True)
        full_ndvi = np.lib.format.open_memmap(work / "bfast_full" / "values.npy", "w+", np.float32,
                                              (T, H, W))
        np.save(work / "bfast_full" / "days.npy", spec.days)
    cold = np.empty((T, 7, n_sub), np.float32)
    sub_ndvi = np.empty((T, n_sub), np.float32)
    sy, sx = np.divmod(sub, W)
    for y0 in range(0, H, args.block_rows):
        y1 = min(H, y0 + args.block_rows)
        bands, tdate[y0:y1], kinds[y0:y1] = make_rows(spec, y0, y1)
        nd = ndvi(bands)
        if full_ndvi is not None:
            full_ndvi[:, y0:y1] = nd
        m = (sy >= y0) & (sy < y1)
        cold[:, :, m] = bands[:, :, sy[m] - y0, sx[m]]
        sub_ndvi[:, m] = nd[:, sy[m] - y0, sx[m]]
    if full_ndvi is not None:
        full_ndvi.flush()
    np.save(work / "truth_date.npy", tdate)
    np.save(work / "kinds.npy", kinds)
    np.save(work / "sub_idx.npy", sub)
    np.save(work / "cold_bands.npy", cold)
    side = int(np.ceil(np.sqrt(n_sub)))  # bfast wants an image: the subsample padded to a square
    pad = np.full((T, side * side), np.nan, np.float32)
    pad[:, :n_sub] = sub_ndvi
    (work / "bfast_sub").mkdir(exist_ok=True)
    np.save(work / "bfast_sub" / "values.npy", pad.reshape(T, side, side))
    np.save(work / "bfast_sub" / "days.npy", spec.days)
    return {"subsample": n_sub}


def worker_minewatch(args, work: Path, name: str) -> dict:
    """minewatch's change engine from ``--src`` on ``rows`` rows, block by block (the sequential monitor's
    pixels at level >= probable; older sources: the persistent-change test).

    Only the detector call is timed; the cube's rows are generated and turned into the
    pipeline's indices on the fly, untimed.
    """
    sys.path.insert(0, args.src)
    import minewatch
    from minewatch.analysis.disturbance import DisturbanceParams
    from minewatch.analysis.indices import change_stack

    try:
        from minewatch.analysis.change import fit_history, scan

        def detect_persistent_change(vals, days, start, end, params, backend="cpu"):
            """The sequential monitor over the whole period: onset of pixels at level >= probable."""
            hist, mon = days < start, (days >= start) & (days <= end)
            carry = scan(fit_history(vals[hist], days[hist], params), vals[mon], days[mon], None, params)
            return type("Res", (), {"date": np.where(carry.level >= 2, carry.onset, 0)})
    except ImportError:
        try:
            from minewatch.analysis.change import detect_persistent_change
        except ImportError:  # v0.1.0's layout
            from minewatch.analysis.change.persistent import detect_persistent_change

    spec = spec_from(args)
    params = DisturbanceParams().change
    backend = args.backend
    rows = spec.height if backend == "cpu" else min(args.torch_rows, spec.height)
    sync = None
    device = f"numba, {os.cpu_count()} cores"
    if backend != "cpu":
        import torch

        if backend == "gpu":
            sync = torch.cuda.synchronize
            device = f"torch cuda ({torch.cuda.get_device_name()})"
        else:
            device = f"torch cpu, {torch.get_num_threads()} threads"

    def indices(bands: np.ndarray) -> np.ndarray:
        return change_stack({n: bands[:, i] for i, n in enumerate(BAND_NAMES[:6])})

    warm, _, _ = make_rows(CubeSpec(height=2, width=32, n_dates=spec.n_dates, seed=1), 0, 2)
    detect_persistent_change(indices(warm), spec.days, spec.monitor_day, spec.end_day, params,
                             backend=backend)
    date = np.zeros((rows, spec.width), np.int32)
    seconds = 0.0
    for y0 in range(0, rows, args.block_rows):
        y1 = min(rows, y0 + args.block_rows)
        vals = indices(make_rows(spec, y0, y1)[0])
        if sync:
            sync()
        t0 = time.perf_counter()
        res = detect_persistent_change(vals, spec.days, spec.monitor_day, spec.end_day, params,
                                       backend=backend)
        if sync:
            sync()
        seconds += time.perf_counter() - t0
        date[y0:y1] = res.date
    np.save(work / f"{name}.npy", date)
    out = {"seconds": seconds, "pixels": date.size, "peak_rss_mb": peak_rss_mb(), "device": device,
           "source": str(Path(minewatch.__file__).parent)}
    if backend == "gpu":
        out["device_peak_mb"] = torch.cuda.max_memory_allocated() / 2**20
    return out


def worker_cold(args, work: Path) -> dict:
    """pyxccd's COLD on the subsample, pixel by pixel (its per-pixel API)."""
    from pyxccd import cold_detect

    spec = spec_from(args)
    bands = np.load(work / "cold_bands.npy")
    T, _, n = bands.shape
    ordinal = (spec.days + EPOCH_ORDINAL).astype(np.int64)
    mon = spec.monitor_day + EPOCH_ORDINAL
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
            date[i] = brk[0] - EPOCH_ORDINAL
    np.save(work / "cold.npy", date)
    return {"seconds": seconds, "pixels": n, "peak_rss_mb": peak_rss_mb(), "device": "pyxccd (C)"}


def run_worker(args, work: Path, name: str, *extra: str) -> dict:
    cmd = [sys.executable, str(Path(__file__).resolve()), "--worker", name, "--workdir", str(work),
           "--size", str(args.size), "--dates", str(args.dates), "--seed", str(args.seed),
           "--subsample", str(args.subsample), "--block-rows", str(args.block_rows),
           "--torch-rows", str(args.torch_rows), "--bfast-backend", args.bfast_backend, *extra]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        return {"error": " ".join((proc.stderr or proc.stdout).strip().splitlines()[-1:])}
    return json.loads(proc.stdout.strip().splitlines()[-1])


def extract_baseline(work: Path) -> Path | str:
    """``src/`` of the previous release from git, or a reason why it cannot be had."""
    dest = work / BASELINE
    dest.mkdir()
    try:
        arch = subprocess.run(["git", "-C", str(REPO), "archive", BASELINE, "src/minewatch"],
                              capture_output=True, check=True)
        subprocess.run(["tar", "-x", "-C", str(dest)], input=arch.stdout, check=True,
                       capture_output=True)
    except (OSError, subprocess.CalledProcessError) as exc:
        err = getattr(exc, "stderr", b"") or b""
        return f"git archive {BASELINE} failed ({err.decode(errors='replace').strip() or exc})"
    return dest / "src"


def run_bfast(args, work: Path) -> dict:
    py = args.bfast_python
    if not (py and Path(py).exists()):
        return {"error": f"no bfast venv at {py}: run bash bench/bfast_env/setup.sh"}
    spec = spec_from(args)
    backend = args.bfast_backend
    data = "bfast_full" if backend == "opencl" else "bfast_sub"
    out = work / f"bfast_out_{backend}"
    cmd = [py, str(HERE / "bfast_env" / "run_bfast.py"), str(work / data), str(out),
           "--monitor-start", str(spec.monitor_day), "--k", str(BFAST_K), "--backend", backend]
    try:
        if backend == "opencl":
            # PoCL specialises bfast's kernels per work size: an untimed run on the same data first
            warm = cmd[:3] + [str(work / "bfast_warm_out")] + cmd[4:]
            subprocess.run(warm, capture_output=True, text=True, timeout=args.bfast_timeout)
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=args.bfast_timeout)
    except subprocess.TimeoutExpired:
        return {"error": f"{backend} backend timed out after {args.bfast_timeout:.0f} s"}
    if proc.returncode != 0:
        return {"error": f"{backend}: {(proc.stderr or proc.stdout).strip().splitlines()[-1:]}"}
    info = json.loads((out / "info.json").read_text())
    day = np.load(out / "break_day.npy").ravel()
    if data == "bfast_sub":
        info["pixels"] = int(np.load(work / "sub_idx.npy").size)
        day = day[: info["pixels"]]
    info["date"] = day
    info["subsample"] = data == "bfast_sub"
    info["device"] = f"bfast 0.7 {backend}"
    return info


# --------------------------------------------------------------------------- main


def fmt(x, spec: str) -> str:
    return "nan" if x is None or (isinstance(x, float) and not np.isfinite(x)) else format(x, spec)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--size", type=int, default=1000, help="image side in pixels")
    ap.add_argument("--dates", type=int, default=120)
    ap.add_argument("--seed", type=int, default=20240601)
    ap.add_argument("--subsample", type=int, default=5000,
                    help="pixels for the slow peers (COLD; bfast's Python backend)")
    ap.add_argument("--block-rows", type=int, default=100, help="rows per detector call")
    ap.add_argument("--torch-rows", type=int, default=None,
                    help="rows for the torch backend (default: all on CUDA, 64 on the CPU device)")
    ap.add_argument("--bfast-python", default=DEFAULT_BFAST_PY)
    ap.add_argument("--bfast-backend", default="python", choices=("python", "opencl"))
    ap.add_argument("--bfast-timeout", type=float, default=1800.0)
    ap.add_argument("--no-bfast", action="store_true")
    ap.add_argument("--no-cold", action="store_true")
    ap.add_argument("--no-baseline", action="store_true", help=f"skip {BASELINE}'s detector")
    ap.add_argument("--workdir", help=argparse.SUPPRESS)
    ap.add_argument("--worker", help=argparse.SUPPRESS)
    ap.add_argument("--src", default=str(REPO / "src"), help=argparse.SUPPRESS)
    ap.add_argument("--backend", default="cpu", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)

    if args.worker:
        work = Path(args.workdir)
        if args.worker == "prepare":
            out = worker_prepare(args, work)
        elif args.worker == "cold":
            out = worker_cold(args, work)
        else:
            out = worker_minewatch(args, work, args.worker)
        print(json.dumps(out))
        return 0

    spec = spec_from(args)
    spec.check()
    try:
        import torch

        has_torch, has_cuda = True, torch.cuda.is_available()
    except Exception:  # noqa: BLE001 - any import failure means "no torch row"
        has_torch = has_cuda = False
    if args.torch_rows is None:
        args.torch_rows = args.size if has_cuda else min(64, args.size)
    work = Path(tempfile.mkdtemp(prefix="mw_change_bench_"))
    try:
        print(f"change-detection benchmark: {spec.height} x {spec.width} pixels x {spec.n_dates} "
              f"dates every {spec.step_days} d from {spec.start}, monitoring from "
              f"{spec.monitor_start} to the last date, {spec.cloud_fraction:.0%} cloud gaps, seed "
              f"{spec.seed}; kinds " + ", ".join(f"{k} {s:.0%}" for k, s in zip(KIND_NAMES, spec.shares))
              + f"; {os.cpu_count()} CPU cores, load average {os.getloadavg()[0]:.1f}", flush=True)
        prep = run_worker(args, work, "prepare")
        if "error" in prep:
            raise SystemExit(f"cube preparation failed: {prep['error']}")
        tdate = np.load(work / "truth_date.npy").ravel()
        kinds = np.load(work / "kinds.npy").ravel()
        sub = np.load(work / "sub_idx.npy")
        rows = []  # (label, pixels, run on, result, metrics)
        res: dict[str, dict] = {}

        def add(key: str, label: str, r: dict, date: np.ndarray, idx: np.ndarray | None, on: str):
            m = metrics(date, tdate if idx is None else tdate[idx], kinds if idx is None else kinds[idx])
            res[key] = {**r, **m, "pps": r["pixels"] / r["seconds"], "date": date}
            rows.append((label, r["pixels"], on, res[key]))
            print(f"  done: {label} ({r['device']})", flush=True)

        r = run_worker(args, work, "numba")
        if "error" in r:
            raise SystemExit(f"minewatch (numba) failed: {r['error']}")
        add("numba", "minewatch (numba)", r, np.load(work / "numba.npy").ravel(), None, "all")

        if has_torch:
            backend = "gpu" if has_cuda else "torch"
            r = run_worker(args, work, "torch", "--backend", backend)
            if "error" in r:
                print(f"minewatch (torch) failed: {r['error']}")
            else:
                n = r["pixels"]
                add("torch", f"minewatch (torch {'cuda' if has_cuda else 'cpu'})", r,
                    np.load(work / "torch.npy").ravel(), np.arange(n),
                    "all" if n == tdate.size else f"{args.torch_rows} rows")
        else:
            print("minewatch (torch) skipped: PyTorch does not import")

        if args.no_baseline:
            print(f"{BASELINE} skipped (--no-baseline)")
        else:
            src = extract_baseline(work)
            r = {"error": src} if isinstance(src, str) else run_worker(args, work, "baseline",
                                                                        "--src", str(src))
            if "error" in r:
                print(f"minewatch {BASELINE} not run: {r['error']}")
            else:
                add("baseline", f"minewatch {BASELINE} (numba)", r,
                    np.load(work / "baseline.npy").ravel(), None, "all")

        if args.no_bfast:
            print("bfast skipped (--no-bfast)")
        else:
            r = run_bfast(args, work)
            if "error" in r:
                print(f"bfast not run: {r['error']}")
            else:
                add("bfast", f"bfast 0.7 ({r['backend']}; ndvi)", r, r.pop("date"),
                    sub if r["subsample"] else None, "subsample" if r["subsample"] else "all")

        if args.no_cold:
            print("pyxccd COLD skipped (--no-cold)")
        else:
            r = run_worker(args, work, "cold")
            if "error" in r:
                print(f"pyxccd COLD not run: {r['error']}")
            else:
                add("cold", "pyxccd COLD (7 bands)", r, np.load(work / "cold.npy"), sub, "subsample")

        print()
        print(f"{'tool':<30} {'pixels':>9} {'run on':<10} {'pixels/s':>10} {'RSS MB':>7} "
              f"{'prec':>6} {'recall':>6} {'F1':>6} {'med|dd|':>7} {'transient FP':>12} {'stable FP':>9}")
        for label, pixels, on, r in rows:
            print(f"{label:<30} {pixels:>9,} {on:<10} {fmt(r['pps'], ',.0f'):>10} "
                  f"{fmt(r['peak_rss_mb'], ',.0f'):>7} {fmt(r['precision'], '.3f'):>6} "
                  f"{fmt(r['recall'], '.3f'):>6} {fmt(r['f1'], '.3f'):>6} "
                  f"{fmt(r['median_date_error_days'], '.0f'):>7} {fmt(r['transient_flagged'], '.4f'):>12} "
                  f"{fmt(r['stable_flagged'], '.4f'):>9}")
        print(f"(subsample = a fixed random {len(sub):,} pixels of the same cube; accuracy is against "
              "the lasting changes; 'transient FP' / 'stable FP' = share of transient-only / stable "
              "pixels flagged; med|dd| = median |date error| in days of the hits; RSS is each tool's "
              "own process; minewatch's timing excludes generating the cube and its indices)")
        nb = res["numba"]
        print(f"minewatch (numba): a transient then a lasting loss dated at the lasting loss (+-48 d) on "
              f"{nb['transient_then_lasting_within_48d']:.3f} of those pixels; a greener season then a "
              f"clearing dated at the clearing (+-48 d) on {nb['greener_then_clearing_within_48d']:.3f}")
        if "torch" in res:
            t = res["torch"]
            n = t["pixels"]
            same = float((t["date"] == nb["date"][:n]).mean())
            print(f"torch vs numba on the same {n:,} pixels: dates identical on {same:.3%}; "
                  f"speed {t['pps'] / nb['pps']:.2f}x numba ({t['device']}"
                  + (f", device peak {t['device_peak_mb']:,.0f} MB" if "device_peak_mb" in t else "")
                  + ")")
        if "baseline" in res:
            same = float((res["baseline"]["date"] == nb["date"]).mean())
            print(f"{BASELINE} (imported from {res['baseline']['source']}) vs this tree: dates identical "
                  f"on {same:.3%} of pixels; the same persistent-change test, so the speed ratio "
                  "measures only run-to-run noise")
        ratio = {k: nb["pps"] / res[k]["pps"] if k in res else float("nan")
                 for k in ("baseline", "bfast", "cold")}
        print(f"numba_pps={nb['pps']:.0f} f1={nb['f1']:.4f} speedup_vs_{BASELINE}={ratio['baseline']:.2f} "
              f"speedup_vs_bfast={ratio['bfast']:.2f} speedup_vs_cold={ratio['cold']:.2f} "
              f"bfast_f1={res.get('bfast', {}).get('f1', float('nan')):.4f} "
              f"cold_f1={res.get('cold', {}).get('f1', float('nan')):.4f} "
              f"torch_pps={res.get('torch', {}).get('pps', float('nan')):.0f} "
              f"torch_device={'cuda' if has_cuda else ('cpu' if has_torch else 'none')}")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
