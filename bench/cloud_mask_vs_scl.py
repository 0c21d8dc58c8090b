"""Compare the learned cloud mask (s2cloudless) with Sentinel-2 SCL on real cloudy dates.

Data: ../shared/data/aurora_india_mines/mine_0 (78 real L2A dates, 5 bands, x65535).
Its SCL comes as the EO Browser colour rendering; the rendering uses the fixed
Sentinel Hub palette, so it is decoded back to class codes exactly
(``learned_mask.decode_scl_rendering``; every valid pixel matched a palette colour).

SCL cloud = classes 8, 9, 10 (medium/high probability, thin cirrus).
s2cloudless cloud = probability > 0.4.

The aurora files lack B01, B05, B8A, B09 and B10 (cirrus, absent from any L2A), which
s2cloudless needs; they are imputed. The two imputation constants that matter (B10
and the B09/B8A ratio) are chosen on the 2019-2020 dates ("calibration") and the
agreement is reported on the 2022-2023 dates ("held out").

Run:  python bench/cloud_mask_vs_scl.py
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np
import rasterio

from minewatch.imagery.learned_mask import cloud_mask, cloud_probability, decode_scl_rendering

ROOT = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "aurora_india_mines" / "mine_0"
BANDS = (("blue", "B02"), ("red", "B04"), ("nir", "B08"), ("swir16", "B11"), ("swir22", "B12"))
CLOUD = (8, 9, 10)


def load() -> list[tuple[str, dict[str, np.ndarray], np.ndarray, np.ndarray]]:
    out = []
    for d in sorted(p for p in ROOT.iterdir() if p.is_dir()):
        bands: dict[str, np.ndarray] = {}
        valid = None
        for key, name in BANDS:
            with rasterio.open(d / f"{name}.tif") as src:
                a = src.read(1).astype("float32")
                m = src.read(2) > 0 if src.count > 1 else a > 0
            bands[key] = a / 65535.0
            valid = m if valid is None else valid & m
        with rasterio.open(d / "SCL_rgbviz.tif") as src:
            scl = decode_scl_rendering(src.read())
        out.append((d.name, bands, valid, scl))
    return out


def score(dates, cirrus: float, b09_ratio: float):
    rows = []
    for name, bands, valid, scl in dates:
        b = dict(bands)
        b["cirrus"] = np.full_like(b["blue"], cirrus)
        b["nir09"] = b["nir"] * b09_ratio
        learned = cloud_mask(cloud_probability(b)) & valid
        ref = np.isin(scl, CLOUD) & valid
        n = int(valid.sum())
        tp = int((learned & ref).sum())
        fp = int((learned & ~ref).sum())
        fn = int((~learned & ref).sum())
        rows.append({"date": name, "n": n, "scl": ref.sum() / n, "learned": learned.sum() / n,
                     "agree": 1 - (fp + fn) / n, "tp": tp, "fp": fp, "fn": fn,
                     "unknown": float((scl[valid] == 255).mean())})
    return rows


def summary(rows) -> str:
    n = sum(r["n"] for r in rows)
    tp, fp, fn = (sum(r[k] for r in rows) for k in ("tp", "fp", "fn"))
    acc = 1 - (fp + fn) / n
    prec = tp / (tp + fp) if tp + fp else float("nan")
    rec = tp / (tp + fn) if tp + fn else float("nan")
    iou = tp / (tp + fp + fn) if tp + fp + fn else float("nan")
    return f"pixel agreement {acc:.3f}  precision {prec:.3f}  recall {rec:.3f}  IoU {iou:.3f}"


def main() -> int:
    if not ROOT.is_dir():
        print(f"data not found: {ROOT}")
        return 1
    t0 = time.perf_counter()
    dates = load()
    unknown = max(float((scl[v] == 255).mean()) for _, _, v, scl in dates)
    print(f"{len(dates)} dates; SCL colours not in the palette: {unknown:.1%} of valid pixels")
    calib = [d for d in dates if d[0] < "2021"]
    held = [d for d in dates if d[0] > "2021"]
    best = None
    print("calibration (2019-2020):")
    for cirrus in (0.005, 0.02, 0.05):
        for ratio in (0.5, 0.75):
            rows = score(calib, cirrus, ratio)
            n = sum(r["n"] for r in rows)
            acc = 1 - sum(r["fp"] + r["fn"] for r in rows) / n
            print(f"  B10={cirrus:<5} B09=B8A*{ratio:<4}  {summary(rows)}")
            if best is None or acc > best[0]:
                best = (acc, cirrus, ratio)
    assert best is not None
    _, cirrus, ratio = best
    print(f"chosen: B10={cirrus}, B09=B8A*{ratio}")
    rows = score(held, cirrus, ratio)
    print(f"held out (2022-2023, {len(held)} dates): {summary(rows)}")
    base = score(held, 0.005, 0.75)
    print(f"held out with the naive imputation (B10=0.005, B09=B8A*0.75): {summary(base)}")
    print("cloudy held-out dates (SCL or learned cloud >= 5 %):")
    print("  date        SCL cloud  learned  agreement")
    for r in rows:
        if r["scl"] >= 0.05 or r["learned"] >= 0.05:
            print(f"  {r['date']}  {r['scl']:9.2f}  {r['learned']:7.2f}  {r['agree']:9.2f}")
    print(f"({time.perf_counter() - t0:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
