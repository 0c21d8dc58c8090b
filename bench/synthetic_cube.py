"""Deterministic synthetic reflectance cube with known events, for bench/change_detection.py.

Each pixel mixes a vegetation and a bare-soil spectrum (Landsat-like blue, green, red,
NIR, SWIR1, SWIR2 reflectance, plus a brightness temperature in kelvin) with a
vegetation fraction that follows a seasonal cycle and a small per-pixel trend. Gaussian
noise is added and a share of the dates is dropped at random (clouds: every band NaN).

Pixels fall into five kinds (shares in :class:`CubeSpec`):

0. stable: season, trend and noise only;
1. lasting loss: from a date of the monitoring period on, the vegetation fraction is
   multiplied by ``keep`` in [0, 0.6] for good (a pit, a dump, a clearing);
2. transient only: the same kind of loss for 90 days, then back (a drought, a harvest,
   a burn that regrows), ending at least 275 days before the end of the period;
3. a transient, then a lasting loss more than a year later;
4. a greener-than-usual half year (vegetation fraction up by 0.1-0.25) directly followed
   by a lasting loss.

The truth is the *lasting* change: kinds 1, 3 and 4, dated on the acquisition where the
loss first appears (cloudy or not). Rows are generated independently from ``(seed, row)``,
so any block of rows can be produced on its own and equals the same rows of the whole
cube: a 1000 x 1000 cube never needs to be held in memory at once.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np

BAND_NAMES = ("blue", "green", "red", "nir", "swir16", "swir22", "thermal")
KIND_NAMES = ("stable", "lasting", "transient", "transient+lasting", "greener+clearing")

_VEG = np.array([0.03, 0.06, 0.04, 0.40, 0.20, 0.10], np.float32)
_SOIL = np.array([0.10, 0.14, 0.18, 0.25, 0.32, 0.28], np.float32)
_EPOCH = dt.date(1970, 1, 1)
TRANSIENT_DAYS = 90
GREENER_DAYS = 180


@dataclass(frozen=True)
class CubeSpec:
    """Shape and content of a synthetic cube (the defaults are the benchmark's)."""

    height: int = 1000
    width: int = 1000
    n_dates: int = 120
    start: str = "2018-01-01"
    step_days: int = 16
    monitor_start: str = "2020-01-01"
    cloud_fraction: float = 0.30
    shares: tuple[float, float, float, float, float] = (0.50, 0.25, 0.10, 0.10, 0.05)
    noise: float = 0.01  # reflectance units
    trend_sd: float = 0.01  # spread of the vegetation-fraction trends per year
    seed: int = 20240601

    @property
    def days(self) -> np.ndarray:
        """Acquisition days since 1970-01-01, int64 (n_dates,)."""
        d0 = (dt.date.fromisoformat(self.start) - _EPOCH).days
        return d0 + self.step_days * np.arange(self.n_dates, dtype=np.int64)

    @property
    def monitor_day(self) -> int:
        """``monitor_start`` as days since 1970-01-01."""
        return (dt.date.fromisoformat(self.monitor_start) - _EPOCH).days

    @property
    def end_day(self) -> int:
        """The last acquisition day: the end of the monitoring period."""
        return int(self.days[-1])

    def check(self) -> None:
        """Raise ValueError when the monitoring period is too short for every kind of pixel."""
        if abs(sum(self.shares) - 1.0) > 1e-9 or len(self.shares) != len(KIND_NAMES):
            raise ValueError(f"shares {self.shares} must be {len(KIND_NAMES)} numbers summing to 1")
        ms, me = self.monitor_day, self.end_day
        if not self.days[0] < ms or me - ms < 800:
            raise ValueError(f"need history before {self.monitor_start} and >= 800 monitored days "
                             f"(have {me - ms}): use more dates or an earlier monitor_start")


def make_rows(spec: CubeSpec, y0: int, y1: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Rows ``y0..y1-1`` of the cube.

    Returns
    -------
    bands : ndarray float32 (T, 7, y1 - y0, W)
        Reflectance in :data:`BAND_NAMES` order (thermal in kelvin), NaN where cloudy.
    truth_date : ndarray int64 (y1 - y0, W)
        Day (since 1970-01-01) of the acquisition on which the lasting loss appears; 0 if none.
    kind : ndarray int8 (y1 - y0, W)
        Index into :data:`KIND_NAMES`.
    """
    spec.check()
    days = spec.days
    T, W = spec.n_dates, spec.width
    ms, me = spec.monitor_day, spec.end_day

    def index(day: int) -> int:
        return int(np.searchsorted(days, day))

    cum = np.cumsum(spec.shares)[:-1]
    season = 2.0 * np.pi * days.astype(np.float64) / 365.25
    years = (days - days[0]) / 365.25
    d = days[:, None]
    out = np.empty((T, 7, y1 - y0, W), np.float32)
    tdate = np.zeros((y1 - y0, W), np.int64)
    kinds = np.zeros((y1 - y0, W), np.int8)
    for r, y in enumerate(range(y0, y1)):
        rng = np.random.default_rng([spec.seed, y])
        base = rng.uniform(0.35, 0.85, W)
        amp = rng.uniform(0.05, 0.25, W)
        phase = rng.uniform(0.0, 2.0 * np.pi, W)
        trend = rng.normal(0.0, 1.0, W) * spec.trend_sd
        v = base[None, :] + amp[None, :] * np.cos(season[:, None] - phase[None, :])
        v = v + trend[None, :] * years[:, None]
        kind = np.searchsorted(cum, rng.random(W), side="right").astype(np.int8)
        early = days[rng.integers(index(ms + 30), index(me - 200), W)]
        late = days[rng.integers(index(ms + 500), index(me - 200), W)]
        lasting = np.where(kind == 3, late, early)
        tr_start = np.where(kind == 3, rng.integers(ms + 30, np.maximum(late - 455, ms + 31)),
                            rng.integers(ms + 30, me - TRANSIENT_DAYS - 275, W))
        keep = rng.uniform(0.0, 0.6, W)
        keep_t = rng.uniform(0.0, 0.6, W)
        greener = rng.uniform(0.10, 0.25, W)
        has_lasting = np.isin(kind, (1, 3, 4))
        trans = np.isin(kind, (2, 3))[None, :] & (d >= tr_start) & (d < tr_start + TRANSIENT_DAYS)
        green = (kind == 4)[None, :] & (d >= lasting - GREENER_DAYS) & (d < lasting)
        v = np.where(trans, v * keep_t[None, :], v)
        v = np.where(green, v + greener[None, :], v)
        v = np.where(has_lasting[None, :] & (d >= lasting), v * keep[None, :], v)
        v = np.clip(v, 0.0, 1.0).astype(np.float32)
        refl = v[:, None, :] * _VEG[None, :, None] + (1 - v[:, None, :]) * _SOIL[None, :, None]
        refl = refl + rng.normal(0.0, spec.noise, refl.shape).astype(np.float32)
        therm = 295.0 + 12.0 * (1.0 - v) + rng.normal(0.0, 0.8, v.shape).astype(np.float32)
        cloud = rng.random((T, W)) < spec.cloud_fraction
        out[:, :6, r, :] = refl
        out[:, 6, r, :] = therm
        out[:, :, r, :][np.broadcast_to(cloud[:, None, :], (T, 7, W))] = np.nan
        tdate[r] = np.where(has_lasting, lasting, 0)
        kinds[r] = kind
    return out, tdate, kinds


def ndvi(bands: np.ndarray) -> np.ndarray:
    """NDVI (T, ...) of a (T, 7, ...) band block, float32 (NaN where cloudy)."""
    red, nir = bands[:, 2], bands[:, 3]
    with np.errstate(invalid="ignore", divide="ignore"):
        return ((nir - red) / (nir + red)).astype(np.float32)
