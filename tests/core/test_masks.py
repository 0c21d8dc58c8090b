"""Cloud/shadow/snow screening on hand-made time series with known answers."""

import numpy as np

from minewatch.imagery.masks import CLEAR, CLOUD, NODATA, SHADOW, SNOW, hints_from_qa_pixel, \
    hints_from_scl, screen_observations


def _series(t=30, value=(0.05, 0.08, 0.30, 0.20)):
    """(T, 1, 1) arrays of blue, green, nir, swir16 with small noise."""
    rng = np.random.default_rng(0)
    return [np.full((t, 1, 1), v, np.float32) + rng.normal(0, 0.003, (t, 1, 1)).astype(np.float32)
            for v in value]


def test_cloud_spike_removed_and_step_change_kept():
    blue, green, nir, swir = _series()
    blue[10] += 0.25  # a cloud on one date
    green[10] += 0.25
    # a lasting step change from date 20 on: bright bare ground
    for band, v in ((blue, 0.15), (green, 0.18), (nir, 0.25), (swir, 0.35)):
        band[20:] = v
    status = screen_observations(blue, green, nir, swir)[:, 0, 0]
    assert status[10] == CLOUD
    assert (status[20:] == CLEAR).all(), "a step change is land, not cloud"
    assert (np.delete(status, 10) == CLEAR).all()


def test_shadow_dip_removed_but_persistent_dark_water_kept_despite_scl():
    blue, green, nir, swir = _series()
    nir[5] *= 0.3
    swir[5] *= 0.3  # cloud shadow
    # second pixel: pit water, dark all the time, flagged as shadow by SCL on most dates
    water = _series(value=(0.04, 0.05, 0.02, 0.01))
    stack = [np.concatenate([a, b], axis=2) for a, b in zip((blue, green, nir, swir), water, strict=True)]
    scl = np.full(stack[0].shape, 4, np.uint8)
    scl[::2, 0, 1] = 3  # SCL says "shadow" on half of the water dates
    status = screen_observations(*stack, hints_from_scl(scl))
    assert status[5, 0, 0] == SHADOW
    assert (status[:, 0, 1] == CLEAR).all(), "persistent dark water is not a shadow"


def test_snow_and_nodata():
    blue, green, nir, swir = _series()
    for band, v in ((blue, 0.8), (green, 0.8), (nir, 0.7), (swir, 0.1)):
        band[3] = v
    blue[7] = np.nan
    status = screen_observations(blue, green, nir, swir)[:, 0, 0]
    assert status[3] == SNOW
    assert status[7] == NODATA


def test_scl_cloud_hint_needs_brightening():
    blue, green, nir, swir = _series(value=(0.35, 0.38, 0.40, 0.42))  # bright tailings beach
    scl = np.full(blue.shape, 5, np.uint8)
    scl[4] = 9  # SCL calls it cloud, but it looks like every other date
    scl[12] = 9
    blue[12] += 0.03  # a thin cloud the temporal test alone would miss
    status = screen_observations(blue, green, nir, swir, hints_from_scl(scl))[:, 0, 0]
    assert status[4] == CLEAR
    assert status[12] == CLOUD


def test_landsat_qa_pixel_bits():
    qa = np.array([21824, 22280, 23888, 30048, 1], np.uint16)  # clear, cloud, shadow, snow, fill
    hint = hints_from_qa_pixel(qa)
    assert hint.tolist() == [0, CLOUD, SHADOW, SNOW, NODATA]
