"""Per-alert evidence: image chips before and after, the pixel time series, licence state, receptors.

For each alert the pixels of a window around it come from the run's pixel store (the
very observations, and the very screening, the change engine saw: nothing is read or
screened again). Alerts close to each other share one window.

Files, in ``evidence/alerts/<alert_id>/``:

* ``before_truecolor.{png,tif}``, ``after_truecolor.{png,tif}``: red, green, blue;
* ``before_swir.{png,tif}``, ``after_swir.{png,tif}``: SWIR2, NIR, red false colour;
  GeoTIFFs hold float32 surface reflectance (median of clear observations, NaN = none);
  *before* = the 365 days before onset, *after* = the last 365 days of the monitored
  period from onset on;
* ``timeseries.csv`` / ``timeseries.png``: per date, the mean NDVI, BSI, MNDWI and SWIR1 of the
  alert's clear pixels, the detected onset marked;
* ``alert.json``: the alert, its licence state at onset and the receptors downstream;
* ``sheet.html``: the one-page alert sheet (see :mod:`minewatch.evidence.sheets`).
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from rasterio.windows import Window

from minewatch.analysis.geometry import rasterize
from minewatch.analysis.indices import bsi, mndwi, ndvi
from minewatch.analysis.licences import licence_validity
from minewatch.atomic import write_text
from minewatch.geotiff import write_geotiff
from minewatch.imagery.load import Grid

TRUE_COLOUR = ("red", "green", "blue")
SWIR_FALSE_COLOUR = ("swir22", "nir", "red")
MIN_CHIP_PX = 48
MAX_GROUP_PX = 256  # a window of about an analysis tile
SERIES_FIELDS = ("date", "item_id", "role", "alert_pixels", "clear_pixels", "ndvi", "bsi", "mndwi", "swir16")


@dataclass
class AlertChip:
    """Where one alert sits and the window read around it."""

    alert: dict
    number: int  # A0001 -> 1
    rows: tuple[int, int]  # bbox of the alert's pixels, end exclusive
    cols: tuple[int, int]
    window: Window  # chip window on the analysis grid
    files: dict[str, str] = field(default_factory=dict)
    licences: list[dict] = field(default_factory=list)


def chip_window(rows: tuple[int, int], cols: tuple[int, int], grid: Grid) -> Window:
    """A square-ish window around a bbox: at least ``MIN_CHIP_PX`` and twice the alert's size."""
    h = rows[1] - rows[0]
    w = cols[1] - cols[0]
    size = max(MIN_CHIP_PX, 2 * max(h, w) + 16)
    size_r = min(size, grid.height)
    size_c = min(size, grid.width)
    r0 = int(np.clip((rows[0] + rows[1]) // 2 - size_r // 2, 0, grid.height - size_r))
    c0 = int(np.clip((cols[0] + cols[1]) // 2 - size_c // 2, 0, grid.width - size_c))
    return Window(c0, r0, size_c, size_r)


def _union(a: Window, b: Window) -> Window:
    r0 = min(a.row_off, b.row_off)
    c0 = min(a.col_off, b.col_off)
    r1 = max(a.row_off + a.height, b.row_off + b.height)
    c1 = max(a.col_off + a.width, b.col_off + b.width)
    return Window(c0, r0, c1 - c0, r1 - r0)


def group_windows(chips: list[AlertChip], max_px: int = MAX_GROUP_PX) -> list[tuple[Window, list[AlertChip]]]:
    """Merge chip windows into as few read windows as possible, each at most ``max_px`` a side.

    Reading is dominated by the number of (file, window) reads, so one window of the size of an
    analysis tile (the memory the pipeline already uses per tile) beats several small ones.
    """
    groups: list[tuple[Window, list[AlertChip]]] = []
    for chip in sorted(chips, key=lambda c: (c.window.row_off, c.window.col_off)):
        for i, (win, members) in enumerate(groups):
            u = _union(win, chip.window)
            if max(u.width, u.height) <= max_px:
                groups[i] = (u, members + [chip])
                break
        else:
            groups.append((chip.window, [chip]))
    return groups


def _mean(values: np.ndarray) -> float | None:
    values = values[np.isfinite(values)]
    return round(float(values.mean()), 5) if values.size else None


def time_series(items, data: dict[str, np.ndarray], clear: np.ndarray, mask: np.ndarray,
                start_day: int) -> list[dict]:
    """Per date: mean indices over the alert's clear pixels (``mask`` selects them in the chip)."""
    idx = {
        "ndvi": ndvi(data["red"][:, mask], data["nir"][:, mask]),
        "bsi": bsi(data["blue"][:, mask], data["red"][:, mask], data["nir"][:, mask], data["swir16"][:, mask]),
        "mndwi": mndwi(data["green"][:, mask], data["swir16"][:, mask]),
        "swir16": data["swir16"][:, mask],
    }
    ok = clear[:, mask]
    rows = []
    for t, item in enumerate(items):
        row = {"date": item.date.isoformat(), "item_id": item.id,
               "role": "history" if item.day < start_day else "monitored",
               "alert_pixels": int(mask.sum()), "clear_pixels": int(ok[t].sum())}
        for key, arr in idx.items():
            row[key] = _mean(arr[t][ok[t]]) if ok[t].any() else None
        rows.append(row)
    return rows


def series_csv(rows: list[dict]) -> str:
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=SERIES_FIELDS, lineterminator="\n")
    writer.writeheader()
    for r in rows:
        writer.writerow({k: ("" if r[k] is None else r[k]) for k in SERIES_FIELDS})
    return buf.getvalue()


def write_chip_tif(path: Path, rgb: np.ndarray, grid: Grid, bands: tuple[str, ...], description: str) -> None:
    """A 3-band float32 GeoTIFF of reflectance (NaN = no clear observation)."""
    write_geotiff(path, rgb.astype(np.float32), crs=grid.crs, transform=grid.transform, nodata=float("nan"),
                  tiled=False, descriptions=bands, tags={"DESCRIPTION": description, "UNITS": "surface reflectance"})


def licence_state(alert: dict, mask_grid: np.ndarray, grid: Grid, periods, onset_day: int) -> list[dict]:
    """Every licence whose boundary touches the alert: share of the alert inside, state on the onset day."""
    out = []
    if not mask_grid.any():
        return out
    for p in periods:
        inside = rasterize(p.geometry, grid)
        share = float((inside & mask_grid).sum() / mask_grid.sum())
        if share <= 0:
            continue
        out.append({
            "licence_id": p.licence_id, "holder": p.holder, "commodity": p.commodity,
            "status_now": p.status,
            "valid_from": licence_validity(p)[0],
            "valid_to": licence_validity(p)[1],
            "authorised_on_onset": bool(p.active_on(onset_day)),
            "share_of_alert_inside": round(share, 3),
        })
    out.sort(key=lambda r: -r["share_of_alert_inside"])
    return out


def alert_record(alert: dict, licences: list[dict], receptors: list[dict], files: dict[str, str],
                 periods_text: dict, note: str | None = None) -> dict:
    rec = dict(alert)
    rec["licences_at_onset"] = licences
    rec["receptors_downstream"] = receptors
    rec["composites"] = periods_text
    rec["files"] = files
    if note:
        rec["note"] = note
    return rec


def write_json(path: Path, obj) -> None:
    write_text(path, json.dumps(obj, indent=1, ensure_ascii=False))
