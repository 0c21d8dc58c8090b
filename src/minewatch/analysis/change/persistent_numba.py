"""The persistent-change test, Numba backend: the first *lasting* departure from a pixel's history.

COLD confirms a change after a few consecutive anomalous observations and stops
at the first one. Over a long monitoring period with a short history, that first
confirmed run is often a transient (a drought summer, an unusual winter, a burn
that regrows), and the lasting change that matters comes later. This test keeps
COLD's model and scores but scans forward until it finds a run that *lasts*:

* the season model (harmonics, optional trend) is fitted per band on the valid
  history observations, with one Tmask-like refit that drops history outliers;
* each monitoring observation is scored by the sum over bands of squared residuals
  standardised by the history RMSE (floored); it is anomalous above the
  chi-square quantile ``threshold`` with ``B`` degrees of freedom;
* the change starts at the first observation ``k`` such that observations
  ``k .. k+consecutive-1`` are all anomalous, at least ``persistence`` of all
  observations from ``k`` to the end are anomalous, and they span at least
  ``min_post_days`` days (a change too close to the end cannot be told from a
  transient yet);
* and the new state lasts: taking the median standardised residual over the
  ``early_window`` observations from ``k`` as the new state, at least
  ``early_share`` of that window and ``persistence`` of all observations to the
  end are nearer to the new state than to the history model. A greener-than-usual
  season followed years later by clearing is two states, not one change.

Outputs per pixel: date, confidence (the share of observations from the change on
that are in the new state), the median residual per band after it (magnitude), a
high quantile (``post_quantile``) of each band's values after it, history RMSE and
count.

:func:`detect_persistent_change_numba` runs it on every CPU core; the PyTorch backend
(:mod:`.persistent_torch`) applies the same rules, and :mod:`.engine` chooses between them.
"""

from __future__ import annotations

import numba as nb
import numpy as np
from scipy.stats import chi2

from minewatch.analysis.change.design import design_matrix
from minewatch.analysis.change.params import PersistentParams
from minewatch.analysis.change.result import PersistentResult


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
def _kernel(vals, days, X, start, end, floor, q, q_screen, consecutive, early_window, early_share,
            persistence, min_post_days, min_hist, post_quantile, out_date, out_conf, out_mag, out_postq, out_rmse,
            out_nh):  # pragma: no cover - compiled
    T, B, N = vals.shape
    P = X.shape[1]
    for n in nb.prange(N):
        rows = np.empty(T, np.int64)
        mon = np.empty(T, np.int64)
        nr = 0
        m = 0
        for t in range(T):
            ok = True
            for b in range(B):
                if np.isnan(vals[t, b, n]):
                    ok = False
                    break
            if not ok:
                continue
            if days[t] < start:
                rows[nr] = t
                nr += 1
            elif days[t] <= end:
                mon[m] = t
                m += 1
        keep = np.ones(nr, np.bool_)
        beta = np.zeros((B, P))
        rmse = np.zeros(B)
        cnt = _fit(vals, n, X, rows, nr, keep, beta, rmse)
        if cnt >= min_hist:
            # one Tmask-like pass: drop history outliers and refit
            dropped = 0
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
            elif dropped > 0:
                keep[:] = True
        out_nh[n] = cnt
        for b in range(B):
            out_rmse[b, n] = rmse[b]
        if cnt < min_hist or m < consecutive:
            continue
        an = np.zeros(m, np.int64)
        res = np.empty((m, B))
        for k in range(m):
            t = mon[k]
            s = 0.0
            for b in range(B):
                e = vals[t, b, n]
                for a in range(P):
                    e -= X[t, a] * beta[b, a]
                res[k, b] = e
                s += (e / max(rmse[b], floor[b])) ** 2
            an[k] = 1 if s > q else 0
        suf = np.zeros(m + 1, np.int64)
        for k in range(m - 1, -1, -1):
            suf[k] = suf[k + 1] + an[k]
        zs = np.empty((m, B))
        for k in range(m):
            for b in range(B):
                zs[k, b] = res[k, b] / max(rmse[b], floor[b])
        wbuf = np.empty(early_window)
        state = np.empty(B)
        for k in range(m - consecutive + 1):
            if days[mon[m - 1]] - days[mon[k]] < min_post_days:
                break
            run = True
            for j in range(consecutive):
                if an[k + j] == 0:
                    run = False
                    break
            if not run or suf[k] / (m - k) < persistence:
                continue
            # The new state: median standardised residual over the early window.
            w = min(early_window, m - k)
            for b in range(B):
                for j in range(w):
                    wbuf[j] = zs[k + j, b]
                srt = np.sort(wbuf[:w])
                state[b] = srt[w // 2] if w % 2 == 1 else 0.5 * (srt[w // 2 - 1] + srt[w // 2])
            # An observation is in the new state when nearer to it than to the history model.
            in_early = 0
            in_all = 0
            for j in range(k, m):
                d_new = 0.0
                d_old = 0.0
                for b in range(B):
                    d_new += (zs[j, b] - state[b]) ** 2
                    d_old += zs[j, b] ** 2
                if d_new < d_old:
                    in_all += 1
                    if j < k + w:
                        in_early += 1
            if in_early / w < early_share or in_all / (m - k) < persistence:
                continue
            out_date[n] = days[mon[k]]
            out_conf[n] = in_all / (m - k)
            buf = np.empty(m - k)
            for b in range(B):
                for j in range(k, m):
                    buf[j - k] = res[j, b]
                buf.sort()
                out_mag[b, n] = buf[(m - k) // 2]
                for j in range(k, m):
                    buf[j - k] = vals[mon[j], b, n]
                buf.sort()
                out_postq[b, n] = buf[int(post_quantile * (m - k - 1))]
            break


def detect_persistent_change_numba(values: np.ndarray, days: np.ndarray, monitor_start: int, monitor_end: int,
                                   params: PersistentParams) -> PersistentResult:
    """Find each pixel's first lasting change in ``[monitor_start, monitor_end]``, with Numba on every core.

    Parameters
    ----------
    values
        (T, B, H, W) float32, NaN = missing observation.
    days
        (T,) int days since 1970-01-01, increasing.
    monitor_start, monitor_end
        The monitoring period (days since 1970-01-01, both included).
    params
        The test's settings, already validated (:func:`.engine.detect_persistent_change` checks
        them and the arrays before any work).
    """
    T, B, H, W = values.shape
    N = H * W
    vals = np.ascontiguousarray(values.reshape(T, B, N), dtype=np.float32)
    days = np.asarray(days, np.int64)
    X = design_matrix(days, int(monitor_start), params.harmonics, params.trend, params.period_days)
    floor = np.broadcast_to(np.asarray(params.rmse_floor, np.float64), (B,)).copy()
    date = np.zeros(N, np.int32)
    conf = np.zeros(N, np.float32)
    mag = np.zeros((B, N), np.float32)
    postq = np.full((B, N), np.nan, np.float32)
    rmse = np.zeros((B, N), np.float32)
    nh = np.zeros(N, np.int16)
    _kernel(vals, days, X, int(monitor_start), int(monitor_end), floor, chi2.ppf(params.threshold, B),
            chi2.ppf(params.screen_threshold, B), params.consecutive, params.early_window, params.early_share,
            params.persistence, params.min_post_days, max(params.min_history_obs, X.shape[1] + 1),
            params.post_quantile, date, conf,
            mag, postq, rmse, nh)
    return PersistentResult(date.reshape(H, W), conf.reshape(H, W), mag.reshape(B, H, W),
                            postq.reshape(B, H, W), rmse.reshape(B, H, W), nh.reshape(H, W))
