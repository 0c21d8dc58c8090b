"""Compare a re-run's outputs with the recorded ones and say exactly what differs.

Integer and categorical values (onset days, pixel counts, alert ids, licence
states, dates) must match exactly; floating-point values within the absolute
tolerances stated in the manifest (``tolerances``).
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import rasterio
from rasterio.errors import RasterioIOError

MAX_EXAMPLES = 3
#: Keys of summary.json that describe the run, not its result (never compared).
VOLATILE_SUMMARY_KEYS = {"run", "catalog", "minewatch_version"}
#: Nested keys that name where an input was read from (its hash is in the manifest).
VOLATILE_SUMMARY_PATHS = (("water", "samples", "source"),)


def _read_raster(path: Path):
    try:
        with rasterio.open(path) as src:
            return src.read(1), src.crs, src.transform
    except (RasterioIOError, OSError, ValueError) as exc:
        raise ValueError(f"cannot be read as a raster ({exc})") from None


def compare_raster(recorded: Path, rerun: Path, name: str, tolerance: float | None) -> list[str]:
    """Differences between two single-band rasters: grid, then values (exact if ``tolerance`` is None)."""
    try:
        a, crs_a, tr_a = _read_raster(recorded)
    except ValueError as exc:
        return [f"{name}: the recorded file {exc}"]
    b, crs_b, tr_b = _read_raster(rerun)
    out = []
    if a.shape != b.shape:
        return [f"{name}: grid differs: recorded {a.shape[1]} x {a.shape[0]} px, re-run {b.shape[1]} x {b.shape[0]} px"]
    if crs_a != crs_b:
        out.append(f"{name}: CRS differs: recorded {crs_a}, re-run {crs_b}")
    if not tr_a.almost_equals(tr_b):
        out.append(f"{name}: georeferencing differs: recorded {tuple(tr_a)[:6]}, re-run {tuple(tr_b)[:6]}")
    if a.dtype != b.dtype:
        out.append(f"{name}: data type differs: recorded {a.dtype}, re-run {b.dtype}")
    if tolerance is None:
        diff = a != b
        if np.issubdtype(a.dtype, np.floating) and np.issubdtype(b.dtype, np.floating):
            diff &= ~(np.isnan(a) & np.isnan(b))
        rule = "exactly"
    else:
        af = a.astype(np.float64)
        bf = b.astype(np.float64)
        both_nan = np.isnan(af) & np.isnan(bf)
        with np.errstate(invalid="ignore"):
            diff = ~both_nan & ~(np.abs(af - bf) <= tolerance)
        rule = f"within {tolerance:g}"
    n = int(diff.sum())
    if n:
        rows, cols = np.nonzero(diff)
        examples = "; ".join(f"row {r}, col {c}: recorded {a[r, c].item()!r}, re-run {b[r, c].item()!r}"
                             for r, c in zip(rows[:MAX_EXAMPLES], cols[:MAX_EXAMPLES], strict=True))
        extra = ""
        if tolerance is not None:
            with np.errstate(invalid="ignore"):
                extra = f"; largest difference {np.nanmax(np.abs(a.astype(float) - b.astype(float))):.3g}"
        out.append(f"{name}: {n} of {a.size} pixels differ (must match {rule}){extra}; e.g. {examples}")
    return out


def _num_equal(x, y, tol: float) -> bool:
    if isinstance(x, bool) or isinstance(y, bool) or isinstance(x, int) and isinstance(y, int):
        return x == y
    if isinstance(x, (int, float)) and isinstance(y, (int, float)):
        if math.isnan(x) and math.isnan(y):
            return True
        return abs(x - y) <= tol + 1e-9 * max(abs(x), abs(y))
    return x == y


def _tol_for(key: str, tolerances: dict) -> float:
    if "confidence" in key:
        return tolerances.get("confidence", 1e-4)
    if key.endswith("_ha") or key == "area_ha":
        return tolerances.get("area_ha", 1e-6)
    if key == "clear_share":
        return tolerances.get("clear_share", 1e-3)
    if key == "coordinates":
        return tolerances.get("coordinates_deg", 1e-9)
    return 1e-9


def diff_json(a, b, path: str, tolerances: dict, out: list[str], key: str = "") -> None:
    """Append to ``out`` a line per difference between two JSON values (``path`` names the place)."""
    if len(out) > 50:
        return
    if isinstance(a, dict) and isinstance(b, dict):
        for k in sorted(set(a) | set(b)):
            if k not in b:
                out.append(f"{path}.{k}: missing in the re-run (recorded {_short(a[k])})")
            elif k not in a:
                out.append(f"{path}.{k}: only in the re-run ({_short(b[k])})")
            else:
                diff_json(a[k], b[k], f"{path}.{k}", tolerances, out, k)
    elif isinstance(a, list) and isinstance(b, list):
        if len(a) != len(b):
            out.append(f"{path}: {len(a)} entries recorded, {len(b)} in the re-run")
        for i, (x, y) in enumerate(zip(a, b, strict=False)):
            diff_json(x, y, f"{path}[{i}]", tolerances, out, key)
    elif not _num_equal(a, b, _tol_for(key, tolerances)):
        out.append(f"{path}: recorded {_short(a)}, re-run {_short(b)}")


def _short(v) -> str:
    text = json.dumps(v, ensure_ascii=False)
    return text if len(text) <= 80 else text[:77] + "..."


def _load_json(path: Path, name: str):
    try:
        return json.loads(Path(path).read_text(encoding="utf-8")), None
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        return None, f"{name}: the recorded file is not readable JSON ({exc})"


def compare_summary(recorded: Path, rerun: Path, tolerances: dict, other_backend: bool = False) -> list[str]:
    """Differences of the results in two summaries (``other_backend``: the re-run's backend setting
    was chosen on purpose and is not a difference)."""
    a, err = _load_json(recorded, "summary.json")
    if err:
        return [err]
    b, _ = _load_json(rerun, "summary.json")
    a = {k: v for k, v in a.items() if k not in VOLATILE_SUMMARY_KEYS}
    b = {k: v for k, v in b.items() if k not in VOLATILE_SUMMARY_KEYS}
    for d in (a, b):
        for *parents, leaf in VOLATILE_SUMMARY_PATHS:
            node = d
            for key in parents:
                node = node.get(key) if isinstance(node, dict) else None
            if isinstance(node, dict):
                node.pop(leaf, None)
    if other_backend:
        for d in (a, b):
            if isinstance(d.get("parameters"), dict):
                d["parameters"] = {k: v for k, v in d["parameters"].items() if k != "backend"}
    out: list[str] = []
    diff_json(a, b, "summary.json", tolerances, out)
    return out


def compare_alerts(recorded: Path, rerun: Path, tolerances: dict) -> list[str]:
    a, err = _load_json(recorded, "alerts.geojson")
    if err:
        return [err]
    b, _ = _load_json(rerun, "alerts.geojson")
    fa = {f["properties"].get("alert_id"): f for f in a.get("features", [])}
    fb = {f["properties"].get("alert_id"): f for f in b.get("features", [])}
    out: list[str] = []
    for aid in sorted(set(fa) - set(fb), key=str):
        out.append(f"alerts.geojson: alert {aid} is not found by the re-run")
    for aid in sorted(set(fb) - set(fa), key=str):
        out.append(f"alerts.geojson: the re-run finds an alert {aid} that was not recorded")
    for aid in sorted(set(fa) & set(fb), key=str):
        diff_json(fa[aid]["properties"], fb[aid]["properties"], f"alerts.geojson {aid}", tolerances, out)
        diff_json(fa[aid]["geometry"], fb[aid]["geometry"], f"alerts.geojson {aid} geometry", tolerances, out,
                  "coordinates")
    return out
