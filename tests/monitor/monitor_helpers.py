"""Constants and readers shared by the monitoring tests (imported by name: several test folders
have a conftest)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import rasterio

START = dt.date(2020, 1, 1)
TILE = 32


def rasters(folder: Path) -> dict[str, np.ndarray]:
    """alert_level.tif and disturbance_date.tif of a run folder or a state's ``latest/``."""
    out = {}
    for name in ("alert_level", "disturbance_date"):
        with rasterio.open(Path(folder) / f"{name}.tif") as src:
            out[name] = src.read(1)
    return out


def agreement(a: dict, b: dict) -> dict[str, float]:
    return {k: float((a[k] == b[k]).mean()) for k in a}
