"""Weather, atmosphere, sensor effects and the (imperfect) Sen2Cor SCL of one acquisition."""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass

import numpy as np

from minewatch.demo.geo import sun_position
from minewatch.demo.noise import block_mean, smooth_field, upsample_window
from minewatch.demo.spectra import CLOUD, HAZE, SHADOW

#: probability that a date is substantially cloudy, by month (continental climate:
#: cloudy winters and springs, clear late summers)
P_CLOUDY = (0.45, 0.45, 0.45, 0.40, 0.33, 0.25, 0.18, 0.15, 0.18, 0.30, 0.45, 0.50)
SITE_LAT = 49.94
MAX_SHADOW_SHIFT_M = 2500.0


@dataclass(frozen=True)
class Climate:
    """What the weather of a site draws from (the default scene's steppe values by default)."""

    lat: float = SITE_LAT
    p_cloudy: tuple[float, ...] = P_CLOUDY  # per month: a substantially cloudy date
    p_overcast: float = 0.2  # share of cloudy dates fully overcast
    haze_p: tuple[float, float] = (0.1, 0.25)  # haze probability: base, extra on cloudy dates
    haze_range: tuple[float, float] = (0.02, 0.12)
    #: month -> (probability of snow, intensity low, intensity high)
    snow: tuple[tuple[int, float, float, float], ...] = (
        (12, 0.85, 0.55, 1.0), (1, 0.85, 0.55, 1.0), (2, 0.85, 0.55, 1.0),
        (11, 0.5, 0.1, 0.65), (3, 0.5, 0.1, 0.65), (4, 0.12, 0.0, 0.35), (10, 0.12, 0.0, 0.35))
    wet_months: tuple[int, ...] = (3, 4)  # soil darker (moist) in these months
    p_swath_cut: float = 0.07


DEFAULT_CLIMATE = Climate()


@dataclass
class Weather:
    """Per-date random draws (all from ``rng([seed, 2, date ordinal])``)."""

    cloud_cover: float  # target fraction of the scene under cloud
    cloud_height_m: float
    haze_max: float
    snow_intensity: float
    soil_moist: float
    sun_zenith: float
    sun_azimuth: float
    gain: float
    offset: np.ndarray  # (10,)
    swath_cut: tuple[float, float, int] | None  # (x at top as fraction, slope, side)


def draw_weather(rng: np.random.Generator, date: dt.date, climate: Climate = DEFAULT_CLIMATE) -> Weather:
    """Draw the weather of one date."""
    m = date.month
    u = rng.random()
    if u < climate.p_cloudy[m - 1]:
        cover = 1.0 if rng.random() < climate.p_overcast else float(0.15 + 0.85 * rng.beta(1.3, 1.0))
    elif rng.random() < 0.5:
        cover = float(rng.uniform(0.0, 0.08))
    else:
        cover = 0.0
    h0, h1 = climate.haze_p
    haze = float(rng.uniform(*climate.haze_range)) if rng.random() < (h0 + h1 * (cover > 0.1)) else 0.0
    snow = 0.0
    for month, p_snow, lo, hi in climate.snow:
        if month == m:
            snow = float(rng.uniform(lo, hi)) if rng.random() < p_snow else 0.0
            break
    moist = 0.8 if m in climate.wet_months else float(rng.uniform(0.85, 1.0))
    zen, az = sun_position(date, climate.lat)
    cut = None
    if rng.random() < climate.p_swath_cut:
        cut = (float(rng.uniform(0.1, 0.6)), float(math.tan(math.radians(rng.uniform(-12, 12)))), int(rng.integers(0, 2)))
    return Weather(cover, float(rng.uniform(600, 2500)), haze, snow, moist, zen, az,
                   float(rng.normal(1.0, 0.015)), rng.normal(0.0, 0.003, 10).astype(np.float32), cut)


@dataclass
class AtmosphereState:
    """Truth of the atmosphere on one date (10 m grid)."""

    opacity: np.ndarray  # thick-cloud opacity 0..1
    haze: np.ndarray  # thin-cloud / haze thickness
    shadow: np.ndarray  # cloud-shadow strength 0..1
    valid: np.ndarray  # bool, inside the swath


def atmosphere(rng: np.random.Generator, w: Weather, n: int, pixel_m: float = 10.0) -> AtmosphereState:
    """Cloud, haze and shadow fields of one date."""
    opacity = np.zeros((n, n), np.float32)
    shadow = np.zeros((n, n), np.float32)
    haze = np.zeros((n, n), np.float32)
    step = 4 if n % 4 == 0 else 2
    pad = int(MAX_SHADOW_SHIFT_M / pixel_m) + step
    pad -= pad % step
    m = (n + 2 * pad) // step + 2
    if w.cloud_cover > 0:
        low = smooth_field(rng, (m, m), (16.0, 8.0, 3.0, 1.2), (1.0, 0.7, 0.35, 0.15))
        f = upsample_window(low, step, pad, pad, n)
        if w.cloud_cover >= 1.0:
            tau = float(f.min()) - 2.0
        else:
            tau = float(np.quantile(f[:: max(1, n // 100), :: max(1, n // 100)], 1.0 - w.cloud_cover))
        soft = 0.45
        opacity = np.clip((f - tau) / soft, 0, 1) ** 0.8
        # shadow: the same cloud field displaced away from the sun
        dist = min(w.cloud_height_m * math.tan(math.radians(w.sun_zenith)), MAX_SHADOW_SHIFT_M) / pixel_m
        az = math.radians(w.sun_azimuth)
        drow = int(round(math.cos(az) * dist))  # shadow lies opposite the sun: north-west here
        dcol = int(round(-math.sin(az) * dist))
        # pixel p is shadowed by the cloud at p - (drow, dcol)
        fs = upsample_window(low, step, pad - drow, pad - dcol, n)
        shadow = (np.clip((fs - tau) / soft, 0, 1) ** 0.8 * (1 - opacity)).astype(np.float32)
        opacity = opacity.astype(np.float32)
    if w.haze_max > 0:
        low_h = smooth_field(rng, (m, m), (10.0, 4.0), (1.0, 0.4))
        h = upsample_window(low_h, step, pad, pad, n)
        haze = (w.haze_max * np.clip(0.55 + 0.45 * h, 0, 1.5)).astype(np.float32)
    valid = np.ones((n, n), bool)
    if w.swath_cut is not None:
        x_top, slope, side = w.swath_cut
        rows, cols = np.mgrid[0:n, 0:n]
        edge = x_top * n + slope * rows
        valid = cols >= edge if side == 0 else cols < (n - edge)
    return AtmosphereState(opacity, haze, shadow, valid)


def apply_atmosphere(R: np.ndarray, st: AtmosphereState, w: Weather, rng: np.random.Generator) -> np.ndarray:
    """Surface reflectance (10, n, n) -> L2A reflectance with residual atmosphere (in place)."""
    if st.shadow.any():
        R *= 1 - st.shadow[None] * (1 - SHADOW[:, None, None])
    if st.haze.any():
        R *= 1 - 0.5 * st.haze[None]
        R += st.haze[None] * HAZE[:, None, None]
    if st.opacity.any():
        tex = (0.88 + 0.2 * st.opacity).astype(np.float32)
        a = st.opacity[None]
        R *= 1 - a
        R += a * (CLOUD[:, None, None] * tex[None])
    R *= np.float32(w.gain)
    R += w.offset[:, None, None]
    return R


# ---------------------------------------------------------------------------------- SCL
SCL_NODATA, SCL_SATURATED, SCL_DARK, SCL_SHADOW, SCL_VEG, SCL_NOTVEG, SCL_WATER, SCL_UNCLASS, \
    SCL_CLOUD_MED, SCL_CLOUD_HIGH, SCL_CIRRUS, SCL_SNOW = range(12)


def simulate_scl(rng: np.random.Generator, R20: np.ndarray, st20: dict[str, np.ndarray],
                 w: Weather) -> tuple[np.ndarray, dict[str, float]]:
    """An imperfect Sen2Cor-like scene classification at 20 m.

    Parameters
    ----------
    R20 : (10, m, m) reflectance at 20 m as delivered (after atmosphere and noise)
    st20 : 20 m masks: opacity, haze, shadow, snow, water, pit_water, deep_water,
        bright_mine (fractions 0..1), valid (bool)

    Returns
    -------
    scl : uint8 (m, m)
    rates : what the classifier did on this date (for truth statistics)
    """
    m = R20.shape[1]
    green, red, nir, swir = R20[1], R20[2], R20[6], R20[8]
    ndvi = (nir - red) / np.maximum(nir + red, 1e-4)
    ndwi = (green - nir) / np.maximum(green + nir, 1e-4)
    scl = np.full((m, m), SCL_NOTVEG, np.uint8)
    scl[ndvi > 0.40] = SCL_VEG
    water = (st20["water"] > 0.5) | ((ndwi > 0.15) & (nir < 0.08))
    scl[water] = SCL_WATER
    dark = (nir + swir < 0.12) & ~water
    scl[dark & (rng.random((m, m)) < 0.5)] = SCL_DARK
    scl[(rng.random((m, m)) < 0.004)] = SCL_UNCLASS
    amb = (ndvi > 0.36) & (ndvi < 0.44)
    scl[amb & (rng.random((m, m)) < 0.15)] = SCL_UNCLASS

    def patchy(p: float) -> np.ndarray:
        """A smooth random mask covering about ``p`` of the scene."""
        if p <= 0:
            return np.zeros((m, m), bool)
        if p >= 1:
            return np.ones((m, m), bool)
        f = smooth_field(rng, (m, m), (max(m / 25, 1.0),))
        return f > np.quantile(f, 1 - p)

    rates: dict[str, float] = {}
    # dark pit lakes and open water are taken for cloud shadow on many dates
    p_dark = float(rng.uniform(0.3, 1.0)) if rng.random() < 0.6 else 0.0
    dw = (st20["pit_water"] > 0.5) | (st20["deep_water"] > 0.75)
    hit = dw & (rng.random((m, m)) < p_dark)
    scl[hit] = SCL_SHADOW
    rates["dark_water_as_shadow"] = float(hit.sum() / dw.sum()) if dw.any() else 0.0
    # bright tailings beach / fresh dump taken for cloud on some dates
    bm = st20["bright_mine"] > 0.5
    p_bright = float(rng.uniform(0.2, 0.7)) if rng.random() < (0.18 + 0.3 * (w.haze_max > 0)) else 0.0
    hit = bm & (rng.random((m, m)) < p_bright)
    scl[hit] = np.where(rng.random(int(hit.sum())) < 0.7, SCL_CLOUD_MED, SCL_CLOUD_HIGH)
    rates["bright_mine_as_cloud"] = float(hit.sum() / bm.sum()) if bm.any() else 0.0
    # snow (confused with cloud on some dates)
    sn = st20["snow"] > 0.5
    scl[sn] = SCL_SNOW
    if sn.any() and rng.random() < 0.25:
        conf = sn & patchy(float(rng.uniform(0.1, 0.5)))
        scl[conf] = SCL_CLOUD_MED
    # cloud shadow: detected only in part
    sh = st20["shadow"] > 0.35
    p_sh = float(rng.uniform(0.35, 0.9))
    det_sh = sh & patchy(p_sh) if sh.any() else sh
    scl[det_sh] = SCL_SHADOW
    rates["shadow_detected"] = float(det_sh.sum() / sh.sum()) if sh.any() else float("nan")
    # thin cloud: flagged as cirrus only in part
    hz = st20["haze"] > 0.04
    p_hz = float(rng.uniform(0.25, 0.8))
    det_hz = hz & patchy(p_hz) if hz.any() else hz
    scl[det_hz] = SCL_CIRRUS
    # thick cloud: threshold on opacity misses the soft edges
    op = st20["opacity"]
    thr = float(rng.uniform(0.35, 0.6))
    cl = op > thr
    scl[cl] = np.where(op[cl] > 0.85, SCL_CLOUD_HIGH, SCL_CLOUD_MED)
    # snow under thin cloud is sometimes reported as snow, not cloud
    if sn.any() and rng.random() < 0.3:
        scl[cl & sn & (op < 0.8)] = SCL_SNOW
    truth_cloud = (op > 0.1) | (st20["haze"] > 0.05)
    flagged = np.isin(scl, (SCL_CLOUD_MED, SCL_CLOUD_HIGH, SCL_CIRRUS))
    rates["cloud_detected"] = float((flagged & truth_cloud).sum() / truth_cloud.sum()) if truth_cloud.any() else float("nan")
    scl[~st20["valid"]] = SCL_NODATA
    return scl, rates


def downsample_state(st: AtmosphereState, extra: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """All masks on the 20 m grid (fractions by 2 x 2 mean; valid = all four valid)."""
    out = {
        "opacity": block_mean(st.opacity),
        "haze": block_mean(st.haze),
        "shadow": block_mean(st.shadow),
        "valid": block_mean(st.valid.astype(np.float32)) > 0.99,
    }
    for k, v in extra.items():
        out[k] = block_mean(v.astype(np.float32))
    return out
