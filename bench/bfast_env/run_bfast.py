"""Run the reference ``bfast`` package's BFASTMonitor on a stack stored as .npy files.

Runs INSIDE the bfast virtual environment (see setup.sh), never in minewatch's venv:

    /work/bfast-venv/bin/python bench/bfast_env/run_bfast.py IN_DIR OUT_DIR [options]

IN_DIR holds ``values.npy`` (float32, (T, H, W), NaN = missing; the OpenCL backend gets
them as int16 scaled by ``--scale``) and ``days.npy`` (int64
days since 1970-01-01). OUT_DIR receives ``breaks.npy`` (int32 (H, W): index into the
monitoring dates, -1 no break, -2 too few observations), ``break_day.npy`` (int64 day of
the break, 0 none), ``magnitudes.npy`` and ``info.json`` (backend, seconds, peak RSS).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import resource
import sys
import time
from pathlib import Path

import numpy as np


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("in_dir")
    ap.add_argument("out_dir")
    ap.add_argument("--monitor-start", type=int, required=True, help="days since 1970-01-01")
    ap.add_argument("--k", type=int, default=3, help="harmonic order")
    ap.add_argument("--freq", type=int, default=365)
    ap.add_argument("--hfrac", type=float, default=0.25)
    ap.add_argument("--level", type=float, default=0.05)
    ap.add_argument("--no-trend", action="store_true")
    ap.add_argument("--backend", default="auto", help="opencl | python | python-mp | auto")
    ap.add_argument("--n-chunks", type=int, default=0, help="bfast's n_chunks (opencl)")
    ap.add_argument("--scale", type=float, default=10000.0,
                    help="opencl backend: int16 scale of the values (default 10000)")
    args = ap.parse_args(argv)

    from bfast import BFASTMonitor

    values = np.load(Path(args.in_dir) / "values.npy", mmap_mode="r")
    days = np.load(Path(args.in_dir) / "days.npy")
    epoch = dt.datetime(1970, 1, 1)
    dates = [epoch + dt.timedelta(days=int(d)) for d in days]
    start = epoch + dt.timedelta(days=int(args.monitor_start))

    backends = ["opencl", "python"] if args.backend == "auto" else [args.backend]
    last_exc: Exception | None = None
    for backend in backends:
        try:
            model = BFASTMonitor(
                start,
                freq=args.freq,
                k=args.k,
                hfrac=args.hfrac,
                trend=not args.no_trend,
                level=args.level,
                backend=backend,
                verbose=0,
                find_magnitudes=True,
            )
            if backend == "opencl":
                # the OpenCL pipeline takes int16 (as Landsat/Sentinel index products are
                # stored): scale by --scale, the sentinel -32768 marks missing values
                v = np.asarray(values, dtype=np.float32)
                data = np.where(np.isfinite(v), np.round(v * args.scale), -32768).astype(np.int16)
            else:
                data = np.array(values, dtype=np.float32)
            t0 = time.perf_counter()
            # nan_value: bfast turns this sentinel into NaN (float input already uses NaN)
            kw = {"nan_value": -32768}
            if args.n_chunks:
                kw["n_chunks"] = args.n_chunks
            model.fit(data, dates, **kw)
            seconds = time.perf_counter() - t0
            break
        except Exception as exc:  # noqa: BLE001 - try the next backend
            last_exc = exc
            print(f"bfast backend {backend} failed: {exc!r}", file=sys.stderr)
    else:
        raise SystemExit(f"no bfast backend ran: {last_exc!r}")

    breaks = np.asarray(model.breaks, dtype=np.int32)
    n = int(np.searchsorted(days, args.monitor_start, side="left"))
    ok = breaks >= 0
    day = np.where(ok, days[np.clip(n + breaks, 0, len(days) - 1)], 0).astype(np.int64)
    out = Path(args.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    np.save(out / "breaks.npy", breaks)
    np.save(out / "break_day.npy", day)
    mags = getattr(model, "magnitudes", None)
    if mags is not None:
        np.save(out / "magnitudes.npy", np.asarray(mags, dtype=np.float32))
    info = {
        "backend": backend,
        "seconds": seconds,
        "pixels": int(breaks.size),
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0,
        "numpy": np.__version__,
    }
    (out / "info.json").write_text(json.dumps(info))
    print(json.dumps(info))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
