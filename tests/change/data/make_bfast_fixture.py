"""Regenerate ``bfast_reference.npz``: the reference bfast package's bfastmonitor breaks.

bfast (PyPI, 0.7) only imports with numpy < 1.24, so it runs in its own virtual
environment (``bash bench/bfast_env/setup.sh``); this script runs in minewatch's venv,
builds the fixed stack, hands it to ``bench/bfast_env/run_bfast.py`` in the bfast venv and
stores bfast's breaks (not the stack: the test rebuilds it from the same generator and
checks its fingerprint).

    python tests/change/data/make_bfast_fixture.py [--bfast-python /work/bfast-venv/bin/python]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[2]

# the stack: NDVI of the benchmark's generator, 100 x 100 pixels x 120 dates, 30 % gaps
SPEC = dict(height=100, width=100, n_dates=120, seed=777, break_fraction=0.2)
# bfastmonitor settings (bfast's OpenCL backend needs k >= 3)
BFAST = dict(k=3, freq=365, hfrac=0.25, level=0.05)


def build_stack():
    """The fixture's NDVI stack (T, H, W) float32, its days and monitor start."""
    from minewatch.analysis.change.synthetic import StackSpec, indices_from_bands, make_stack

    spec = StackSpec(**SPEC)
    bands, _, _ = make_stack(spec)
    ndvi = indices_from_bands(bands)[:, 0]
    return np.ascontiguousarray(ndvi), spec.days, spec.monitor_day


def fingerprint(values: np.ndarray) -> str:
    """sha256 of the stack rounded to 1e-5 (robust to last-bit float differences)."""
    q = np.where(np.isfinite(values), np.round(values * 1e5), -999999).astype(np.int64)
    return hashlib.sha256(q.tobytes()).hexdigest()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--bfast-python", default="/work/bfast-venv/bin/python")
    ap.add_argument("--backend", default="python", help="bfast backend: python (float64) or opencl")
    args = ap.parse_args()
    values, days, monitor_start = build_stack()
    with tempfile.TemporaryDirectory() as tmp:
        tin, tout = Path(tmp, "in"), Path(tmp, "out")
        tin.mkdir()
        np.save(tin / "values.npy", values)
        np.save(tin / "days.npy", days)
        cmd = [
            args.bfast_python, str(REPO / "bench" / "bfast_env" / "run_bfast.py"), str(tin),
            str(tout), "--monitor-start", str(monitor_start), "--backend", args.backend,
            "--k", str(BFAST["k"]), "--freq", str(BFAST["freq"]), "--hfrac", str(BFAST["hfrac"]),
            "--level", str(BFAST["level"]),
        ]
        subprocess.run(cmd, check=True)
        breaks = np.load(tout / "breaks.npy")
        break_day = np.load(tout / "break_day.npy")
        info = json.loads((tout / "info.json").read_text())
    np.savez_compressed(
        HERE / "bfast_reference.npz",
        breaks=breaks.astype(np.int16),
        break_day=break_day.astype(np.int32),
        fingerprint=np.array(fingerprint(values)),
        spec=np.array(json.dumps(SPEC)),
        bfast=np.array(json.dumps({**BFAST, "backend": info["backend"]})),
    )
    print(f"wrote {HERE / 'bfast_reference.npz'}: {int((breaks >= 0).sum())} breaks of {breaks.size}")
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(REPO / "src"))
    raise SystemExit(main())
