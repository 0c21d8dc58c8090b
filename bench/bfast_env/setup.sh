#!/usr/bin/env bash
# Create a separate virtual environment for the reference `bfast` package (PyPI).
#
# bfast (0.6/0.7) imports only with numpy < 1.24, which clashes with minewatch's numpy 2,
# so bench/change_detection.py talks to it through a subprocess running
# in this venv.  Its OpenCL backend needs an OpenCL driver: `pocl-binary-distribution`
# ships a CPU one (PoCL) as a wheel.
#
# Usage: bash bench/bfast_env/setup.sh [VENV_DIR]      (default: /work/bfast-venv or $MINEWATCH_BFAST_VENV)
set -euo pipefail
VENV="${1:-${MINEWATCH_BFAST_VENV:-/work/bfast-venv}}"
PY="${PYTHON:-python3.11}"
if ! command -v "$PY" >/dev/null 2>&1; then PY=python3; fi
"$PY" -m venv "$VENV"
"$VENV/bin/pip" install -q --upgrade pip wheel "setuptools<70"
# numpy < 1.24 (bfast uses np.int / np.float aliases); pyopencl built against numpy 1.x.
"$VENV/bin/pip" install -q "numpy==1.23.5" "pandas<2" "scipy<1.12" "scikit-learn<1.3" "matplotlib<3.8" wget
"$VENV/bin/pip" install -q "pyopencl<2023" || "$VENV/bin/pip" install -q "pyopencl<2024.2" "numpy==1.23.5"
"$VENV/bin/pip" install -q pocl-binary-distribution || echo "warning: pocl-binary-distribution did not install; bfast's opencl backend will be unavailable" >&2
# bfast's setup.py imports the package itself, so build it against this venv's numpy/pandas.
"$VENV/bin/pip" install -q --no-deps --no-build-isolation bfast
"$VENV/bin/python" - <<'PY'
import numpy, bfast
print("bfast venv ok: numpy", numpy.__version__, "bfast", getattr(bfast, "__version__", "?"))
try:
    import pyopencl as cl
    print("opencl platforms:", [p.name for p in cl.get_platforms()])
except Exception as exc:  # pragma: no cover - informative only
    print("opencl unavailable:", exc)
PY
# Warm PoCL's kernel cache (~/.cache/pocl): the first OpenCL run compiles bfast's 179
# Futhark-generated kernels, which took about an hour on 2 busy cores. Skip with NO_WARM=1.
if [ "${NO_WARM:-0}" != "1" ]; then
  HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
  TMP="$(mktemp -d)"
  "$VENV/bin/python" - "$TMP" <<'PY'
import sys, numpy as np
rng = np.random.default_rng(0)
t = 120
days = 17532 + 16 * np.arange(t)
v = (0.5 + 0.2 * np.cos(2 * np.pi * days / 365.25))[:, None, None] + rng.normal(0, 0.03, (t, 16, 16))
v[rng.random(v.shape) < 0.3] = np.nan
np.save(sys.argv[1] + "/values.npy", v.astype(np.float32))
np.save(sys.argv[1] + "/days.npy", days.astype(np.int64))
PY
  echo "warming bfast's OpenCL kernel cache (first time: up to an hour on 2 cores)..."
  "$VENV/bin/python" "$HERE/run_bfast.py" "$TMP" "$TMP/out" --monitor-start 18628 --k 3 --backend opencl || true
  rm -rf "$TMP"
fi
echo "bfast venv ready at $VENV"
