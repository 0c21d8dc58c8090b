"""CPU backend: Numba kernels, one pixel per iteration, ``prange`` over blocks of pixels.

Every pixel's time series is handled independently:

1. gather the valid observations (all bands finite);
2. optionally shorten the history with the reverse-ordered recursive CUSUM test (ROC);
3. fit the harmonic season-trend model by OLS on the history (normal equations,
   Cholesky, one factorisation shared by all bands), optionally screen outliers and refit;
4. test the monitoring observations with COLD's consecutive chi-square rule or with
   BFAST Monitor's OLS-MOSUM process.

All arithmetic is float64; inputs and outputs are float32.
"""

from __future__ import annotations

import math

import numba as nb
import numpy as np

BLOCK = 64  # pixels solved together (the dense normal equations vectorise over them)
CHUNKS = 512  # parallel work items; each allocates its scratch once and runs many blocks

METHOD_COLD = 0
METHOD_MOSUM = 1
HEAD_TRIM = 8  # at most this many observations are trimmed after the ROC start
SCREEN_PASSES = 3  # outlier screening passes over the history
# floating-point licences for the kernels; no 'nnan'/'ninf': they rely on NaN tests
_FASTMATH = {"reassoc", "contract", "arcp", "nsz"}


@nb.njit(cache=True, nogil=True, fastmath=_FASTMATH)
def _cholesky_solve(G, R, L, beta, P, B):
    """Solve ``G beta = R`` (G symmetric P x P, R P x B) by Cholesky; False if singular."""
    for i in range(P):
        for j in range(i + 1):
            s = G[i, j]
            for k in range(j):
                s -= L[i, k] * L[j, k]
            if i == j:
                if s <= 1e-12 * max(G[i, i], 1e-300):
                    return False
                L[i, i] = math.sqrt(s)
            else:
                L[i, j] = s / L[j, j]
    # forward: L z = r, then backward: L^T beta = z (all bands at once)
    for i in range(P):
        d = 1.0 / L[i, i]
        for b in range(B):
            s = R[i, b]
            for k in range(i):
                s -= L[i, k] * beta[k, b]
            beta[i, b] = s * d
    for i in range(P - 1, -1, -1):
        d = 1.0 / L[i, i]
        for b in range(B):
            s = beta[i, b]
            for k in range(i + 1, P):
                s -= L[k, i] * beta[k, b]
            beta[i, b] = s * d
    return True


@nb.njit(cache=True, nogil=True, fastmath=_FASTMATH)
def _fit(yb, kp, X, vidx, lo, hi, keep, G, R, L, beta, P, B):
    """OLS on valid positions ``lo..hi-1`` with ``keep`` set; returns the number used."""
    for i in range(P):
        for j in range(P):
            G[i, j] = 0.0
        for b in range(B):
            R[i, b] = 0.0
    n = 0
    for q in range(lo, hi):
        if not keep[q]:
            continue
        t = vidx[q]
        n += 1
        for i in range(P):
            xi = X[t, i]
            for j in range(i + 1):
                G[i, j] += xi * X[t, j]
            for b in range(B):
                R[i, b] += xi * yb[t, b, kp]
    for i in range(P):
        for j in range(i + 1, P):
            G[i, j] = G[j, i]
    if n < P:
        return -1
    if not _cholesky_solve(G, R, L, beta, P, B):
        return -1
    return n


@nb.njit(cache=True, nogil=True, fastmath=_FASTMATH)
def _residuals(yb, kp, X, vidx, lo, hi, beta, res, P, B):
    """``res[q, b] = y - x'beta`` for valid positions ``lo..hi-1`` (bands innermost)."""
    for q in range(lo, hi):
        t = vidx[q]
        for b in range(B):
            res[q, b] = yb[t, b, kp]
        for i in range(P):
            xi = X[t, i]
            for b in range(B):
                res[q, b] -= xi * beta[i, b]


@nb.njit(cache=True, nogil=True)
def _median(buf, n):
    """Median of ``buf[:n]`` (sorts in place; mean of the two middle values when even)."""
    for i in range(1, n):
        v = buf[i]
        j = i - 1
        while j >= 0 and buf[j] > v:
            buf[j + 1] = buf[j]
            j -= 1
        buf[j + 1] = v
    if n == 0:
        return np.nan
    if n % 2 == 1:
        return buf[n // 2]
    return 0.5 * (buf[n // 2 - 1] + buf[n // 2])


@nb.njit(cache=True, nogil=True, fastmath=_FASTMATH)
def _roc_start(yb, kp, X, vidx, nh, P, B, crit, robust, G, R, L, beta, Pm, xv, pv, wbuf, sbuf):
    """Start (valid position) of the stable history by the reverse-ordered Rec-CUSUM test.

    For each band the history is reversed, recursive residuals are computed by recursive
    least squares, and the first crossing of the Brown-Durbin-Evans boundary
    ``crit * (1 + 2t)`` ends the stable period; the latest start over bands is returned.
    """
    best = 0
    for b in range(B):
        # initial fit on the first r0 reversed observations (grow until non-singular)
        r0 = P
        ok = False
        while r0 <= nh - 2:
            for i in range(P):
                for j in range(P):
                    G[i, j] = 0.0
                R[i, 0] = 0.0
            for k in range(r0):
                t = vidx[nh - 1 - k]
                y = yb[t, b, kp]
                for i in range(P):
                    for j in range(P):
                        G[i, j] += X[t, i] * X[t, j]
                    R[i, 0] += X[t, i] * y
            if _cholesky_solve(G, R, L, beta, P, 1):
                ok = True
                break
            r0 += 1
        if not ok:
            continue
        # Pm = G^{-1} from the Cholesky factor L (column by column)
        for c in range(P):
            for i in range(P):
                s = 1.0 if i == c else 0.0
                for k in range(i):
                    s -= L[i, k] * xv[k]
                xv[i] = s / L[i, i]
            for i in range(P - 1, -1, -1):
                s = xv[i]
                for k in range(i + 1, P):
                    s -= L[k, i] * pv[k]
                pv[i] = s / L[i, i]
            for i in range(P):
                Pm[i, c] = pv[i]
        nw = 0
        for k in range(r0, nh):
            t = vidx[nh - 1 - k]
            y = yb[t, b, kp]
            f = 1.0
            pred = 0.0
            for i in range(P):
                s = 0.0
                for j in range(P):
                    s += Pm[i, j] * X[t, j]
                pv[i] = s
                f += X[t, i] * s
                pred += X[t, i] * beta[i, 0]
            e = y - pred
            wbuf[nw] = e / math.sqrt(f)
            nw += 1
            for i in range(P):
                beta[i, 0] += pv[i] * e / f
            for i in range(P):
                for j in range(P):
                    Pm[i, j] -= pv[i] * pv[j] / f
        if nw < 2:
            continue
        mean = 0.0
        for k in range(nw):
            mean += wbuf[k]
        mean /= nw
        var = 0.0
        for k in range(nw):
            var += (wbuf[k] - mean) ** 2
        sd = math.sqrt(var / (nw - 1))
        if robust:
            # MAD scale: a change inside the history does not inflate it
            for k in range(nw):
                sbuf[k] = wbuf[k]
            med = _median(sbuf, nw)
            for k in range(nw):
                sbuf[k] = abs(wbuf[k] - med)
            sd = 1.4826 * _median(sbuf, nw)
        if not sd > 0.0:
            continue
        scale = 1.0 / (sd * math.sqrt(nw))
        cs = 0.0
        for j in range(nw):
            cs += wbuf[j]
            tt = (j + 1) / nw
            if abs(cs * scale) > crit * (1.0 + 2.0 * tt):
                start = nh - 1 - (r0 + j) + 1
                if start > best:
                    best = start
                break
    return best


@nb.njit(parallel=True, cache=True, nogil=True, fastmath=_FASTMATH)
def detect_kernel(
    vals,  # float32 (T, B, N)
    X,  # float64 (T, P)
    n_split,  # number of dates before monitor_start
    bound,  # float64 (T,) MOSUM boundary per date
    method,
    consecutive,
    chi_thr,
    screen,
    screen_thr,
    roc,
    roc_crit,
    roc_robust,
    min_hist,
    hfrac,
    floor,  # float64 (B,)
    weights,  # float64 (B,)
    flag,  # out uint8 (N,)
    date_idx,  # out int32 (N,) index into days, -1 none
    mag,  # out float32 (B, N)
    stat,  # out float64 (N,)
    rmse_out,  # out float32 (B, N)
    nhist,  # out int16 (N,)
    status,  # out uint8 (N,)
):
    T = vals.shape[0]
    B = vals.shape[1]
    N = vals.shape[2]
    P = X.shape[1]
    nblocks = (N + BLOCK - 1) // BLOCK
    nchunks = min(nblocks, CHUNKS)
    dense = not roc
    for ch in nb.prange(nchunks):
        vidx = np.empty(T, np.int64)
        keep = np.empty(T, np.bool_)
        dropped = np.empty(T, np.int8)
        res = np.empty((T, B), np.float64)
        score = np.empty(T, np.float64)
        buf = np.empty(T, np.float64)
        G = np.empty((P, P), np.float64)
        L = np.zeros((P, P), np.float64)
        R = np.empty((P, B), np.float64)
        beta = np.empty((P, B), np.float64)
        xv2 = np.empty((P, B), np.float64)
        Pm = np.empty((P, P), np.float64)
        xv = np.empty(P, np.float64)
        pv = np.empty(P, np.float64)
        rm = np.empty(B, np.float64)
        wr = np.empty(B, np.float64)
        sig = np.empty(B, np.float64)
        # block-sized scratch, allocated once per chunk of blocks (large allocations
        # per block cost page faults that dominated the run time)
        Kd = BLOCK if dense else 1
        Td = T if dense else 1
        mz = np.ones((Td, Kd), np.float64)
        yz = np.empty((Td, B, Kd), np.float64)
        Gb = np.zeros((P, P, Kd), np.float64)
        Rb = np.zeros((P, B, Kd), np.float64)
        betab = np.zeros((P, B, Kd), np.float64)
        okb = np.zeros(Kd, np.bool_)
        resb = np.empty((Td, B, Kd), np.float64)
        ybuf = np.empty((1 if dense else T, B, 1 if dense else BLOCK), np.float64)
        for blk in range(ch * nblocks // nchunks, (ch + 1) * nblocks // nchunks):
            p0 = blk * BLOCK
            p1 = min(N, p0 + BLOCK)
            Kb = p1 - p0
            if dense:
                # Without ROC every pixel's first fit uses all its valid history: build the
                # normal equations and then the residuals for the whole block at once,
                # pixels innermost (SIMD-friendly), with missing observations weighted 0.
                for kk in range(Kb):
                    okb[kk] = False
                    for t in range(T):
                        mz[t, kk] = 1.0
                    for i in range(P):
                        for j in range(P):
                            Gb[i, j, kk] = 0.0
                        for b in range(B):
                            Rb[i, b, kk] = 0.0
                            betab[i, b, kk] = 0.0
                # branch-free (vectorisable): v - v is 0 for finite v, NaN otherwise
                for t in range(T):
                    for b in range(B):
                        for kk in range(Kb):
                            v = np.float64(vals[t, b, p0 + kk])
                            fin = (v - v) == 0.0
                            yz[t, b, kk] = v if fin else 0.0
                            mz[t, kk] = mz[t, kk] if fin else 0.0
                for t in range(T):
                    for b in range(B):
                        for kk in range(Kb):
                            yz[t, b, kk] = yz[t, b, kk] * mz[t, kk]
                for t in range(n_split):
                    for i in range(P):
                        for j in range(i + 1):
                            xij = X[t, i] * X[t, j]
                            for kk in range(Kb):
                                Gb[i, j, kk] += xij * mz[t, kk]
                        xi = X[t, i]
                        for b in range(B):
                            for kk in range(Kb):
                                Rb[i, b, kk] += xi * yz[t, b, kk]
                for kk in range(Kb):
                    cnt = 0.0
                    for t in range(n_split):
                        cnt += mz[t, kk]
                    if cnt < max(P, min_hist):
                        continue
                    for i in range(P):
                        for j in range(i + 1):
                            G[i, j] = Gb[i, j, kk]
                            G[j, i] = Gb[i, j, kk]
                        for b in range(B):
                            R[i, b] = Rb[i, b, kk]
                    if _cholesky_solve(G, R, L, beta, P, B):
                        okb[kk] = True
                        for i in range(P):
                            for b in range(B):
                                betab[i, b, kk] = beta[i, b]
                for t in range(T):
                    for b in range(B):
                        for kk in range(Kb):
                            resb[t, b, kk] = yz[t, b, kk]
                        for i in range(P):
                            xi = X[t, i]
                            for kk in range(Kb):
                                resb[t, b, kk] -= xi * betab[i, b, kk]
                yb = yz  # the block's series (zeros where missing; only valid ones are read)
            else:
                # the block's series as float64, same layout as the input (contiguous copy)
                yb = ybuf
                for t in range(T):
                    for b in range(B):
                        for kk in range(Kb):
                            yb[t, b, kk] = vals[t, b, p0 + kk]
            for pix in range(p0, p1):
                kp = pix - p0
                flag[pix] = 0
                date_idx[pix] = -1
                stat[pix] = 0.0
                for b in range(B):
                    mag[b, pix] = 0.0
                    rmse_out[b, pix] = np.nan
                # 1. valid observations
                nv = 0
                nh = 0
                for t in range(T):
                    if dense:
                        ok = mz[t, kp] > 0.0
                    else:
                        ok = True
                        for b in range(B):
                            if not math.isfinite(yb[t, b, kp]):
                                ok = False
                                break
                    if ok:
                        vidx[nv] = t
                        nv += 1
                        if t < n_split:
                            nh += 1
                # 2. stable history
                start = 0
                if roc and nh >= min_hist:
                    start = _roc_start(
                        yb, kp, X, vidx, nh, P, B, roc_crit, roc_robust, G, R, L, beta, Pm, xv,
                        pv, buf, score,
                    )
                for q in range(nv):
                    keep[q] = True
                    dropped[q] = 0
                if roc:
                    # COLD-style head check: the oldest observations after the ROC start may
                    # still belong to the change; predict them from a model of the rest and
                    # drop them while they are anomalous
                    m = min(HEAD_TRIM, nh - start - min_hist)
                    if m > 0:
                        for q in range(start, start + m):
                            keep[q] = False
                        n_used = _fit(yb, kp, X, vidx, start, nh, keep, G, R, L, beta, P, B)
                        for q in range(start, start + m):
                            keep[q] = True
                        if n_used > 0:
                            for b in range(B):
                                ss = 0.0
                                for q in range(start, nh):
                                    t = vidx[q]
                                    pred = 0.0
                                    for i in range(P):
                                        pred += X[t, i] * beta[i, b]
                                    e = yb[t, b, kp] - pred
                                    res[q, b] = e
                                    if q >= start + m:
                                        ss += e * e
                                rm[b] = max(math.sqrt(ss / max(n_used - P, 1)), floor[b])
                            first = start
                            for q in range(first, first + m):
                                s = 0.0
                                for b in range(B):
                                    z = res[q, b] / rm[b]
                                    s += weights[b] * z * z
                                if s > chi_thr:
                                    start = q + 1
                                else:
                                    break
                if nh - start < min_hist:
                    nhist[pix] = nh - start
                    status[pix] = 1
                    continue
                # 3. fit
                fresh = False
                if dense:
                    if not okb[kp]:
                        nhist[pix] = nh
                        status[pix] = 1
                        continue
                    n_used = nh
                    for i in range(P):
                        for j in range(i + 1):
                            G[i, j] = Gb[i, j, kp]
                            G[j, i] = Gb[i, j, kp]
                        for b in range(B):
                            R[i, b] = Rb[i, b, kp]
                            beta[i, b] = betab[i, b, kp]
                    _cholesky_solve(G, R, L, xv2, P, B)  # refresh L (used for leverages)
                    for q in range(nv):
                        t = vidx[q]
                        for b in range(B):
                            res[q, b] = resb[t, b, kp]
                    fresh = True
                else:
                    n_used = _fit(yb, kp, X, vidx, start, nh, keep, G, R, L, beta, P, B)
                    if n_used < 0:
                        nhist[pix] = nh - start
                        status[pix] = 1
                        continue
                if screen:
                    # Tmask-like screening: score the kept history observations against the
                    # current fit, drop the outliers and refit, up to SCREEN_PASSES times
                    for ps in range(1, SCREEN_PASSES + 1):
                        if not fresh:
                            _residuals(yb, kp, X, vidx, start, nv, beta, res, P, B)
                        for b in range(B):
                            ss = 0.0
                            for q in range(start, nh):
                                if keep[q]:
                                    ss += res[q, b] * res[q, b]
                            rm[b] = max(math.sqrt(ss / max(n_used - P, 1)), floor[b])
                        fresh = True
                        for b in range(B):
                            wr[b] = weights[b] / (rm[b] * rm[b])
                        n_drop = 0
                        for q in range(start, nh):
                            if not keep[q]:
                                continue
                            s = 0.0
                            for b in range(B):
                                s += wr[b] * res[q, b] * res[q, b]
                            if s > screen_thr:
                                n_drop += 1
                                dropped[q] = ps
                        if n_drop == 0 or n_used - n_drop < min_hist:
                            for q in range(start, nh):
                                if dropped[q] == ps:
                                    dropped[q] = 0
                            break
                        for q in range(start, nh):
                            if dropped[q] == ps:
                                keep[q] = False
                        n2 = _fit(yb, kp, X, vidx, start, nh, keep, G, R, L, beta, P, B)
                        fresh = False
                        if n2 < 0:
                            # undo this pass and restore the previous fit
                            for q in range(start, nh):
                                if dropped[q] == ps:
                                    dropped[q] = 0
                                    keep[q] = True
                            n_used = _fit(yb, kp, X, vidx, start, nh, keep, G, R, L, beta, P, B)
                            break
                        n_used = n2
                nhist[pix] = n_used
                # residuals of all valid positions from `start` (unless the screening's are current)
                if not fresh:
                    _residuals(yb, kp, X, vidx, start, nv, beta, res, P, B)
                dof = max(n_used - P, 1)
                for b in range(B):
                    ss = 0.0
                    for q in range(start, nh):
                        if keep[q]:
                            ss += res[q, b] * res[q, b]
                    r = math.sqrt(ss / dof)
                    rmse_out[b, pix] = r
                    rm[b] = max(r, floor[b])
                if nv == nh:
                    status[pix] = 2
                    continue
                status[pix] = 0
                if method == METHOD_COLD:
                    # Pm <- L^-1 (lower triangular), so x'(X'X)^-1 x = |L^-1 x|^2
                    for c in range(P):
                        for i in range(P):
                            if i < c:
                                Pm[i, c] = 0.0
                            else:
                                s = 1.0 if i == c else 0.0
                                for k in range(c, i):
                                    s -= L[i, k] * Pm[k, c]
                                Pm[i, c] = s / L[i, i]
                    for b in range(B):
                        wr[b] = weights[b] / (rm[b] * rm[b])
                    for q in range(nh, nv):
                        # prediction variance factor 1 + x' (X'X)^-1 x
                        t = vidx[q]
                        lev = 0.0
                        for i in range(P):
                            s = 0.0
                            for k in range(i + 1):
                                s += Pm[i, k] * X[t, k]
                            lev += s * s
                        s = 0.0
                        for b in range(B):
                            s += wr[b] * res[q, b] * res[q, b]
                        score[q] = s / (1.0 + lev)
                    run = 0
                    first = -1
                    for q in range(nh, nv):
                        if score[q] > chi_thr:
                            run += 1
                            if run >= consecutive:
                                first = q - consecutive + 1
                                break
                        else:
                            run = 0
                    if first >= 0:
                        flag[pix] = 1
                        date_idx[pix] = vidx[first]
                        smin = score[first]
                        for q in range(first, first + consecutive):
                            if score[q] < smin:
                                smin = score[q]
                        stat[pix] = smin
                        for b in range(B):
                            for q in range(consecutive):
                                buf[q] = res[first + q, b]
                            mag[b, pix] = _median(buf, consecutive)
                    else:
                        # strongest window of `consecutive` (or fewer, at the end) observations
                        best = 0.0
                        w = min(consecutive, nv - nh)
                        qbest = nh
                        for q in range(nh, nv - w + 1):
                            smin = score[q]
                            for r in range(q, q + w):
                                if score[r] < smin:
                                    smin = score[r]
                            if smin > best:
                                best = smin
                                qbest = q
                        stat[pix] = best
                        for b in range(B):
                            for q in range(w):
                                buf[q] = res[qbest + q, b]
                            mag[b, pix] = _median(buf, w)
                else:
                    ns = nh - start
                    h = int(ns * hfrac)
                    if h < 1:
                        h = 1
                    bq = nv
                    best = 0.0
                    for b in range(B):
                        ss = 0.0
                        for q in range(start, nh):
                            ss += res[q, b] * res[q, b]
                        sg = math.sqrt(ss / max(ns - P, 1))
                        if sg < floor[b]:
                            sg = floor[b]
                        sig[b] = sg
                        if not sg > 0.0:
                            continue
                        scale = 1.0 / (sg * math.sqrt(ns))
                        # window sum of the h residuals ending at position q
                        wsum = 0.0
                        for q in range(nh - h, nh):
                            wsum += res[q, b]
                        for q in range(nh, nv):
                            wsum += res[q, b] - res[q - h, b]
                            ratio = abs(wsum * scale) / bound[vidx[q]]
                            if ratio > best:
                                best = ratio
                            if ratio > 1.0 and q < bq:
                                bq = q
                    stat[pix] = best
                    if bq < nv:
                        flag[pix] = 1
                        date_idx[pix] = vidx[bq]
                        q0 = bq
                    else:
                        q0 = nh
                    for b in range(B):
                        n = 0
                        for q in range(q0, nv):
                            buf[n] = res[q, b]
                            n += 1
                        mag[b, pix] = _median(buf, n)


def run_cpu(
    vals: np.ndarray,
    X: np.ndarray,
    n_split: int,
    bound: np.ndarray,
    *,
    method: int,
    consecutive: int,
    chi_thr: float,
    screen: bool,
    screen_thr: float,
    roc: bool,
    roc_crit: float,
    roc_robust: bool,
    min_hist: int,
    hfrac: float,
    floor: np.ndarray,
    weights: np.ndarray,
) -> dict[str, np.ndarray]:
    """Run :func:`detect_kernel` on ``vals`` of shape (T, B, N); returns flat outputs."""
    T, B, N = vals.shape
    out = {
        "flag": np.empty(N, np.uint8),
        "date_idx": np.empty(N, np.int32),
        "mag": np.empty((B, N), np.float32),
        "stat": np.empty(N, np.float64),
        "rmse": np.empty((B, N), np.float32),
        "nhist": np.empty(N, np.int16),
        "status": np.empty(N, np.uint8),
    }
    detect_kernel(
        vals,
        X,
        n_split,
        bound,
        method,
        consecutive,
        chi_thr,
        screen,
        screen_thr,
        roc,
        roc_crit,
        roc_robust,
        min_hist,
        hfrac,
        floor,
        weights,
        out["flag"],
        out["date_idx"],
        out["mag"],
        out["stat"],
        out["rmse"],
        out["nhist"],
        out["status"],
    )
    return out
