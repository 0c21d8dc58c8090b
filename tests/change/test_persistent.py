"""Persistent-change test: known answers of the Numba kernel, and torch/Numba agreement."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest

from minewatch.analysis.change import PersistentParams, detect_persistent_change

B = 5
# A vegetation-loss direction over 5 bands (NDVI-like down, soil/SWIR-like up) in reflectance units.
LOSS = np.array([-0.12, 0.08, 0.10, -0.10, 0.09], np.float32)


def day(s: str) -> int:
    return (dt.date.fromisoformat(s) - dt.date(1970, 1, 1)).days


DAYS = np.arange(day("2017-01-03"), day("2024-12-31"), 10, dtype=np.int64)
MS, ME = day("2020-01-01"), day("2024-12-31")


def seasonal(n: int, seed: int, days: np.ndarray = DAYS, gaps: float = 0.3, noise: float = 0.01) -> np.ndarray:
    """(T, B, n) float32: per-pixel harmonic season + Gaussian noise, ``gaps`` of dates NaN."""
    rng = np.random.default_rng(seed)
    T = len(days)
    base = rng.uniform(0.1, 0.5, (1, B, n))
    amp = rng.uniform(0.02, 0.1, (1, B, n))
    phase = rng.uniform(0.0, 2.0 * np.pi, (1, 1, n))
    w = 2.0 * np.pi * days[:, None, None] / 365.25
    v = base + amp * np.cos(w - phase) + rng.normal(0.0, noise, (T, B, n))
    miss = rng.random((T, n)) < gaps
    v[np.broadcast_to(miss[:, None, :], v.shape)] = np.nan
    return v.astype(np.float32)


def add(v: np.ndarray, start: int, end: int | None, delta: np.ndarray, days: np.ndarray = DAYS) -> None:
    """Add ``delta`` (B,) to every pixel on ``start <= day < end`` (``end=None``: for good)."""
    on = days >= start
    if end is not None:
        on &= days < end
    v[on] += delta[None, :, None]


def run(v: np.ndarray, days: np.ndarray = DAYS, ms: int = MS, me: int = ME, params=None, backend="cpu"):
    T, _, n = v.shape
    return detect_persistent_change(v.reshape(T, B, 1, n), days, ms, me, params, backend=backend)


def obs_index(v: np.ndarray, days: np.ndarray, d: np.ndarray) -> np.ndarray:
    """Per pixel, the number of valid observations before day ``d`` (so a rank among valid obs)."""
    valid = ~np.isnan(v).any(1)  # (T, n)
    return ((days[:, None] < np.asarray(d).reshape(1, -1)) & valid).sum(0)


def test_permanent_step_is_dated_within_two_observations():
    v = seasonal(300, seed=1)
    step = day("2021-06-15")
    add(v, step, None, LOSS)
    r = run(v)
    date = r.date.ravel().astype(np.int64)
    assert (date > 0).all(), f"{(date == 0).sum()} of 300 steps missed"
    err = np.abs(obs_index(v, DAYS, date) - obs_index(v, DAYS, np.full(300, step)))
    assert (err <= 2).all(), f"date off by up to {err.max()} observations"
    assert np.median(err) == 0
    # outputs after the change: confidence is a share, magnitude is the step, post quantile the new level
    assert (r.confidence.ravel() >= 0.75).all() and (r.confidence.ravel() <= 1).all()
    mag = np.median(r.magnitude.reshape(B, -1), axis=1)
    np.testing.assert_allclose(mag, LOSS, atol=0.02)
    assert np.isfinite(r.post_quantile).all()
    assert (r.n_history.ravel() >= 8).all()
    np.testing.assert_allclose(np.median(r.rmse.reshape(B, -1), axis=1), 0.01, rtol=0.2)


def test_transient_anomaly_then_lasting_change_dates_the_lasting_one():
    v = seasonal(300, seed=2)
    add(v, day("2020-04-01"), day("2020-07-01"), LOSS)  # a 3-month transient (drought, burn)
    lasting = day("2022-07-01")
    add(v, lasting, None, LOSS)
    r = run(v)
    date = r.date.ravel().astype(np.int64)
    assert (date > day("2021-07-01")).all(), "the transient was reported as the lasting change"
    err = np.abs(obs_index(v, DAYS, date) - obs_index(v, DAYS, np.full(300, lasting)))
    assert (err <= 2).mean() >= 0.98


def test_greener_season_then_clearing_is_dated_at_the_clearing():
    v = seasonal(300, seed=3)
    green = day("2021-04-01")
    clearing = day("2021-10-01")
    add(v, green, clearing, -0.6 * LOSS)  # greener than usual: the opposite direction of a loss
    add(v, clearing, None, 1.5 * LOSS)
    r = run(v)
    date = r.date.ravel().astype(np.int64)
    assert (date > 0).all()
    # The early window may hold up to (1 - early_share) * early_window = 2 observations of the
    # greener state before the clearing, so the date can lead the clearing by up to 2 observations;
    # the greener season itself (about 12 valid observations) is never the change.
    lead = obs_index(v, DAYS, np.full(300, clearing)) - obs_index(v, DAYS, date)
    assert (lead <= 2).all(), "the greener season was reported as the change"
    assert (np.abs(lead) <= 2).mean() >= 0.98


def test_seasonal_noise_only_gives_no_change():
    v = seasonal(3000, seed=4)
    r = run(v)
    assert (r.date == 0).mean() >= 0.99
    assert np.isnan(r.post_quantile[:, r.date == 0]).all()
    assert (r.confidence[r.date == 0] == 0).all()


def test_change_too_close_to_the_end_is_not_reported():
    p = PersistentParams()
    v = seasonal(300, seed=5)
    add(v, ME - p.min_post_days + 40, None, LOSS)  # 80 days of new state before monitor_end
    r = run(v, params=p)
    assert (r.date == 0).mean() >= 0.99
    # the same change with enough time after it is found
    v2 = seasonal(300, seed=5)
    add(v2, ME - p.min_post_days - 200, None, LOSS)
    assert (run(v2, params=p).date > 0).mean() >= 0.98


def test_too_little_history_gives_no_date():
    v = seasonal(200, seed=6)
    add(v, day("2021-06-15"), None, LOSS)
    ms = int(DAYS[9]) + 1  # 10 history dates, ~7 valid: fewer than min_history_obs=8
    r = run(v, ms=ms)
    nh = r.n_history.ravel()
    short = nh < 8
    assert short.mean() > 0.5
    assert (r.date.ravel()[short] == 0).all()
    # all pixels where history suffices do find the change: the test is the history length
    assert (r.date.ravel()[~short] > 0).all()
    # no history at all: nothing
    r0 = run(v, ms=int(DAYS[0]))
    assert (r0.date == 0).all() and (r0.n_history == 0).all()


def realistic_stack(h: int = 64, w: int = 64, n_dates: int = 150, seed: int = 7):
    """(T, B, h, w) with 30 % gaps; a quarter stable, the rest lasting steps, some with transients."""
    days = day("2017-01-01") + 16 * np.arange(n_dates, dtype=np.int64)
    n = h * w
    v = seasonal(n, seed=seed, days=days)
    rng = np.random.default_rng(seed + 1)
    kind = rng.integers(0, 4, n)  # 0 stable, 1 step, 2 transient then step, 3 greener then step
    when = rng.integers(day("2020-03-01"), int(days[-1]) - 100, n)
    delta = rng.normal(0.0, 0.08, (B, n)).astype(np.float32)
    after = days[:, None] >= when[None, :]
    v += np.where(((kind >= 1)[None, :] & after)[:, None, :], delta[None], 0).astype(np.float32)
    before = (days[:, None] >= when - 400) & (days[:, None] < when - 300)
    v += np.where(((kind == 2)[None, :] & before)[:, None, :], 0.7 * delta[None], 0).astype(np.float32)
    v += np.where(((kind == 3)[None, :] & before)[:, None, :], -0.5 * delta[None], 0).astype(np.float32)
    return v.reshape(n_dates, B, h, w), days, day("2020-01-01"), int(days[-1])


def test_torch_backend_agrees_with_numba():
    pytest.importorskip("torch", reason="PyTorch is not installed: the torch backend cannot run")
    from minewatch.analysis.change.persistent_torch import detect_persistent_change_torch

    vals, days, ms, me = realistic_stack()
    a = detect_persistent_change(vals, days, ms, me, backend="cpu")
    before = vals.copy()
    b = detect_persistent_change(vals, days, ms, me, backend="torch")
    np.testing.assert_array_equal(vals, before)  # the input stack is left as it was
    assert 0.4 < (a.date > 0).mean() < 0.95  # a real mix of changed and unchanged pixels
    assert (a.date == b.date).mean() >= 0.999
    same = a.date == b.date
    for f in ("confidence", "rmse"):
        x, y = getattr(a, f), getattr(b, f)
        np.testing.assert_allclose(y[..., same], x[..., same], atol=1e-3, err_msg=f)
    for f in ("magnitude", "post_quantile"):
        x, y = getattr(a, f)[:, same], getattr(b, f)[:, same]
        assert (np.isnan(x) == np.isnan(y)).all(), f
        np.testing.assert_allclose(y, x, atol=1e-3, err_msg=f)
    assert (a.n_history == b.n_history).mean() >= 0.999
    # chunking changes nothing (several chunks, the last one partial)
    c = detect_persistent_change_torch(vals, days, ms, me, device="cpu", chunk=1500)
    assert (c.date == b.date).all()
    np.testing.assert_array_equal(c.magnitude, b.magnitude)


def test_torch_backend_cuda_request_without_cuda_is_an_error():
    torch = pytest.importorskip("torch", reason="PyTorch is not installed")
    if torch.cuda.is_available():
        pytest.skip("a CUDA device is present")
    from minewatch.analysis.change.persistent_torch import detect_persistent_change_torch
    from minewatch.errors import BackendUnavailableError

    vals, days, ms, me = realistic_stack(4, 4, 150)
    with pytest.raises(BackendUnavailableError, match="cuda"):
        detect_persistent_change_torch(vals, days, ms, me, device="cuda")
    with pytest.raises(BackendUnavailableError):
        detect_persistent_change(vals, days, ms, me, backend="gpu")


def test_torch_backend_agrees_with_numba_on_other_settings():
    """Odd early window (the other median branch), 2 harmonics + trend, per-band floors, short window."""
    pytest.importorskip("torch", reason="PyTorch is not installed: the torch backend cannot run")
    vals, days, ms, me = realistic_stack(32, 32, 150, seed=11)
    p = PersistentParams(harmonics=2, trend=True, early_window=7, early_share=0.7, consecutive=3,
                         persistence=0.7, min_post_days=90, rmse_floor=(0.01, 0.02, 0.01, 0.015, 0.01),
                         post_quantile=0.75)
    me = int(days[-20])  # observations after monitor_end are ignored
    a = detect_persistent_change(vals, days, ms, me, p, backend="cpu")
    b = detect_persistent_change(vals, days, ms, me, p, backend="torch")
    assert (a.date > 0).mean() > 0.3
    assert a.date.max() <= me
    assert (a.date == b.date).mean() >= 0.999
    same = a.date == b.date
    np.testing.assert_allclose(b.confidence[same], a.confidence[same], atol=1e-3)
    np.testing.assert_allclose(b.magnitude[:, same], a.magnitude[:, same], atol=1e-3)
    np.testing.assert_allclose(b.post_quantile[:, same], a.post_quantile[:, same], atol=1e-3)
    np.testing.assert_allclose(b.rmse, a.rmse, atol=1e-3)


@pytest.mark.parametrize("where", ["no history", "short history", "no monitoring", "empty tile"])
def test_torch_backend_agrees_with_numba_on_edge_cases(where):
    pytest.importorskip("torch", reason="PyTorch is not installed: the torch backend cannot run")
    vals, days, ms, me = realistic_stack(8, 8, 150, seed=13)
    if where == "no history":
        ms = int(days[0])
    elif where == "short history":
        ms = int(days[12])  # ~8 valid history observations: around min_history_obs
    elif where == "no monitoring":
        ms = me = int(days[-1]) + 10
    else:
        vals = vals[:, :, :0, :]
    a = detect_persistent_change(vals, days, ms, me, backend="cpu")
    b = detect_persistent_change(vals, days, ms, me, backend="torch")
    assert b.date.shape == a.date.shape and b.magnitude.shape == a.magnitude.shape
    np.testing.assert_array_equal(b.date, a.date)
    np.testing.assert_array_equal(b.n_history, a.n_history)
    np.testing.assert_allclose(b.rmse, a.rmse, atol=1e-3)
    np.testing.assert_allclose(b.post_quantile, a.post_quantile, atol=1e-3)  # NaN where no change
