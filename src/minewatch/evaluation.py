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
