"""Behaviour of detect_breaks on synthetic stacks with known breaks (CPU backend)."""

from __future__ import annotations

import numpy as np
import pytest

from minewatch.analysis.change import BreakResult, ChangeParams, detect_breaks
from minewatch.analysis.change.synthetic import StackSpec, indices_from_bands, make_stack
from minewatch.errors import BackendUnavailableError, DataError, InputError


def _scores(res: BreakResult, tflag: np.ndarray):
    tp = int((res.flag & tflag).sum())
    precision = tp / max(int(res.flag.sum()), 1)
    recall = tp / max(int(tflag.sum()), 1)
    return precision, recall


def test_cold_finds_injected_breaks_on_the_right_date(stack50, first_valid_on_or_after):
    spec, vals, tflag, tdate = stack50
    res = detect_breaks(vals, spec.days, spec.monitor_day, backend="cpu")
    precision, recall = _scores(res, tflag)
    assert recall >= 0.95 and precision >= 0.95, (precision, recall)
    valid = np.isfinite(vals).all(axis=1)
    expected = first_valid_on_or_after(valid, spec.days, tdate)
    hit = res.flag & tflag
    # the change is dated on the first clear observation showing it ...
    assert np.mean(res.date[hit] == expected[hit]) >= 0.85
    # ... and almost always within a few observations (3 x 16 days); weak changes
    # (down to 40 % vegetation loss) can take longer to confirm
    err = np.abs(res.date[hit].astype(np.int64) - expected[hit])
    assert np.median(err) == 0
    assert np.mean(err <= 48) >= 0.9
    assert np.all(res.date[~res.flag] == 0)
    assert np.all(res.status == 0)


def test_outputs_have_documented_shapes_dtypes_and_ranges(stack50):
    spec, vals, tflag, _ = stack50
    T, B, H, W = vals.shape
    res = detect_breaks(vals, spec.days, spec.monitor_day, backend="cpu")
    assert res.flag.shape == (H, W) and res.flag.dtype == bool
    assert res.date.dtype == np.int32
    assert res.magnitude.shape == (B, H, W) and res.magnitude.dtype == np.float32
    assert res.rmse.shape == (B, H, W) and res.rmse.dtype == np.float32
    assert res.confidence.dtype == np.float32
    assert np.all((res.confidence >= 0) & (res.confidence <= 1))
    # a confirmed COLD break is at least as probable as the threshold
    assert np.all(res.confidence[res.flag] >= 0.99)
    assert res.n_history.dtype == np.int16 and res.status.dtype == np.uint8
    # n_history is at most the number of valid history observations
    hist = spec.days < spec.monitor_day
    nvalid = np.isfinite(vals[hist]).all(axis=1).sum(axis=0)
    assert np.all(res.n_history <= nvalid)
    # the history RMSE is close to the noise of each index (here a few hundredths)
    assert 0.005 < float(np.median(res.rmse[0])) < 0.08


def test_magnitude_signs_follow_vegetation_loss(stack50):
    spec, vals, tflag, _ = stack50
    res = detect_breaks(vals, spec.days, spec.monitor_day, backend="cpu")
    hit = res.flag & tflag
    ndvi, bsi, swir = res.magnitude[0][hit], res.magnitude[1][hit], res.magnitude[2][hit]
    assert np.mean(ndvi < 0) > 0.95  # NDVI falls
    assert np.mean(bsi > 0) > 0.95  # bare soil index rises
    assert np.mean(swir > 0) > 0.95  # SWIR reflectance rises


def test_no_false_breaks_on_stable_pixels(stable50):
    spec, vals = stable50
    res = detect_breaks(vals, spec.days, spec.monitor_day, backend="cpu")
    assert res.flag.mean() <= 0.02
    assert np.all(res.status == 0)


def test_single_date_spikes_do_not_trigger_cold(stable50):
    spec, vals = stable50
    vals = vals.copy()
    rng = np.random.default_rng(5)
    T, B, H, W = vals.shape
    mon = np.nonzero(spec.days >= spec.monitor_day)[0]
    # a residual cloud on one date per pixel, and a 2-date burst (< consecutive) elsewhere
    for y in range(H):
        for x in range(W):
            t = rng.choice(mon[:-5])
            n = 1 if (y + x) % 2 else 2
            idx = [u for u in range(t, T) if np.isfinite(vals[u, :, y, x]).all()][:n]
            vals[idx, 0, y, x] = -0.3  # NDVI of a cloud
            vals[idx, 1, y, x] = -0.4
            vals[idx, 2, y, x] = 0.6  # bright
    res = detect_breaks(vals, spec.days, spec.monitor_day, backend="cpu")
    assert res.flag.mean() <= 0.02
    # the same bursts lasting `consecutive` observations are confirmed changes
    res2 = detect_breaks(vals, spec.days, spec.monitor_day, ChangeParams(consecutive=2),
                         backend="cpu")
    assert res2.flag.mean() > 0.4


def test_history_outliers_are_screened(stable50):
    spec, vals = stable50
    vals = vals.copy()
    hist = np.nonzero(spec.days < spec.monitor_day)[0]
    n_clouds = np.zeros(vals.shape[2:], int)
    for t in (hist[10], hist[30], hist[31]):  # residual clouds on clear observations
        clear = np.isfinite(vals[t]).all(axis=0)
        n_clouds += clear
        for b, v in enumerate((-0.3, -0.4, 0.6)):
            vals[t, b] = np.where(clear, v, vals[t, b])
    clean = detect_breaks(stable50[1], spec.days, spec.monitor_day, backend="cpu")
    screened = detect_breaks(vals, spec.days, spec.monitor_day, backend="cpu")
    raw = detect_breaks(vals, spec.days, spec.monitor_day,
                        ChangeParams(screen_outliers=False), backend="cpu")
    # the screened fit has about the clean RMSE, the unscreened one is inflated
    assert np.median(screened.rmse[0] / clean.rmse[0]) < 1.1
    assert np.median(raw.rmse[0] / clean.rmse[0]) > 1.5
    # the clouds are among the dropped observations
    hist_mask = spec.days < spec.monitor_day
    nvalid = np.isfinite(vals[hist_mask]).all(axis=1).sum(axis=0)
    assert np.all(screened.n_history <= nvalid - n_clouds)
    assert np.all(raw.n_history == nvalid)
    assert screened.flag.mean() <= 0.02


def test_heavy_gaps_snow_and_variable_observation_counts(stack50):
    spec, vals, tflag, tdate = stack50
    vals = vals.copy()
    rng = np.random.default_rng(9)
    T, B, H, W = vals.shape
    # a further 40 % clouds on half of the pixels, none on the other half
    extra = (rng.random((T, 1, H, W)) < 0.4) & (np.arange(W)[None, None, None, :] < W // 2)
    vals = np.where(extra, np.nan, vals)
    # snow: no observation in December-February for the top half of the image
    month = (spec.days.astype("datetime64[D]").astype("datetime64[M]").astype(int) % 12) + 1
    winter = np.isin(month, [12, 1, 2])
    vals[np.ix_(winter, np.arange(B), np.arange(H // 2), np.arange(W))] = np.nan
    res = detect_breaks(vals, spec.days, spec.monitor_day, backend="cpu")
    precision, recall = _scores(res, tflag)
    assert precision >= 0.9 and recall >= 0.9, (precision, recall)
    counts = np.isfinite(vals).all(axis=1).sum(axis=0)
    assert counts.min() < 0.5 * counts.max()  # observation counts really vary


def test_status_codes_for_empty_and_short_pixels(stack50):
    spec, vals, _, _ = stack50
    vals = vals[:, :, :3, :3].copy()
    hist = spec.days < spec.monitor_day
    vals[:, :, 0, 0] = np.nan  # nothing at all
    vals[~hist, :, 0, 1] = np.nan  # history only
    keep = np.nonzero(hist)[0][:5]
    vals[hist, :, 0, 2] = np.nan
    vals[keep, :, 0, 2] = 0.5  # 5 history observations < min_history_obs
    res = detect_breaks(vals, spec.days, spec.monitor_day, backend="cpu")
    assert res.status[0, 0] == 1 and res.n_history[0, 0] == 0
    assert res.status[0, 1] == 2 and not res.flag[0, 1] and np.isfinite(res.rmse[0, 0, 1])
    assert res.status[0, 2] == 1 and res.n_history[0, 2] == 5
    assert np.all(res.status[1:] == 0)
    assert not res.flag[0].any() and np.all(res.confidence[0] == 0)


def test_roc_history_drops_a_change_inside_the_history(stable50):
    spec, vals = stable50
    vals = vals.copy()
    hist = np.nonzero(spec.days < spec.monitor_day)[0]
    cut = hist[len(hist) // 2]
    # every pixel lost vegetation half-way through the history and stayed so
    vals[:cut, 0] += 0.25
    vals[:cut, 1] -= 0.2
    vals[:cut, 2] -= 0.1
    full = detect_breaks(vals, spec.days, spec.monitor_day, backend="cpu")
    roc = detect_breaks(vals, spec.days, spec.monitor_day, ChangeParams(history="roc"),
                        backend="cpu")
    n_after = np.isfinite(vals[cut:hist[-1] + 1]).all(axis=1).sum(axis=0)
    # ROC (with its head check) keeps about the observations after the change
    assert np.median(np.abs(roc.n_history - n_after)) <= 1
    # which gives a model of the stable end and few false alarms ...
    assert roc.flag.mean() <= 0.05
    assert np.median(roc.rmse[0]) < 0.6 * np.median(full.rmse[0])
    # ... while a stable pixel keeps (almost) all of its history
    stable = detect_breaks(stable50[1], spec.days, spec.monitor_day,
                           ChangeParams(history="roc"), backend="cpu")
    base = detect_breaks(stable50[1], spec.days, spec.monitor_day, backend="cpu")
    assert np.mean(stable.n_history >= base.n_history - 2) > 0.8
    # strucchange's exact (non-robust) scale leaves a few changed observations in
    exact = detect_breaks(vals, spec.days, spec.monitor_day,
                          ChangeParams(history="roc", roc_robust=False), backend="cpu")
    assert np.median(exact.n_history - n_after) >= 0


def test_mosum_detects_breaks_and_dates_them():
    # MOSUM has no consecutive-observation guard and, with a trend term, false alarms
    # from trend extrapolation (as bfastmonitor): test it on trend-free pixels
    spec = StackSpec(height=40, width=40, seed=303, trend_sd=0.0)
    bands, tflag, tdate = make_stack(spec)
    vals = indices_from_bands(bands)
    res = detect_breaks(vals[:, :1], spec.days, spec.monitor_day,
                        ChangeParams(method="mosum", trend=False), backend="cpu")
    precision, recall = _scores(res, tflag)
    assert recall >= 0.9 and precision >= 0.85, (precision, recall)
    hit = res.flag & tflag
    # MOSUM needs part of a window of anomalies: its date lags the true one
    lag = res.date[hit].astype(np.int64) - tdate[hit]
    assert np.median(lag) >= 0 and np.median(lag) <= 120
    assert np.all((res.confidence[res.flag] > 0.5))


def test_band_weights_and_rmse_floor(stack50):
    spec, vals, tflag, _ = stack50
    # a weight of zero removes a band: only NDVI (band 0) then counts
    only0 = detect_breaks(vals, spec.days, spec.monitor_day,
                          ChangeParams(band_weights=[1, 0, 0]), backend="cpu")
    ndvi = detect_breaks(vals[:, :1], spec.days, spec.monitor_day,
                         ChangeParams(threshold=0.99), backend="cpu")
    assert only0.flag.sum() > 0
    # a huge RMSE floor makes every standardized residual tiny: nothing breaks
    none = detect_breaks(vals, spec.days, spec.monitor_day, ChangeParams(rmse_floor=10.0),
                         backend="cpu")
    assert not none.flag.any()
    assert ndvi.flag.sum() > 0


def test_input_errors_name_the_problem(stack50):
    spec, vals, _, _ = stack50
    days = spec.days
    with pytest.raises(InputError, match="4-D"):
        detect_breaks(vals[:, 0], days, spec.monitor_day, backend="cpu")
    with pytest.raises(InputError, match="strictly increasing"):
        detect_breaks(vals, days[::-1].copy(), spec.monitor_day, backend="cpu")
    with pytest.raises(InputError, match="time steps"):
        detect_breaks(vals, days[:-1], spec.monitor_day, backend="cpu")
    with pytest.raises(DataError, match="no observation before"):
        detect_breaks(vals, days, int(days[0]) - 1, backend="cpu")
    with pytest.raises(DataError, match="no observation on or after"):
        detect_breaks(vals, days, int(days[-1]) + 1, backend="cpu")
    with pytest.raises(InputError, match="method"):
        detect_breaks(vals, days, spec.monitor_day, ChangeParams(method="bfast"), backend="cpu")
    with pytest.raises(InputError, match="mosum_h"):
        detect_breaks(vals, days, spec.monitor_day, ChangeParams(method="mosum", mosum_h=0.3),
                      backend="cpu")
    with pytest.raises(InputError, match="rmse_floor"):
        detect_breaks(vals, days, spec.monitor_day, ChangeParams(rmse_floor=[0.1, 0.1]),
                      backend="cpu")
    with pytest.raises(InputError, match="backend"):
        detect_breaks(vals, days, spec.monitor_day, backend="tpu")


def test_backend_auto_falls_back_to_cpu_without_cuda(stack50):
    from minewatch.analysis.change.engine import resolve_backend, torch_cuda_available

    if torch_cuda_available():
        pytest.skip("a CUDA device is present here")
    assert resolve_backend("auto") == "cpu"
    with pytest.raises(BackendUnavailableError, match="gpu"):
        resolve_backend("gpu")


def test_datetime64_days_are_accepted(stack50):
    spec, vals, _, _ = stack50
    a = detect_breaks(vals[:, :, :5, :5], spec.days.astype("datetime64[D]"), spec.monitor_day,
                      backend="cpu")
    b = detect_breaks(vals[:, :, :5, :5], spec.days, spec.monitor_day, backend="cpu")
    assert np.array_equal(a.date, b.date)
