"""The sequential monitor: levels as evidence arrives, retraction, and chunked scan == one-shot scan."""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict

import numpy as np
import pytest

from minewatch.analysis.change.monitor import (
    CONFIRMED, POSSIBLE, PROBABLE, HistoryModel, MonitorCarry, MonitorParams, fit_history, scan,
)
from minewatch.errors import InputError

B = 5
#: NDVI down 0.6 (to ~0.1), NBR down, MNDWI flat, BSI up, SWIR1 up: a clearing to bare ground
CLEARING = np.array([-0.60, -0.3, 0.0, 0.12, 0.10], np.float32)


def day(s: str) -> int:
    return (dt.date.fromisoformat(s) - dt.date(1970, 1, 1)).days


DAYS = np.arange(day("2019-01-03"), day("2023-12-31"), 10, dtype=np.int64)
MS = day("2021-01-01")


def scene(n: int, seed: int, gaps: float = 0.3, noise: float = 0.012) -> np.ndarray:
    """(T, B, 1, n) float32 vegetated pixels: NDVI ~0.7 with a season, Gaussian noise, gaps NaN."""
    rng = np.random.default_rng(seed)
    T = len(DAYS)
    base = np.array([0.7, 0.5, -0.4, -0.1, 0.15])[None, :, None] + rng.uniform(-0.05, 0.05, (1, B, n))
    amp = rng.uniform(0.02, 0.08, (1, B, n))
    w = 2.0 * np.pi * DAYS[:, None, None] / 365.25
    v = base + amp * np.cos(w - rng.uniform(0, 2 * np.pi, (1, 1, n))) + rng.normal(0, noise, (T, B, n))
    v[np.broadcast_to((rng.random((T, n)) < gaps)[:, None, :], v.shape)] = np.nan
    return v.astype(np.float32)[:, :, None, :]


def run(v, params=None, chunks=1):
    params = params or MonitorParams()
    days = DAYS[:len(v)]
    hist = days < MS
    model = fit_history(v[hist], days[hist], params)
    carry = None
    for part in np.array_split(np.flatnonzero(~hist), chunks):
        carry = scan(model, v[part], days[part], carry, params)
    return model, carry


def clear_days(v: np.ndarray, px: int) -> np.ndarray:
    ok = ~np.isnan(v[:, :, 0, px]).any(axis=1)
    return DAYS[ok & (DAYS >= MS)]


def test_stable_land_raises_no_probable_alert():
    v = scene(2000, seed=1)
    _, c = run(v)
    assert (c.level >= PROBABLE).mean() < 0.002
    assert (c.level >= POSSIBLE).mean() < 0.01


def test_clearing_rises_through_the_levels_in_few_clear_observations():
    v = scene(300, seed=2)
    step = day("2022-03-01")
    v[DAYS >= step] += CLEARING[None, :, None, None]
    _, c = run(v)
    assert (c.level == CONFIRMED).all()
    for px in range(0, 300, 7):
        obs = clear_days(v, px)
        after = obs[obs >= step]
        assert c.onset[0, px] == after[0]  # dated at the first clear observation after the step
        assert c.first_seen[0, px] == after[0]  # a large departure is possible on one observation
        assert c.probable_on[0, px] == after[2]  # probable on the third (P >= 0.99)
        assert c.confirmed_on[0, px] == after[np.searchsorted(after - after[0], 60)] or \
            c.confirmed_on[0, px] == after[3]
        assert c.confirmed_on[0, px] - c.onset[0, px] >= 60
    assert not c.retracted.any()


def test_harvest_that_regrows_is_retracted():
    v = scene(200, seed=3)
    cut, back = day("2022-05-01"), day("2022-07-01")
    on = (DAYS >= cut) & (DAYS < back)
    v[on] += CLEARING[None, :, None, None]
    v = v[DAYS < back + 120]  # four months after regrowth
    _, c = run(v)
    assert not (c.level >= PROBABLE).any() and (c.level == 0).mean() > 0.98  # noise may leave a possible
    assert c.retracted.mean() > 0.95
    flagged = c.retracted
    assert np.mean((c.onset[flagged] >= cut) & (c.onset[flagged] < back)) > 0.95
    assert (c.confirmed_on == 0).all()  # two months of bare soil, then green: never confirmed


def test_green_ground_after_change_is_not_probable():
    """NDVI drop of 0.15 keeping NDVI ~0.55 (thinning, drought): it departs, but stays vegetated."""
    v = scene(200, seed=4)
    v[DAYS >= day("2022-03-01"), 0] -= 0.15
    _, c = run(v)
    assert (c.level >= PROBABLE).mean() < 0.01


def test_chunked_scan_equals_one_shot_exactly():
    v = scene(400, seed=5)
    v[DAYS >= day("2021-09-01"), :, :, :200] += CLEARING[None, :, None, None]
    on = (DAYS >= day("2022-05-01")) & (DAYS < day("2022-08-01"))
    v[on, :, :, 200:300] += CLEARING[None, :, None, None]
    _, one = run(v)
    for chunks in (2, 5, int((DAYS >= MS).sum())):
        _, many = run(v, chunks=chunks)
        assert many.last_day == one.last_day
        for name, arr in one.arrays().items():
            np.testing.assert_array_equal(getattr(many, name), arr, err_msg=name)
    assert (one.level[0, :200] == CONFIRMED).all() and one.retracted[0, 200:300].mean() > 0.9


def test_scan_does_not_modify_its_carry_and_rejects_old_dates():
    v = scene(20, seed=6)
    hist = DAYS < MS
    model = fit_history(v[hist], DAYS[hist])
    mon = np.flatnonzero(~hist)
    c1 = scan(model, v[mon[:10]], DAYS[mon[:10]], None)
    before = {k: a.copy() for k, a in c1.arrays().items()}
    scan(model, v[mon[10:]], DAYS[mon[10:]], c1)
    for k, a in before.items():
        np.testing.assert_array_equal(getattr(c1, k), a)
    with pytest.raises(InputError, match="not after the last one scanned"):
        scan(model, v[mon[5:12]], DAYS[mon[5:12]], c1)


def test_model_round_trips_through_npz(tmp_path):
    v = scene(30, seed=7, gaps=0.0)
    hist = DAYS < MS
    model = fit_history(v[hist], DAYS[hist])
    assert (model.n_history == hist.sum()).all()
    np.savez(tmp_path / "m.npz", **asdict(model))
    with np.load(tmp_path / "m.npz") as z:
        back = HistoryModel(**{k: z[k] for k in z.files})
    a = scan(model, v[~hist], DAYS[~hist], None)
    b = scan(back, v[~hist], DAYS[~hist], None)
    np.testing.assert_array_equal(a.level, b.level)
    assert isinstance(MonitorCarry.empty((2, 2)).level, np.ndarray)


def test_short_history_is_not_monitored():
    v = scene(10, seed=8)
    v[DAYS < MS - 60] = np.nan  # at most 6 history obs
    v[DAYS >= day("2022-01-01")] += CLEARING[None, :, None, None]
    model, c = run(v)
    assert (model.n_history == 0).all()
    assert (c.level == 0).all() and (c.n_clear == 0).all()


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"stack": np.zeros((40, 5, 4), np.float32)}, r"stack must be \(T, B, H, W\)"),
        ({"stack": np.zeros((40, 3, 1, 4), np.float32)}, "needs the 5 change indices"),
        ({"days": DAYS[:39]}, "days has shape"),
        ({"days": DAYS[:40][::-1].copy()}, "not strictly increasing"),
        ({"days": DAYS[:40].astype(float)}, "dtype float64"),
        ({"params": MonitorParams(persistence=1.5)}, r"persistence=1.5 must be in \[0, 1\]"),
        ({"params": MonitorParams(p_probable=0.3)}, "p_probable"),
        ({"params": MonitorParams(p_possible=0.995)}, "p_possible <= p_probable"),
    ],
)
def test_bad_input_is_named_before_any_work(kwargs, message):
    args = {"stack": np.zeros((40, 5, 1, 4), np.float32), "days": DAYS[:40], "params": None}
    args.update(kwargs)
    with pytest.raises(InputError, match=message):
        fit_history(args["stack"], args["days"], args["params"])


def test_datetime64_days_give_the_same_result():
    v = scene(50, seed=9)
    v[DAYS >= day("2022-01-01")] += CLEARING[None, :, None, None]
    hist = DAYS < MS
    m1 = fit_history(v[hist], DAYS[hist])
    m2 = fit_history(v[hist], DAYS[hist].astype("datetime64[D]"))
    np.testing.assert_array_equal(m1.beta, m2.beta)
    a = scan(m1, v[~hist], DAYS[~hist], None)
    b = scan(m2, v[~hist], DAYS[~hist].astype("datetime64[D]"), None)
    assert (a.level == CONFIRMED).mean() > 0.9
    np.testing.assert_array_equal(a.onset, b.onset)


def test_one_moderate_departure_is_not_enough_two_are_possible():
    """A 4-sigma NDVI dip on one clear observation is not flagged; on two it is possible (and, with
    NDVI still ~0.6, never probable)."""
    v = scene(100, seed=10, gaps=0.0, noise=0.005)
    hist = DAYS < MS
    model = fit_history(v[hist], DAYS[hist])
    mon = np.flatnonzero(~hist)
    v[mon[20], 0] -= 0.12  # 4 effective sigmas at the NDVI floor of 0.03
    one = scan(model, v[mon[:21]], DAYS[mon[:21]], None)
    assert (one.level == 0).all()
    v[mon[21], 0] -= 0.12
    two = scan(model, v[mon[21:22]], DAYS[mon[21:22]], one)
    assert (two.level == POSSIBLE).mean() > 0.95
    assert (two.onset[two.level == POSSIBLE] == DAYS[mon[20]]).all()  # the episode began with the first dip
    rest = scan(model, v[mon[22:]], DAYS[mon[22:]], two)
    assert (rest.level >= PROBABLE).mean() == 0 and rest.retracted.mean() > 0.95
