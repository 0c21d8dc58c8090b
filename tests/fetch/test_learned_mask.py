"""The learned cloud mask (s2cloudless, model shipped in the package) and SCL decoding."""

from __future__ import annotations

import os
import socket

import numpy as np
import pytest
import rasterio

from minewatch.errors import InputError
from minewatch.imagery.learned_mask import (
    cloud_mask,
    cloud_probability,
    decode_scl_rendering,
    model_inputs,
)

BANDS = (("blue", "B02"), ("red", "B04"), ("nir", "B08"), ("swir16", "B11"), ("swir22", "B12"))


def _aurora(shared_data, date):
    d = shared_data("aurora_india_mines", "mine_0", date)
    bands, valid = {}, None
    for key, name in BANDS:
        with rasterio.open(d / f"{name}.tif") as src:
            a = src.read(1).astype("float32")
            m = src.read(2) > 0 if src.count > 1 else a > 0
        bands[key] = a / 65535.0
        valid = m if valid is None else valid & m
    with rasterio.open(d / "SCL_rgbviz.tif") as src:
        scl = decode_scl_rendering(src.read())
    return bands, valid, scl


@pytest.mark.shared
def test_scl_rendering_decodes_exactly(shared_data):
    _, valid, scl = _aurora(shared_data, "2022-08-11")
    assert (scl[valid] != 255).all()  # every valid pixel is a palette colour
    assert set(np.unique(scl[valid])) <= set(range(12))


@pytest.mark.shared
def test_learned_mask_on_real_dates_without_network(shared_data, monkeypatch):
    pytest.importorskip("s2cloudless", reason="optional: pip install 'minewatch[cloud]'")
    import s2cloudless

    model_dir = os.path.join(os.path.dirname(s2cloudless.__file__), "models")
    assert any(f.endswith(".txt") for f in os.listdir(model_dir))  # weights inside the package

    def no_network(*args, **kwargs):
        raise AssertionError("the learned mask tried to open a network connection")

    monkeypatch.setattr(socket.socket, "connect", no_network)
    cloudy, v1, scl1 = _aurora(shared_data, "2023-08-01")  # thick cloud in SCL
    clear, v2, scl2 = _aurora(shared_data, "2022-03-04")  # clear in SCL
    p_cloudy, p_clear = cloud_probability(cloudy), cloud_probability(clear)
    assert np.isin(scl1[v1], (8, 9, 10)).mean() > 0.9
    assert cloud_mask(p_cloudy)[v1].mean() > 0.9
    assert not np.isin(scl2[v2], (8, 9, 10)).any()
    assert cloud_mask(p_clear)[v2].mean() < 0.1
    # A time stack gives the same answer as dates one by one.
    stack = {k: np.stack([cloudy[k], clear[k]]) for k in cloudy}
    np.testing.assert_allclose(cloud_probability(stack)[1], p_clear, atol=1e-6)


def test_missing_bands_are_a_clear_error():
    with pytest.raises(InputError, match="swir22"):
        model_inputs({"blue": np.zeros((2, 2)), "red": np.zeros((2, 2)),
                      "nir": np.zeros((2, 2)), "swir16": np.zeros((2, 2))})
    x = model_inputs({k: np.full((2, 2), 0.1) for k in ("blue", "red", "nir08", "swir16",
                                                        "swir22")})
    assert x.shape == (2, 2, 10)
