"""The sequential change monitor: a per-observation update of the probability of change, with levels.

Two pure functions; the monitoring state is just their arguments and results:

* :func:`fit_history` fits each pixel's harmonic season model of the change indices on its clear
  history observations (one Tmask-like refit that drops history outliers) and returns a
  :class:`HistoryModel` (arrays only: coefficients, residual scale, count of clear history obs);
* :func:`scan` takes the model, the newly arrived acquisitions and the previous
  :class:`MonitorCarry` and returns the next carry. ``scan`` of all dates at once equals ``scan``
  over consecutive chunks of them, exactly: each pixel is updated one clear observation at a
  time, in date order, from the carry alone.

Statistics (docs/method.md, "Sequential alerts"): each clear observation gets its standardised
departure ``D`` in a mining direction (the largest over NDVI down, MNDWI up, BSI and SWIR1
either way) in units of an effective scale ``s_b = max(rmse_b, rmse_floor_b, min_change_b / k)``,
so that a change of the physical size ``min_change_b`` is ``k`` effective sigmas. ``D`` is
``N(0, 1)`` with no change and ``N(k, 1)`` with change; its log-likelihood ratio
``k (D - k / 2)`` is clipped to ``+-logit(p_obs_max)`` (no single observation, a missed cloud
or a shadow, is worth more than odds of ``p_obs_max``) and summed from zero, never below zero:
a Bayesian update of the log-odds of change that starts only once an observation departs
(BayTS / RADD conditional updating; equivalently Page's CUSUM of the log-likelihood ratios).
The excursion's first observation is the onset. Levels from the posterior ``P``:

* ``possible`` when ``P >= p_possible``;
* ``probable`` when ``P >= p_probable`` and the land stays unvegetated;
* ``confirmed`` when ``P >= p_confirmed``, at least ``confirm_min_obs`` clear observations over
  at least ``confirm_days`` days since onset, at least ``persistence`` of them departing, and the
  land unvegetated (at most ``1 - post_quantile`` of them with NDVI >= ``max_post_ndvi``: the
  batch rule "``post_quantile`` of NDVI below ``max_post_ndvi``");
* when ``P`` falls back to its start (the observations returned to the history model) a pixel
  that had been flagged is ``retracted``: level 0, its episode's dates kept.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields

import numba as nb
import numpy as np
from scipy.stats import chi2

from minewatch.analysis.change.design import check_days, design_matrix
from minewatch.errors import InputError

#: Mining direction of each change index (CHANGE_INDICES order: ndvi, nbr, mndwi, bsi, swir16):
#: -1 must fall, +1 must rise, 2 either way, 0 not used.
DIRECTIONS = (-1, 0, 1, 2, 2)

NONE, POSSIBLE, PROBABLE, CONFIRMED = 0, 1, 2, 3
LEVEL_NAMES = {NONE: "none", POSSIBLE: "possible", PROBABLE: "probable", CONFIRMED: "confirmed"}


def _logit(p: float) -> float:
    return float(np.log(p / (1.0 - p)))


@dataclass(frozen=True)
class MonitorParams:
    """Settings of the sequential monitor (module docstring; docs/method.md for the values)."""

    harmonics: int = 1
    period_days: float = 365.25
    min_history_obs: int = 8
    screen_threshold: float = 0.999  #: chi-square quantile above which a history obs is an outlier
    rmse_floor: tuple[float, ...] = (0.03, 0.03, 0.03, 0.02, 0.01)
    #: smallest change that counts per index, physical units (ndvi drop, -, mndwi rise, |bsi|, |swir1|)
    min_change: tuple[float, ...] = (0.10, 0.0, 0.15, 0.06, 0.04)
    shift_sigma: float = 6.0  #: k: the change hypothesis is a shift of k effective sigmas
    p_obs_max: float = 0.9  #: the most one observation can say, as a probability
    p_cap: float = 0.999  #: ceiling of the posterior (so a lasting return can retract)
    p_possible: float = 0.8
    #: one observation alone makes a pixel possible only when it departs by this many effective sigmas
    #: (with k = 6: by at least the physical ``min_change``); otherwise it takes two departing ones
    single_obs_sigma: float = 6.0
    p_probable: float = 0.99  #: three departing observations (docs/method.md: why not two)
    p_confirmed: float = 0.995
    confirm_days: int = 60
    confirm_min_obs: int = 4
    persistence: float = 0.75
    max_post_ndvi: float = 0.35
    post_quantile: float = 0.9

    def as_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> MonitorParams:
        d = {k: tuple(v) if isinstance(v, list) else v for k, v in dict(d).items()}
        return cls(**d)

    def validate(self) -> None:
        """Raise :class:`~minewatch.errors.InputError` naming the first setting out of range."""
        for name in ("p_obs_max", "p_cap", "p_possible", "p_probable", "p_confirmed"):
            if not 0.5 < getattr(self, name) < 1:
                raise InputError(f"MonitorParams.{name}={getattr(self, name)} must be a probability in (0.5, 1)")
        if not self.p_possible <= self.p_probable <= self.p_confirmed < self.p_cap:
            raise InputError("MonitorParams: need p_possible <= p_probable <= p_confirmed < p_cap")
        for name in ("persistence", "post_quantile"):
            if not 0 <= getattr(self, name) <= 1:
                raise InputError(f"MonitorParams.{name}={getattr(self, name)} must be in [0, 1]")
        if self.min_history_obs < 1 or self.confirm_min_obs < 1 or self.shift_sigma <= 0:
            raise InputError("MonitorParams: min_history_obs, confirm_min_obs and shift_sigma must be > 0")


@dataclass
class HistoryModel:
    """Per-pixel season model of the change indices (arrays only: ``np.savez(**asdict(m))``)."""

    beta: np.ndarray  #: (B, P, H, W) float64 harmonic coefficients
    rmse: np.ndarray  #: (B, H, W) float32 residual scale of the (refitted) history
    n_history: np.ndarray  #: (H, W) int16 clear history observations used (0 = not fitted)

    @property
    def shape(self) -> tuple[int, int]:
        return self.n_history.shape


@dataclass
class MonitorCarry:
    """Per-pixel monitoring state, (H, W) arrays; ``last_day`` is the last date scanned."""

    lo: np.ndarray  #: float64 log-odds of change of the current excursion (0 = none)
    level: np.ndarray  #: uint8 0 none, 1 possible, 2 probable, 3 confirmed
    start: np.ndarray  #: int32 first day of the current excursion (0 = none)
    onset: np.ndarray  #: int32 onset of the flagged (or retracted) episode
    first_seen: np.ndarray  #: int32 day it first reached ``possible``
    probable_on: np.ndarray  #: int32 day it first reached ``probable`` (0 = not yet)
    confirmed_on: np.ndarray  #: int32 day it first reached ``confirmed`` (0 = not yet)
    retracted: np.ndarray  #: bool: the episode fell back to the history model
    peak: np.ndarray  #: uint8 highest level the (current or retracted) episode reached
    n_post: np.ndarray  #: int32 clear observations since ``start``
    n_anom: np.ndarray  #: int32 of them departing (positive log-likelihood ratio)
    n_veg: np.ndarray  #: int32 of them vegetated (NDVI >= max_post_ndvi)
    n_clear: np.ndarray  #: int32 clear observations scanned
    last_clear: np.ndarray  #: int32 day of the last clear observation scanned (0 = none)
    last_day: int = 0

    @classmethod
    def empty(cls, shape: tuple[int, int]) -> MonitorCarry:
        z = lambda dt: np.zeros(shape, dt)  # noqa: E731
        return cls(lo=z(np.float64), level=z(np.uint8), start=z(np.int32), onset=z(np.int32),
                   first_seen=z(np.int32), probable_on=z(np.int32), confirmed_on=z(np.int32),
                   retracted=z(np.bool_), peak=z(np.uint8), n_post=z(np.int32), n_anom=z(np.int32), n_veg=z(np.int32),
                   n_clear=z(np.int32), last_clear=z(np.int32))

    def arrays(self) -> dict[str, np.ndarray]:
        return {f.name: getattr(self, f.name) for f in fields(self) if f.name != "last_day"}

    def copy(self) -> MonitorCarry:
        return MonitorCarry(**{k: v.copy() for k, v in self.arrays().items()}, last_day=self.last_day)

    def probability(self) -> np.ndarray:
        """Posterior probability of change, float32 (0 where nothing is tracked)."""
        return np.where(self.lo > 0, 1.0 / (1.0 + np.exp(-self.lo)), 0.0).astype(np.float32)


# ----------------------------------------------------------------------------- compiled parts

@nb.njit(cache=True, nogil=True)
def _solve(G, r):  # pragma: no cover - compiled
    """Solve the small SPD system G x = r by Cholesky (G is overwritten)."""
    p = G.shape[0]
    for j in range(p):
        s = G[j, j]
        for k in range(j):
            s -= G[j, k] * G[j, k]
        if s <= 1e-12:
            return False
        G[j, j] = np.sqrt(s)
        for i in range(j + 1, p):
            s = G[i, j]
            for k in range(j):
                s -= G[i, k] * G[j, k]
            G[i, j] = s / G[j, j]
    for i in range(p):
        s = r[i]
        for k in range(i):
            s -= G[i, k] * r[k]
        r[i] = s / G[i, i]
    for i in range(p - 1, -1, -1):
        s = r[i]
        for k in range(i + 1, p):
            s -= G[k, i] * r[k]
        r[i] = s / G[i, i]
    return True


@nb.njit(cache=True, nogil=True)
def _fit(vals, n, X, rows, nrows, keep, beta, rmse):  # pragma: no cover - compiled
    """OLS per band over history rows with keep[i]; fills beta (B, P) and rmse (B). Returns count."""
    B = vals.shape[1]
    P = X.shape[1]
    cnt = 0
    for i in range(nrows):
        if keep[i]:
            cnt += 1
    if cnt < P + 1:
        return cnt
    G0 = np.zeros((P, P))
    for i in range(nrows):
        if keep[i]:
            t = rows[i]
            for a in range(P):
                for c in range(P):
                    G0[a, c] += X[t, a] * X[t, c]
    for b in range(B):
        G = G0.copy()
        r = np.zeros(P)
        for i in range(nrows):
            if keep[i]:
                t = rows[i]
                for a in range(P):
                    r[a] += X[t, a] * vals[t, b, n]
        if not _solve(G, r):
            return 0
        ss = 0.0
        for i in range(nrows):
            if keep[i]:
                t = rows[i]
                e = vals[t, b, n]
                for a in range(P):
                    e -= X[t, a] * r[a]
                ss += e * e
        for a in range(P):
            beta[b, a] = r[a]
        rmse[b] = np.sqrt(ss / max(cnt - P, 1))
    return cnt


@nb.njit(parallel=True, cache=True)
def _fit_kernel(vals, X, floor, q_screen, min_hist, out_beta, out_rmse, out_nh):  # pragma: no cover
    T, B, N = vals.shape
    P = X.shape[1]
    for n in nb.prange(N):
        rows = np.empty(T, np.int64)
        nr = 0
        for t in range(T):
            ok = True
            for b in range(B):
                if np.isnan(vals[t, b, n]):
                    ok = False
                    break
            if ok:
                rows[nr] = t
                nr += 1
        keep = np.ones(nr, np.bool_)
        beta = np.zeros((B, P))
        rmse = np.zeros(B)
        cnt = _fit(vals, n, X, rows, nr, keep, beta, rmse)
        if cnt >= min_hist:
            dropped = 0  # one Tmask-like pass: drop history outliers and refit
            for i in range(nr):
                t = rows[i]
                s = 0.0
                for b in range(B):
                    e = vals[t, b, n]
                    for a in range(P):
                        e -= X[t, a] * beta[b, a]
                    s += (e / max(rmse[b], floor[b])) ** 2
                if s > q_screen:
                    keep[i] = False
                    dropped += 1
            if dropped > 0 and cnt - dropped >= min_hist:
                cnt = _fit(vals, n, X, rows, nr, keep, beta, rmse)
        if cnt < min_hist:
            out_nh[n] = 0
            continue
        out_nh[n] = cnt
        for b in range(B):
            out_rmse[b, n] = rmse[b]
            for a in range(P):
                out_beta[b, a, n] = beta[b, a]


@nb.njit(parallel=True, cache=True)
def _scan_kernel(vals, days, X, beta, scale, nh, dirs, k, single, llr_max, lo_cap, lo_possible, lo_probable,
                 lo_confirmed, confirm_days, confirm_min_obs, persistence, max_post_ndvi, max_veg_share,
                 lo, level, start, onset, first_seen, probable_on, confirmed_on, retracted, peak, n_post, n_anom,
                 n_veg, n_clear, last_clear):  # pragma: no cover - compiled
    T, B, N = vals.shape
    P = X.shape[1]
    half = 0.5 * k
    for n in nb.prange(N):
        if nh[n] == 0:
            continue
        for t in range(T):
            ok = True
            for b in range(B):
                if np.isnan(vals[t, b, n]):
                    ok = False
                    break
            if not ok:
                continue
            day = days[t]
            n_clear[n] += 1
            last_clear[n] = day
            # the standardised departure in a mining direction
            d = -1e300
            for b in range(B):
                if dirs[b] == 0:
                    continue
                e = vals[t, b, n]
                for a in range(P):
                    e -= X[t, a] * beta[b, a, n]
                z = e / scale[b, n]
                if dirs[b] == -1:
                    z = -z
                elif dirs[b] == 2:
                    z = abs(z)
                if z > d:
                    d = z
            llr = k * (d - half)
            if llr > llr_max:
                llr = llr_max
            elif llr < -llr_max:
                llr = -llr_max
            if lo[n] <= 0.0:  # conditional updating: an excursion starts only on a departure
                if llr <= 0.0:
                    continue
                start[n] = day
                n_post[n] = 0
                n_anom[n] = 0
                n_veg[n] = 0
                lo[n] = 0.0
            lo[n] = min(lo[n] + llr, lo_cap)
            n_post[n] += 1
            if llr > 0.0:
                n_anom[n] += 1
            if vals[t, 0, n] >= max_post_ndvi:
                n_veg[n] += 1
            if lo[n] <= 0.0:  # back to the history model
                lo[n] = 0.0
                if level[n] > 0:
                    level[n] = 0
                    retracted[n] = True
                continue
            unveg = n_veg[n] <= max_veg_share * n_post[n]
            if not unveg and n_post[n] >= confirm_min_obs:  # it stays vegetated: not mining (for now)
                if level[n] > 0:
                    level[n] = 0
                    retracted[n] = True
                continue
            new = 0
            if lo[n] >= lo_possible:
                new = 1
                if lo[n] >= lo_probable and unveg:
                    new = 2
                    if (lo[n] >= lo_confirmed and n_post[n] >= confirm_min_obs
                            and day - start[n] >= confirm_days and n_anom[n] >= persistence * n_post[n]):
                        new = 3
            if new > 0 and level[n] == 0 and n_anom[n] < 2 and d < single:
                new = 0  # one departing observation is not enough unless it is large
            if new > 0 and level[n] == 0:  # a new episode (replaces a retracted one)
                onset[n] = start[n]
                first_seen[n] = day
                probable_on[n] = 0
                confirmed_on[n] = 0
                retracted[n] = False
                peak[n] = 0
            if level[n] > 0 or new > 0:
                if new == 0:
                    new = 1  # flagged episodes stay at least possible until they fall back
                if new >= 2 and probable_on[n] == 0:
                    probable_on[n] = day
                if new == 3 and confirmed_on[n] == 0:
                    confirmed_on[n] = day
                level[n] = new
                if new > peak[n]:
                    peak[n] = new


# ----------------------------------------------------------------------------- public API

def _flat(stack: np.ndarray, days: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    if stack.ndim != 4:
        raise InputError(f"stack must be (T, B, H, W), got shape {stack.shape}")
    if stack.shape[1] != len(DIRECTIONS):
        raise InputError(f"stack has {stack.shape[1]} bands; the monitor needs the {len(DIRECTIONS)} change indices")
    d = check_days(days, stack.shape[0])
    T, B, H, W = stack.shape
    return np.ascontiguousarray(stack.reshape(T, B, H * W), dtype=np.float32), d


def _floor(params: MonitorParams, B: int) -> np.ndarray:
    return np.broadcast_to(np.asarray(params.rmse_floor, np.float64), (B,)).copy()


def fit_history(stack_hist: np.ndarray, days_hist: np.ndarray, params: MonitorParams | None = None) -> HistoryModel:
    """Fit each pixel's season model on its clear history observations.

    Parameters
    ----------
    stack_hist
        (T, B, H, W) float32 change indices (CHANGE_INDICES order), NaN = not clear.
    days_hist
        (T,) int days since 1970-01-01, strictly increasing.

    Returns
    -------
    HistoryModel
        ``n_history`` is 0 for pixels with fewer than ``min_history_obs`` clear observations (or
        fewer than the model has coefficients, plus one); they are not monitored.
    """
    params = params or MonitorParams()
    params.validate()
    vals, days = _flat(stack_hist, days_hist)
    T, B, N = vals.shape
    H, W = stack_hist.shape[2:]
    X = design_matrix(days, 0, params.harmonics, False, params.period_days)
    P = X.shape[1]
    beta = np.zeros((B, P, N))
    rmse = np.zeros((B, N), np.float32)
    nh = np.zeros(N, np.int16)
    if T:
        _fit_kernel(vals, X, _floor(params, B), chi2.ppf(params.screen_threshold, B),
                    max(params.min_history_obs, P + 1), beta, rmse, nh)
    return HistoryModel(beta.reshape(B, P, H, W), rmse.reshape(B, H, W), nh.reshape(H, W))


def effective_scale(model: HistoryModel, params: MonitorParams) -> np.ndarray:
    """(B, H, W) scale of the standardised residuals: rmse floored at ``rmse_floor`` and ``min_change / k``."""
    B = model.rmse.shape[0]
    floor = np.maximum(_floor(params, B), np.asarray(params.min_change, np.float64) / params.shift_sigma)
    return np.maximum(model.rmse.astype(np.float64), floor[:, None, None])


def scan(model: HistoryModel, stack_new: np.ndarray, days_new: np.ndarray, carry: MonitorCarry | None,
         params: MonitorParams | None = None) -> MonitorCarry:
    """Update the monitoring state with newly arrived acquisitions, one clear observation at a time.

    Parameters
    ----------
    model
        From :func:`fit_history`.
    stack_new
        (T, B, H, W) float32 change indices of the new acquisitions, NaN = not clear.
    days_new
        (T,) int days, strictly increasing and after ``carry.last_day``.
    carry
        The state after the previous acquisitions (``None``: nothing scanned yet). Not modified.

    Returns
    -------
    MonitorCarry
        The new state; ``scan(m, a+b, ...)`` equals ``scan(m, b, ..., scan(m, a, ...))``.
    """
    params = params or MonitorParams()
    params.validate()
    vals, days = _flat(stack_new, days_new)
    H, W = model.shape
    if stack_new.shape[2:] != (H, W):
        raise InputError(f"stack is {stack_new.shape[2:]} pixels but the history model is {(H, W)}")
    out = MonitorCarry.empty((H, W)) if carry is None else carry.copy()
    if len(days) == 0:
        return out
    if days[0] <= out.last_day:
        raise InputError(f"acquisition day {days[0]} is not after the last one scanned ({out.last_day})",
                         hint="scan acquisitions in date order; rebuild the state for late arrivals")
    B, P = model.beta.shape[:2]
    X = design_matrix(days, 0, params.harmonics, False, params.period_days)
    if X.shape[1] != P:
        raise InputError(f"the history model has {P} coefficients but the settings give {X.shape[1]}")
    N = H * W
    k = float(params.shift_sigma)
    a = out.arrays()
    flat = {name: arr.reshape(N) for name, arr in a.items()}
    _scan_kernel(vals, days, X, np.ascontiguousarray(model.beta.reshape(B, P, N)),
                 np.ascontiguousarray(effective_scale(model, params).reshape(B, N)),
                 model.n_history.reshape(N), np.asarray(DIRECTIONS, np.int64), k, float(params.single_obs_sigma),
                 _logit(params.p_obs_max),
                 _logit(params.p_cap), _logit(params.p_possible), _logit(params.p_probable),
                 _logit(params.p_confirmed), int(params.confirm_days), int(params.confirm_min_obs),
                 float(params.persistence), float(params.max_post_ndvi), round(1.0 - float(params.post_quantile), 9),
                 flat["lo"], flat["level"], flat["start"], flat["onset"], flat["first_seen"], flat["probable_on"],
                 flat["confirmed_on"], flat["retracted"], flat["peak"], flat["n_post"], flat["n_anom"], flat["n_veg"],
                 flat["n_clear"], flat["last_clear"])
    out.last_day = int(days[-1])
    return out
