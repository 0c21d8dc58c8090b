"""CPU (Numba) and PyTorch backends agree; the dask path equals the in-memory path."""

from __future__ import annotations

import numpy as np
import pytest

from minewatch.analysis.change import ChangeParams, detect_breaks, detect_breaks_dask
from minewatch.analysis.change.synthetic import StackSpec, indices_from_bands, make_stack


@pytest.fixture(scope="module")
def small_stack():
    """24 x 24 pixels with breaks, heavy gaps in a few rows and empty/short pixels."""
    spec = StackSpec(height=24, width=24, seed=404)
    bands, _, _ = make_stack(spec)
    vals = indices_from_bands(bands)
    rng = np.random.default_rng(4)
    gaps = rng.random((vals.shape[0], 1, 4, 24)) < 0.7
    vals[:, :, :4, :] = np.where(gaps, np.nan, vals[:, :, :4, :])
    vals[:, :, 5, 0] = np.nan  # no observation at all
    vals[spec.days >= spec.monitor_day, :, 5, 1] = np.nan  # history only
    # a residual cloud in history and one in monitoring
    vals[10, :, 6, :] = np.array([-0.3, -0.4, 0.6], np.float32)[:, None]
    vals[90, :, 7, :] = np.array([-0.3, -0.4, 0.6], np.float32)[:, None]
    return spec, vals


def _assert_same(a, b):
    assert np.array_equal(a.status, b.status)
    assert np.array_equal(a.flag, b.flag)
    assert np.array_equal(a.date, b.date)
    assert np.array_equal(a.n_history, b.n_history)
    np.testing.assert_allclose(a.magnitude, b.magnitude, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(a.rmse, b.rmse, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(a.confidence, b.confidence, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize(
    "params",
    [
        ChangeParams(),
        ChangeParams(history="roc", consecutive=3, band_weights=[2, 1, 1]),
        ChangeParams(method="mosum", harmonics=3, rmse_floor=0.0),
        ChangeParams(method="mosum", history="roc", mosum_h=0.5, roc_robust=False),
    ],
    ids=["cold", "cold-roc", "mosum", "mosum-roc"],
)
def test_torch_backend_matches_cpu(small_stack, params):
    pytest.importorskip("torch")
    spec, vals = small_stack
    cpu = detect_breaks(vals, spec.days, spec.monitor_day, params, backend="cpu")
    tor = detect_breaks(vals, spec.days, spec.monitor_day, params, backend="torch")
    assert cpu.flag.sum() > 10  # the comparison covers real breaks
    assert set(np.unique(cpu.status)) == {0, 1, 2}
    _assert_same(cpu, tor)


def test_torch_backend_chunks_give_the_same_result(small_stack):
    torch = pytest.importorskip("torch")
    from minewatch.analysis.change.engine import prepare, finish
    from minewatch.analysis.change.gpu import run_torch

    spec, vals = small_stack
    params = ChangeParams()
    v, d, n_split, X, bound, kw = prepare(vals, spec.days, spec.monitor_day, params)
    whole = run_torch(v, X, n_split, bound, device="cpu", chunk_pixels=10_000, **kw)
    parts = run_torch(v, X, n_split, bound, device="cpu", chunk_pixels=100, **kw)
    T, B, H, W = vals.shape
    _assert_same(finish(whole, d, params, B, H, W), finish(parts, d, params, B, H, W))
    assert torch is not None


def test_dask_path_equals_in_memory_path(small_stack):
    xr = pytest.importorskip("xarray")
    spec, vals = small_stack
    da = xr.DataArray(
        vals,
        dims=("time", "band", "y", "x"),
        coords={
            "time": spec.days.astype("datetime64[D]"),
            "band": ["ndvi", "bsi", "swir1"],
            "y": 1000.0 - 30.0 * np.arange(vals.shape[2]),
            "x": 500.0 + 30.0 * np.arange(vals.shape[3]),
        },
    ).chunk({"y": 7, "x": 10})
    ds = detect_breaks_dask(da, spec.monitor_start, backend="cpu")
    assert ds["flag"].chunks == ((7, 7, 7, 3), (10, 10, 4))
    out = ds.compute()
    ref = detect_breaks(vals, spec.days, spec.monitor_day, backend="cpu")
    for name, arr in ref.as_dict().items():
        assert out[name].dtype == arr.dtype, name
        np.testing.assert_array_equal(out[name].values, arr, err_msg=name)
    assert list(out["magnitude"].coords["band"].values) == ["ndvi", "bsi", "swir1"]
    np.testing.assert_array_equal(out["x"].values, da["x"].values)
    assert out.attrs["monitor_start"] == spec.monitor_day


def test_dask_path_rejects_wrong_dimensions(small_stack):
    xr = pytest.importorskip("xarray")
    from minewatch.errors import InputError

    spec, vals = small_stack
    da = xr.DataArray(vals, dims=("band", "time", "y", "x"))
    with pytest.raises(InputError, match="expected"):
        detect_breaks_dask(da, spec.monitor_day, backend="cpu")
