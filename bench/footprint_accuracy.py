"""Benchmark: accuracy of the footprint classes, and the time they add to a run.

One command::

    python bench/footprint_accuracy.py [--scenarios default,tropical,arid,temperate] [--seed 11] [--size N]
                                       [--work /tmp/footprint-bench]

For each demo scenario (seed 11 by default: the rules were developed on the default scenario's
seed 7; a scene already generated under ``--work`` is reused), a full
``run_monitoring`` without the evidence package, then:

* per-class F1 of ``footprint_class.tif`` against the scene's ``truth/footprint_class.tif``, and the
  share of natural bare ground and water classed not mine;
* the time the classification adds: the per-year features in the tile loop (timed around each
  call) plus the context rules, areas, alert classes and environment after it, as a share of the
  run's wall time;

then the IoU of the RGB-only tailings rule on ``../shared/data/tailings_seg_brazil`` (skipped when
absent). The last line is ``footprint_f1_min=<x> natural_not_mine_min=<y> added_time_share=<z>
tailings_iou=<w>``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import time
from pathlib import Path

import numpy as np
import rasterio

ROOT = Path(__file__).resolve().parents[1]


def _truth(scene: Path, years: list[int]) -> np.ndarray:
    with rasterio.open(scene / "truth" / "footprint_class.tif") as src:
        bands = {d: src.read(i + 1) for i, d in enumerate(src.descriptions)}
    return np.stack([bands[str(y)] for y in years])


def run_scene(scenario: str, seed: int, size: int | None, work: Path) -> dict:
    from minewatch.demo.scene import generate_scene
    from minewatch.evaluation import score_footprint
    from minewatch.run import EvidenceOptions, MonitoringRequest, Period, RunInputs, run_monitoring
    import minewatch.run.tiles as tiles

    root = work / f"{scenario}-seed{seed}-{size or 'default'}"
    scene = root / "scene"
    if not (scene / "scene.json").exists():
        generate_scene(scene, seed=seed, size_px=size, scenario=scenario)
    meta = json.loads((scene / "truth" / "truth.json").read_text())
    period = meta["monitoring_period"]
    spent = [0.0]
    inner = tiles.year_features

    def timed(*a, **k):
        t0 = time.perf_counter()
        try:
            return inner(*a, **k)
        finally:
            spent[0] += time.perf_counter() - t0

    tiles.year_features = timed
    try:
        req = MonitoringRequest(
            inputs=RunInputs(catalog=scene / "catalog" / "catalog.json", licences=scene / "licences.geojson",
                             receptors=scene / "receptors.geojson", dem=scene / "dem.tif"),
            period=Period(dt.date.fromisoformat(period["start"]), dt.date.fromisoformat(period["end"])),
            out=root / "result",
            evidence=EvidenceOptions(write=False))
        t0 = time.perf_counter()
        res = run_monitoring(req)
        wall = time.perf_counter() - t0
    finally:
        tiles.year_features = inner
    with rasterio.open(root / "result" / "footprint_class.tif") as src:
        pred = src.read()
        years = [int(d) for d in src.descriptions]
    scores = score_footprint(pred, _truth(scene, years))
    added = spent[0] + res.classes.seconds
    return {"scenario": scenario, "seed": seed, "size": size, "scores": scores, "run_s": round(wall, 2),
            "features_s": round(spent[0], 2), "rules_s": round(res.classes.seconds, 2),
            "added_share": round(added / wall, 4)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--scenarios", default="default,tropical,arid,temperate")
    ap.add_argument("--seed", type=int, default=11)
    ap.add_argument("--size", type=int, default=None, help="scene size in pixels (default: the scenario's)")
    ap.add_argument("--work", type=Path, default=Path("/tmp/footprint-bench"))
    args = ap.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    rows = []
    for scenario in args.scenarios.split(","):
        row = run_scene(scenario, args.seed, args.size, args.work)
        rows.append(row)
        per = ", ".join(f"{k} F1 {v['f1']:.3f}" for k, v in row["scores"]["per_class"].items())
        nat = row["scores"]["natural_not_mine_share"]
        print(f"{scenario} seed {args.seed}: {per}; natural bare/water not mine "
              + ("n/a" if nat is None else f"{100 * nat:.1f} %"))
        print(f"  run {row['run_s']} s, of which per-year features {row['features_s']} s and rules "
              f"{row['rules_s']} s: {100 * row['added_share']:.1f} % of the run")
    from minewatch.evaluation import evaluate_tailings_chips

    chips = ROOT.parent / "shared" / "data" / "tailings_seg_brazil"
    iou = None
    if chips.exists():
        tail = evaluate_tailings_chips(chips)
        iou = tail["iou"]
        print("tailings chips (RGB only): " + ", ".join(f"{c['chip']} IoU {c['iou']:.3f}" for c in tail["chips"])
              + f"; all {iou:.3f}")
    else:
        print(f"tailings chips: {chips} not found, skipped")
    main_classes = ("open pit", "waste dump / heap", "tailings", "mine water")
    f1 = [r["scores"]["per_class"][c]["f1"] for r in rows for c in main_classes
          if r["scores"]["per_class"].get(c, {}).get("true_pixels")]
    f1_min = min(f1) if f1 else float("nan")
    nat = [r["scores"]["natural_not_mine_share"] for r in rows if r["scores"]["natural_not_mine_share"] is not None]
    nat_min = min(nat) if nat else float("nan")
    (args.work / "footprint_accuracy.json").write_text(json.dumps(rows, indent=1))
    print(f"footprint_f1_min={f1_min:.3f} natural_not_mine_min={nat_min:.3f} "
          f"added_time_share={max(r['added_share'] for r in rows):.3f} "
          f"tailings_iou={'n/a' if iou is None else f'{iou:.3f}'}")


if __name__ == "__main__":
    main()
