"""Benchmark: the persistent-change test, Numba CPU backend vs PyTorch backend.

One command builds a fixed synthetic stack (default 1000 x 1000 pixels x 120 dates every
16 days from 2018-01-01, 5 bands, 30 % cloud gaps, per-pixel seasonal signal, noise) with
known events, runs both backends and prints pixels/s, peak RSS, precision / recall / F1 and
median date error against the injected lasting changes, and the CPU-vs-torch agreement:

    python bench/persistent_change.py                       # full stack on Numba, torch on a block
    python bench/persistent_change.py --torch-rows 1000     # torch on every pixel too

Pixels (each row is generated from ``(seed, row)``, so any block of rows is reproducible):

* 50 % stable (season + noise);
* 25 % a lasting change (a step along a vegetation-loss direction, 0.3-1.5 x its size) on a
  random date of the monitoring period, at least 200 days before its end;
* 10 % a transient only (the same kind of step for 90 days, then back): no lasting change;
* 10 % a transient, then a lasting change more than a year later;
* 5 % a greener-than-usual season (the opposite direction) directly followed by a clearing.

Each backend runs in its own process (so the RSS figures are its own; they include the
stack it holds, reported separately), after an untimed warm-up (Numba compilation, torch
start-up). The torch backend runs on CUDA when present, else on the CPU device; on the CPU
its default is a block of ``--torch-rows`` rows (it is slower than Numba there), on CUDA
every pixel. A hit is a pixel flagged with a true lasting change; "F1@48d" counts a hit only
when the date is within 48 days (3 revisits) of the truth.

The last line is machine-readable: ``numba_pps=.. torch_pps=.. torch_device=.. f1=..
date_agreement=..``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

B = 5
LOSS = np.array([-0.12, 0.08, 0.10, -0.10, 0.09], np.float32)
EPOCH = dt.date(1970, 1, 1)


def day(s: str) -> int:
    return (dt.date.fromisoformat(s) - EPOCH).days


def axes(n_dates: int):
    days = day("2018-01-01") + 16 * np.arange(n_dates, dtype=np.int64)
    return days, day("2020-01-01"), int(days[-1])


def make_rows(seed: int, width: int, n_dates: int, y0: int, y1: int):
    """Rows y0..y1-1: values (T, B, y1-y0, W) float32, truth date (y1-y0, W) int64 (0 = none),
    kind (y1-y0, W) int8 (0 stable, 1 lasting, 2 transient, 3 transient+lasting, 4 greener+clearing)."""
    days, ms, me = axes(n_dates)
    T = n_dates
    out = np.empty((T, B, y1 - y0, width), np.float32)
    tdate = np.zeros((y1 - y0, width), np.int64)
    kinds = np.zeros((y1 - y0, width), np.int8)
    w = 2.0 * np.pi * days[:, None, None] / 365.25
    d = days[:, None]
    for r, y in enumerate(range(y0, y1)):
        rng = np.random.default_rng([seed, y])
        base = rng.uniform(0.1, 0.5, (1, B, width))
        amp = rng.uniform(0.02, 0.1, (1, B, width))
        phase = rng.uniform(0.0, 2.0 * np.pi, (1, 1, width))
        noise = rng.uniform(0.008, 0.02, (1, 1, width))
        v = base + amp * np.cos(w - phase) + rng.normal(0.0, 1.0, (T, B, width)) * noise
        u = rng.random(width)
        kind = np.select([u < 0.5, u < 0.75, u < 0.85, u < 0.95], [0, 1, 2, 3], 4).astype(np.int8)
        size = rng.uniform(0.3, 1.5, width)
        lasting = rng.integers(ms + 30, me - 200, width)
        late = rng.integers(ms + 500, me - 200, width)
        lasting = np.where(kind == 3, late, lasting)
        tr_start = np.where(kind == 3, rng.integers(ms + 30, np.maximum(late - 455, ms + 31)),
                            rng.integers(ms + 30, me - 120, width))
        green_start = lasting - 180
        step = (d >= lasting) & np.isin(kind, (1, 3, 4))[None, :]
        trans = (d >= tr_start) & (d < tr_start + 90) & np.isin(kind, (2, 3))[None, :]
        green = (d >= green_start) & (d < lasting) & (kind == 4)[None, :]
        delta = LOSS[None, :, None] * size[None, None, :]
        v += np.where(step[:, None, :], delta, 0.0)
        v += np.where(trans[:, None, :], delta, 0.0)
        v += np.where(green[:, None, :], -0.6 * delta, 0.0)
        cloud = rng.random((T, width)) < 0.30
        v[np.broadcast_to(cloud[:, None, :], v.shape)] = np.nan
        out[:, :, r, :] = v
        kinds[r] = kind
        tdate[r] = np.where(np.isin(kind, (1, 3, 4)), lasting, 0)
    return out, tdate, kinds


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def worker(args) -> int:
    from minewatch.analysis.change.persistent import PersistentParams, detect_persistent_change

    rows = args.size if args.worker == "cpu" else min(args.torch_rows, args.size)
    days, ms, me = axes(args.dates)
    t0 = time.perf_counter()
    vals, tdate, kinds = make_rows(args.seed, args.size, args.dates, 0, rows)
    gen_s = time.perf_counter() - t0
    rss_data = peak_rss_mb()
    params = PersistentParams()
    extra = {}
    if args.worker == "cpu":
        detect_persistent_change(vals[:, :, :4, :50], days, ms, me, params, backend="cpu")  # compile
        t0 = time.perf_counter()
        res = detect_persistent_change(vals, days, ms, me, params, backend="cpu")
        secs = time.perf_counter() - t0
        device = f"numba cpu x{os.cpu_count()}"
    else:
        import torch

        from minewatch.analysis.change.persistent_torch import detect_persistent_change_torch

        dev = "cuda" if torch.cuda.is_available() else "cpu"
        detect_persistent_change_torch(vals[:, :, :4, :50], days, ms, me, params, device=dev)  # warm-up
        if dev == "cuda":
            torch.cuda.synchronize()
            torch.cuda.reset_peak_memory_stats()
        t0 = time.perf_counter()
        res = detect_persistent_change_torch(vals, days, ms, me, params, device=dev, chunk=args.chunk)
        secs = time.perf_counter() - t0
        device = f"torch {dev}" + (f" ({torch.cuda.get_device_name()})" if dev == "cuda" else
                                   f" x{torch.get_num_threads()} threads")
        if dev == "cuda":
            extra["device_peak_mb"] = torch.cuda.max_memory_allocated() / 2**20
    np.savez(args.out, date=res.date, conf=res.confidence, mag=res.magnitude, postq=res.post_quantile,
             rmse=res.rmse, nh=res.n_history, tdate=tdate, kinds=kinds)
    print(json.dumps(dict(pixels=int(res.date.size), seconds=secs, gen_s=gen_s, rss_mb=peak_rss_mb(),
                          data_rss_mb=rss_data, stack_mb=vals.nbytes / 2**20, device=device, **extra)))
    return 0


def metrics(date, tdate, kinds) -> dict:
    flag = date.ravel() > 0
    truth = tdate.ravel() > 0
    kinds = kinds.ravel()
    hit = flag & truth
    err = np.abs(date.ravel()[hit].astype(np.int64) - tdate.ravel()[hit])
    out = {}
    for name, tp in (("", int(hit.sum())), ("@48d", int((err <= 48).sum()))):
        p = tp / max(int(flag.sum()), 1)
        r = tp / max(int(truth.sum()), 1)
        out["precision" + name] = p
        out["recall" + name] = r
        out["f1" + name] = 2 * p * r / (p + r) if p + r else 0.0
    out["median_date_error_days"] = float(np.median(err)) if err.size else float("nan")
    out["transient_flagged"] = float(flag[kinds == 2].mean()) if (kinds == 2).any() else float("nan")
    out["stable_flagged"] = float(flag[kinds == 0].mean()) if (kinds == 0).any() else float("nan")
    late = (kinds == 3) & hit
    out["transient_then_lasting_dated_late"] = float((np.abs(date.ravel()[late] - tdate.ravel()[late]) <= 48).mean()) \
        if late.any() else float("nan")
    green = (kinds == 4) & hit
    out["greener_then_clearing_within_48d"] = float((np.abs(date.ravel()[green] - tdate.ravel()[green]) <= 48).mean()) \
        if green.any() else float("nan")
    return out


def run_worker(args, name: str, out: Path) -> dict:
    cmd = [sys.executable, __file__, "--worker", name, "--out", str(out), "--size", str(args.size),
           "--dates", str(args.dates), "--seed", str(args.seed), "--torch-rows", str(args.torch_rows),
           ] + (["--chunk", str(args.chunk)] if args.chunk else [])
    p = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if p.returncode != 0:
        sys.stderr.write(p.stdout + p.stderr)
        raise SystemExit(f"worker {name} failed (exit {p.returncode})")
    return json.loads(p.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", type=int, default=1000, help="stack height and width (pixels)")
    ap.add_argument("--dates", type=int, default=120)
    ap.add_argument("--seed", type=int, default=20261122)
    ap.add_argument("--torch-rows", type=int, default=None,
                    help="rows for the torch backend (default: all on CUDA, 64 on the CPU device)")
    ap.add_argument("--chunk", type=int, default=None, help="torch pixels per device batch (default: automatic)")
    ap.add_argument("--worker", choices=("cpu", "torch"), help=argparse.SUPPRESS)
    ap.add_argument("--out", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.worker:
        args.torch_rows = args.torch_rows or args.size
        return worker(args)
    try:
        import torch

        has_cuda = torch.cuda.is_available()
        has_torch = True
    except Exception:  # noqa: BLE001
        has_torch = has_cuda = False
    if args.torch_rows is None:
        args.torch_rows = args.size if has_cuda else min(64, args.size)
    print(f"stack: {args.size} x {args.size} px x {args.dates} dates x {B} bands, 30 % gaps, seed {args.seed}")
    with tempfile.TemporaryDirectory() as tmp:
        cpu = run_worker(args, "cpu", Path(tmp) / "cpu.npz")
        a = dict(np.load(Path(tmp) / "cpu.npz"))
        tor = None
        if has_torch:
            tor = run_worker(args, "torch", Path(tmp) / "torch.npz")
            b = dict(np.load(Path(tmp) / "torch.npz"))
    rows = [("numba", cpu, metrics(a["date"], a["tdate"], a["kinds"]))]
    if tor:
        rows.append(("torch", tor, metrics(b["date"], b["tdate"], b["kinds"])))
    print(f"{'backend':<7} {'device':<34} {'pixels':>9} {'px/s':>10} {'RSS MB':>8} {'stack MB':>8} "
          f"{'prec':>6} {'recall':>6} {'F1':>6} {'F1@48d':>6} {'med|dd|':>7} {'transient FP':>12} {'stable FP':>9}")
    for name, r, m in rows:
        print(f"{name:<7} {r['device'][:34]:<34} {r['pixels']:>9} {r['pixels'] / r['seconds']:>10.0f} "
              f"{r['rss_mb']:>8.0f} {r['stack_mb']:>8.0f} {m['precision']:>6.3f} {m['recall']:>6.3f} "
              f"{m['f1']:>6.3f} {m['f1@48d']:>6.3f} {m['median_date_error_days']:>7.1f} "
              f"{m['transient_flagged']:>12.4f} {m['stable_flagged']:>9.4f}")
    m = rows[0][2]
    print(f"numba: transient-then-lasting dated at the lasting change (+-48 d): "
          f"{m['transient_then_lasting_dated_late']:.3f}; greener-then-clearing dated at the clearing (+-48 d): "
          f"{m['greener_then_clearing_within_48d']:.3f}")
    agree = float("nan")
    torch_pps = float("nan")
    if tor:
        n = b["date"].size
        da, db = a["date"].ravel()[:n], b["date"].ravel()
        agree = float((da == db).mean())
        same = da == db
        diffs = {}
        for k in ("conf", "rmse"):
            x, y = a[k].reshape(-1)[:n] if k == "conf" else a[k].reshape(B, -1)[:, :n], \
                b[k].reshape(-1) if k == "conf" else b[k].reshape(B, -1)
            diffs[k] = float(np.nanmax(np.abs(x[..., same] - y[..., same])))
        for k in ("mag", "postq"):
            x, y = a[k].reshape(B, -1)[:, :n][:, same], b[k].reshape(B, -1)[:, same]
            diffs[k] = float(np.nanmax(np.abs(x - y))) if x.size else 0.0
            diffs[k + "_nan_mismatch"] = int((np.isnan(x) != np.isnan(y)).sum())
        torch_pps = tor["pixels"] / tor["seconds"]
        print(f"agreement on the {n} torch pixels: date {agree * 100:.3f} % identical; max |diff| "
              + ", ".join(f"{k} {v:.2e}" if isinstance(v, float) else f"{k} {v}" for k, v in diffs.items()))
        print(f"torch / numba speed: {torch_pps / (cpu['pixels'] / cpu['seconds']):.2f}x"
              + (f"; device peak {tor['device_peak_mb']:.0f} MB" if "device_peak_mb" in tor else ""))
    print(f"numba_pps={cpu['pixels'] / cpu['seconds']:.0f} torch_pps={torch_pps:.0f} "
          f"torch_device={(tor or {}).get('device', 'none').split(' ')[1] if tor else 'none'} "
          f"f1={rows[0][2]['f1']:.4f} date_agreement={agree:.5f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
