"""Accuracy of a run against a reference: pixel precision/recall/F1 and onset-date error."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import rasterio


def evaluate_against_truth(result_dir: str | Path, truth_dir: str | Path) -> dict:
    """Compare ``result_dir/disturbance_date.tif`` at level >= probable (``alert_level.tif``) and the
    summary with a truth folder.

    The truth folder holds ``onset_date.tif`` (days since 1970-01-01 of every mining pixel's
    onset, 0 = never) and ``truth.json`` (monitoring period, ``outside_licence_area_ha``).
    Only truth onsets inside the run's monitored period count as new disturbance.
    """
    result_dir, truth_dir = Path(result_dir), Path(truth_dir)
    summary = json.loads((result_dir / "summary.json").read_text())
    truth = json.loads((truth_dir / "truth.json").read_text())
    with rasterio.open(result_dir / "disturbance_date.tif") as src:
        pred = src.read(1)
    level_tif = result_dir / "alert_level.tif"
    if level_tif.exists():  # runs before alert levels: every flagged pixel counts
        with rasterio.open(level_tif) as src:
            pred = np.where(src.read(1) >= 2, pred, 0)
    with rasterio.open(truth_dir / "onset_date.tif") as src:
        true_onset = src.read(1)
    start = np.datetime64(summary["period"]["start"]).astype("datetime64[D]").astype(int)
    end = np.datetime64(summary["period"]["end"]).astype("datetime64[D]").astype(int)
    t = (true_onset >= start) & (true_onset <= end)
    p = pred > 0
    tp = int((t & p).sum())
    precision = tp / max(int(p.sum()), 1)
    recall = tp / max(int(t.sum()), 1)
    f1 = 2 * precision * recall / max(precision + recall, 1e-12)
    both = t & p
    errors = np.abs(pred[both].astype(np.int64) - true_onset[both].astype(np.int64))
    true_out = float(truth["outside_licence_area_ha"])
    pred_out = float(summary["disturbance"]["outside_licence_area_ha"])
    return {
        "precision": precision,
        "recall": recall,
        "f1": f1,
        "true_pixels": int(t.sum()),
        "predicted_pixels": int(p.sum()),
        "median_onset_error_days": float(np.median(errors)) if errors.size else float("nan"),
        "p90_onset_error_days": float(np.percentile(errors, 90)) if errors.size else float("nan"),
        "outside_area_true_ha": true_out,
        "outside_area_pred_ha": pred_out,
        "outside_area_rel_error": abs(pred_out - true_out) / true_out if true_out else float(pred_out > 0),
    }


def evaluate_events(result_dir: str | Path, truth_dir: str | Path, found_share: float = 0.5) -> dict:
    """Per true event of ``truth_dir/events.geojson``: the share of its pixels the run flagged.

    A mining event whose onset lies in the run's period counts as found when at least
    ``found_share`` of its pixels (those with a truth onset in the period) carry a disturbance
    date; a not-mining event (burn, harvest, sand bar, ...) counts as falsely flagged when that
    share of its pixels that are not mining pixels carry one. ``recent`` events are those with an
    onset in the last 90 days of the period.
    """
    import shapely
    from pyproj import Transformer
    from rasterio import features
    from shapely.geometry import shape

    result_dir, truth_dir = Path(result_dir), Path(truth_dir)
    summary = json.loads((result_dir / "summary.json").read_text())
    start = np.datetime64(summary["period"]["start"]).astype("datetime64[D]").astype(int)
    end = np.datetime64(summary["period"]["end"]).astype("datetime64[D]").astype(int)
    with rasterio.open(result_dir / "disturbance_date.tif") as src:
        flagged = src.read(1) > 0
        crs, transform, shp = src.crs, src.transform, src.shape
    with rasterio.open(truth_dir / "onset_date.tif") as src:
        true_onset = src.read(1)
    to_grid = Transformer.from_crs(4326, crs, always_xy=True)
    rows = []
    for feat in json.loads((truth_dir / "events.geojson").read_text())["features"]:
        p = feat["properties"]
        onset = int(np.datetime64(p["onset"]).astype("datetime64[D]").astype(int))
        if not start <= onset <= end:
            continue
        geom = shapely.transform(shape(feat["geometry"]),
                                 lambda c: np.column_stack(to_grid.transform(c[:, 0], c[:, 1])))
        m = features.rasterize([(geom, 1)], out_shape=shp, transform=transform, fill=0, dtype="uint8").astype(bool)
        if p["kind"] == "mining":
            m &= (true_onset >= start) & (true_onset <= end)
        else:
            m &= true_onset == 0
        if not m.any():
            continue
        share = float(flagged[m].mean())
        rows.append({"id": p["id"], "kind": p["kind"], "onset": p["onset"], "pixels": int(m.sum()),
                     "flagged_share": round(share, 3), "recent": bool(onset > end - 90),
                     "found": share >= found_share})
    mining = [r for r in rows if r["kind"] == "mining"]
    recent = [r for r in mining if r["recent"]]
    other = [r for r in rows if r["kind"] != "mining"]
    return {
        "found_share": found_share,
        "mining_events": len(mining),
        "mining_events_found": sum(r["found"] for r in mining),
        "recent_mining_events": len(recent),
        "recent_mining_events_found": sum(r["found"] for r in recent),
        "not_mining_events": len(other),
        "not_mining_events_flagged": sum(r["found"] for r in other),
        "events": rows,
    }
#: The footprint classes scored per class, and the "not mine" truth classes checked for false mine.
SCORED_CLASSES = {1: "open pit", 2: "waste dump / heap", 3: "tailings", 4: "mine water", 5: "roads and pads",
                  6: "rehabilitated"}
NOT_MINE_TRUTH = 7  # other bare / natural water (present before mining, outside its footprint)


def score_footprint(pred: np.ndarray, truth: np.ndarray) -> dict:
    """Per-class F1 of footprint codes ``(years, h, w)`` against truth codes (255 in either: not scored),
    and the share of truth "other bare / natural water" pixels classed as not mine (0 or 7)."""
    ok = (pred != 255) & (truth != 255)
    out: dict = {"per_class": {}}
    for code, name in SCORED_CLASSES.items():
        t, p = (truth == code) & ok, (pred == code) & ok
        if not t.any() and not p.any():
            continue
        tp = int((t & p).sum())
        precision = tp / max(int(p.sum()), 1)
        recall = tp / max(int(t.sum()), 1)
        out["per_class"][name] = {"f1": 2 * precision * recall / max(precision + recall, 1e-12),
                                  "precision": precision, "recall": recall, "true_pixels": int(t.sum()),
                                  "predicted_pixels": int(p.sum())}
    natural = (truth == NOT_MINE_TRUTH) & ok
    out["natural_not_mine_share"] = float(np.isin(pred[natural], (0, NOT_MINE_TRUTH)).mean()) if natural.any() \
        else None
    out["natural_pixels"] = int(natural.sum())
    return out


def evaluate_footprint(result_dir: str | Path, truth_dir: str | Path) -> dict | None:
    """:func:`score_footprint` of ``result_dir/footprint_class.tif`` against ``truth_dir/footprint_class.tif``,
    bands matched by their year (``None`` when the truth folder has no class truth)."""
    truth_path = Path(truth_dir) / "footprint_class.tif"
    if not truth_path.exists():
        return None
    with rasterio.open(Path(result_dir) / "footprint_class.tif") as src:
        pred = {d: src.read(i + 1) for i, d in enumerate(src.descriptions)}
    with rasterio.open(truth_path) as src:
        truth = {d: src.read(i + 1) for i, d in enumerate(src.descriptions)}
    years = [y for y in pred if y in truth]
    if not years:
        return None
    scores = score_footprint(np.stack([pred[y] for y in years]), np.stack([truth[y] for y in years]))
    scores["years"] = years
    return scores


def evaluate_tailings_chips(folder: str | Path) -> dict:
    """IoU of the RGB-only tailings rule (:func:`~minewatch.analysis.footprint.rgb.tailings_rgb`) on
    chips ``img/img_N.tif`` (bands B2, B3, B4 reflectance) against ``mask/mask_N.tif`` (0/1)."""
    import math

    from minewatch.analysis.footprint.rgb import tailings_rgb

    folder = Path(folder)
    chips, inter, union = [], 0, 0
    for img in sorted((folder / "img").glob("img_*.tif"), key=lambda p: int(p.stem.split("_")[1])):
        with rasterio.open(img) as src:
            rgb = src.read().astype(np.float32)
            tr, crs, b = src.transform, src.crs, src.bounds
        with rasterio.open(folder / "mask" / img.name.replace("img_", "mask_")) as src:
            truth = src.read(1) > 0
        if crs.is_geographic:
            lat = math.radians(0.5 * (b.bottom + b.top))
            pixel_m = math.sqrt(abs(tr.a) * 111_320.0 * math.cos(lat) * abs(tr.e) * 110_574.0)
        else:
            pixel_m = abs(tr.a)
        pred = tailings_rgb(rgb[0], rgb[1], rgb[2], pixel_m)
        i, u = int((pred & truth).sum()), int((pred | truth).sum())
        inter, union = inter + i, union + u
        chips.append({"chip": img.stem, "iou": i / u if u else None, "predicted_pixels": int(pred.sum()),
                      "true_pixels": int(truth.sum())})
    return {"chips": chips, "iou": inter / union if union else None}
