"""Deterministic synthetic image stacks with known breaks (tests, benchmark, demos).

Each pixel mixes a vegetation and a bare-soil spectrum (Landsat-like blue, green, red,
NIR, SWIR1, SWIR2 reflectance, plus a brightness temperature) with a vegetation fraction
that follows a seasonal cycle. A chosen share of pixels loses vegetation abruptly on a
date of the monitoring period (as when a mine pit or a waste dump opens). Observations
are dropped at random (clouds) and Gaussian noise is added.

Rows are generated independently from ``(seed, row)``, so any block of rows can be
produced on its own and is identical to the same rows of the full stack: a 1000 x 1000
stack never needs to be held in memory at once.
"""

from __future__ import annotations

import datetime as _dt
from dataclasses import dataclass

import numpy as np

BAND_NAMES = ("blue", "green", "red", "nir", "swir1", "swir2", "thermal")
INDEX_NAMES = ("ndvi", "bsi", "swir1")

_VEG = np.array([0.03, 0.06, 0.04, 0.40, 0.20, 0.10], np.float32)
_SOIL = np.array([0.10, 0.14, 0.18, 0.25, 0.32, 0.28], np.float32)
_EPOCH = _dt.date(1970, 1, 1)


@dataclass(frozen=True)
class StackSpec:
    """Shape and content of a synthetic stack (all defaults are those of the benchmark)."""

    height: int = 1000
    width: int = 1000
    n_dates: int = 120
    start: str = "2018-01-01"
    step_days: int = 16
    monitor_start: str = "2021-01-01"
    cloud_fraction: float = 0.30
    break_fraction: float = 0.20
    noise: float = 0.01  # reflectance units
    trend_sd: float = 0.01  # spread of the vegetation-fraction trends per year
    min_obs_after_break: int = 12  # dates between the latest break and the end
    seed: int = 20240601

    @property
    def days(self) -> np.ndarray:
        """Acquisition days since 1970-01-01, int64 (n_dates,)."""
        d0 = (_dt.date.fromisoformat(self.start) - _EPOCH).days
        return d0 + self.step_days * np.arange(self.n_dates, dtype=np.int64)

    @property
    def monitor_day(self) -> int:
        """``monitor_start`` as days since 1970-01-01."""
        return (_dt.date.fromisoformat(self.monitor_start) - _EPOCH).days


def make_rows(spec: StackSpec, y0: int, y1: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Rows ``y0..y1-1`` of the stack.

    Returns
    -------
    bands : ndarray float32 (T, 7, y1 - y0, W)
        Reflectance (thermal in kelvin), NaN where cloudy.
    truth_flag : ndarray bool (y1 - y0, W)
        Pixel has an injected break.
    truth_date : ndarray int64 (y1 - y0, W)
        Day (since 1970-01-01) of the acquisition on which the break appears; 0 if none.
    """
    days = spec.days
    T, W = spec.n_dates, spec.width
    n_split = int(np.searchsorted(days, spec.monitor_day))
    last = max(n_split + 1, T - spec.min_obs_after_break)
    out = np.empty((T, 7, y1 - y0, W), np.float32)
    tflag = np.zeros((y1 - y0, W), bool)
    tdate = np.zeros((y1 - y0, W), np.int64)
    phase_t = 2.0 * np.pi * days.astype(np.float64) / 365.25
    for r, y in enumerate(range(y0, y1)):
        rng = np.random.default_rng([spec.seed, y])
        base = rng.uniform(0.35, 0.85, W)
        amp = rng.uniform(0.05, 0.25, W)
        phase = rng.uniform(0.0, 2.0 * np.pi, W)
        trend = rng.normal(0.0, 1.0, W) * spec.trend_sd  # vegetation-fraction change per year
        years = (days - days[0]) / 365.25
        v = base[None, :] + amp[None, :] * np.cos(phase_t[:, None] - phase[None, :])
        v = v + trend[None, :] * years[:, None]
        has = rng.random(W) < spec.break_fraction
        bidx = rng.integers(n_split, last, W)
        keep = rng.uniform(0.0, 0.6, W)  # share of vegetation left after the break
        after = np.arange(T)[:, None] >= bidx[None, :]
        v = np.where(has[None, :] & after, v * keep[None, :], v)
        v = np.clip(v, 0.0, 1.0).astype(np.float32)
        refl = v[:, None, :] * _VEG[None, :, None] + (1 - v[:, None, :]) * _SOIL[None, :, None]
        refl = refl + rng.normal(0.0, spec.noise, refl.shape).astype(np.float32)
        therm = 295.0 + 12.0 * (1.0 - v) + rng.normal(0.0, 0.8, v.shape).astype(np.float32)
        cloud = rng.random((T, W)) < spec.cloud_fraction
        out[:, :6, r, :] = refl
        out[:, 6, r, :] = therm
        out[:, :, r, :][np.broadcast_to(cloud[:, None, :], (T, 7, W))] = np.nan
        tflag[r] = has
        tdate[r] = np.where(has, days[bidx], 0)
    return out, tflag, tdate


def indices_from_bands(bands: np.ndarray) -> np.ndarray:
    """NDVI, BSI and SWIR1 from a (T, 7, ...) band stack -> float32 (T, 3, ...)."""
    blue, red, nir, swir1 = bands[:, 0], bands[:, 2], bands[:, 3], bands[:, 4]
    with np.errstate(invalid="ignore", divide="ignore"):
        ndvi = (nir - red) / (nir + red)
        bsi = ((swir1 + red) - (nir + blue)) / ((swir1 + red) + (nir + blue))
    return np.stack([ndvi, bsi, swir1], axis=1).astype(np.float32)


def make_stack(spec: StackSpec) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The whole stack at once (small specs only): ``(bands, truth_flag, truth_date)``."""
    return make_rows(spec, 0, spec.height)
