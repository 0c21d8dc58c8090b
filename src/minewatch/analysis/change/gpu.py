"""GPU backend: the same algorithm as :mod:`.cpu`, vectorised over pixels in PyTorch.

Pixels are processed in chunks (``chunk_pixels``) so device memory stays bounded; each
chunk is copied to the device, solved with batched tensor operations (float64, the same
Cholesky pivot rule as the CPU kernel) and copied back. Loops run over time steps or
model coefficients, never over pixels. On a machine without CUDA the same code runs on
the CPU device, which is how the tests check CPU/GPU agreement.
"""

from __future__ import annotations

import numpy as np

METHOD_COLD = 0
HEAD_TRIM = 8  # as in cpu.HEAD_TRIM
SCREEN_PASSES = 3  # as in cpu.SCREEN_PASSES


def _chol_solve(G, R):
    """Batched Cholesky solve of ``G beta = R`` with the CPU kernel's pivot rule.

    G: (n, P, P), R: (n, P, B). Returns (beta (n, P, B), ok (n,) bool, L (n, P, P)).
    """
    import torch

    n, P, _ = G.shape
    L = torch.zeros_like(G)
    ok = torch.ones(n, dtype=torch.bool, device=G.device)
    for i in range(P):
        for j in range(i + 1):
            s = G[:, i, j] - (L[:, i, :j] * L[:, j, :j]).sum(-1)
            if i == j:
                good = s > 1e-12 * torch.clamp(G[:, i, i], min=1e-300)
                ok &= good
                L[:, i, i] = torch.sqrt(torch.where(good, s, torch.ones_like(s)))
            else:
                L[:, i, j] = s / L[:, j, j]
    B = R.shape[2]
    z = torch.zeros_like(R)
    for i in range(P):
        s = R[:, i, :] - (L[:, i, :i, None] * z[:, :i, :]).sum(1)
        z[:, i, :] = s / L[:, i, i, None]
    beta = torch.zeros_like(R)
    for i in range(P - 1, -1, -1):
        s = z[:, i, :] - (L[:, i + 1 :, i, None] * beta[:, i + 1 :, :]).sum(1)
        beta[:, i, :] = s / L[:, i, i, None]
    del B
    return beta, ok, L


def _masked_median(x, m):
    """Median along dim 0 of ``x`` (T, ..., n) over entries where ``m`` (T, n) is True.

    Mean of the two middle values for even counts; NaN where there is none.
    """
    import torch

    mm = m.reshape(m.shape[0], *([1] * (x.dim() - 2)), m.shape[-1]).expand_as(x)
    xs = torch.where(mm, x, torch.full_like(x, float("inf")))
    xs, _ = torch.sort(xs, dim=0)
    cnt = mm.sum(0)
    lo = torch.clamp((cnt - 1) // 2, min=0)
    hi = torch.clamp(cnt // 2, min=0)
    a = torch.gather(xs, 0, lo.unsqueeze(0)).squeeze(0)
    b = torch.gather(xs, 0, hi.unsqueeze(0)).squeeze(0)
    med = 0.5 * (a + b)
    return torch.where(cnt > 0, med, torch.full_like(med, float("nan")))


def _roc_start(y, valid_h, nh, X, P, crit, robust):
    """Batched reverse-ordered Rec-CUSUM start position (see ``cpu._roc_start``).

    y: (T, B, n) values, valid_h: (T, n) valid history mask, nh: (n,) history counts.
    Returns start (n,) as a position among the valid history observations.
    """
    import torch

    T, B, n = y.shape
    dev, dt = y.device, y.dtype
    # compact history observations in reverse order: rev[k] = time of k-th newest valid obs
    tt = torch.arange(T, device=dev)
    key = torch.where(valid_h, -tt[:, None], torch.full_like(valid_h, T, dtype=torch.long))
    rev_t = torch.sort(key, dim=0, stable=True).values.neg().clamp(min=0)  # (T, n)
    Xr = X[rev_t]  # (T, n, P)
    best = torch.zeros(n, dtype=torch.long, device=dev)
    ar = torch.arange(n, device=dev)
    for b in range(B):
        yr = y[rev_t, b, ar[None, :]]  # (T, n)
        # initial fit on the first r0 reversed obs, growing r0 until non-singular
        G = torch.zeros(n, P, P, dtype=dt, device=dev)
        Rv = torch.zeros(n, P, 1, dtype=dt, device=dev)
        ok = torch.zeros(n, dtype=torch.bool, device=dev)
        r0 = torch.full((n,), -1, dtype=torch.long, device=dev)
        beta = torch.zeros(n, P, 1, dtype=dt, device=dev)
        Lf = torch.zeros(n, P, P, dtype=dt, device=dev)
        for k in range(T):
            x = Xr[k]
            inc = (k < nh).to(dt)
            G = G + inc[:, None, None] * x[:, :, None] * x[:, None, :]
            Rv = Rv + (inc * yr[k])[:, None, None] * x[:, :, None]
            r = k + 1
            if r < P:
                continue
            cand = (~ok) & (r <= nh - 2)
            if not bool(cand.any()):
                if bool((ok | (r > nh - 2)).all()):
                    break
                continue
            bt, good, Lk = _chol_solve(G, Rv)
            new = cand & good
            beta = torch.where(new[:, None, None], bt, beta)
            Lf = torch.where(new[:, None, None], Lk, Lf)
            r0 = torch.where(new, torch.full_like(r0, r), r0)
            ok |= new
        # inverse of G from its Cholesky factor
        eye = torch.eye(P, dtype=dt, device=dev).expand(n, P, P)
        Lsafe = torch.where(ok[:, None, None], Lf, eye)
        Linv = torch.linalg.solve_triangular(Lsafe, eye, upper=False)
        Pm = Linv.transpose(1, 2) @ Linv
        w = torch.zeros(T, n, dtype=dt, device=dev)
        nw = torch.zeros(n, dtype=torch.long, device=dev)
        bvec = beta[:, :, 0]
        for k in range(T):
            act = ok & (k >= r0) & (k < nh)
            if not bool(act.any()):
                if k > 0 and bool((~ok | (k >= nh)).all()):
                    break
                continue
            x = Xr[k]
            pv = (Pm @ x[:, :, None])[:, :, 0]
            f = 1.0 + (x * pv).sum(1)
            e = yr[k] - (x * bvec).sum(1)
            wk = e / torch.sqrt(f)
            w[k] = torch.where(act, wk, w[k])
            nw = nw + act.long()
            a = act.to(dt)
            bvec = bvec + (a * e / f)[:, None] * pv
            Pm = Pm - (a / f)[:, None, None] * pv[:, :, None] * pv[:, None, :]
        # w holds residual j at reversed position r0 + j
        kk = torch.arange(T, device=dev)[:, None]
        inw = ok[None, :] & (kk >= r0[None, :]) & (kk < nh[None, :])
        nwf = nw.to(dt).clamp(min=1)
        mean = torch.where(inw, w, 0.0).sum(0) / nwf
        var = torch.where(inw, (w - mean) ** 2, 0.0).sum(0) / (nwf - 1).clamp(min=1)
        sd = torch.sqrt(var)
        if robust:
            med = _masked_median(w, inw)
            sd = 1.4826 * _masked_median((w - med[None, :]).abs(), inw)
        usable = ok & (nw >= 2) & (sd > 0)
        cs = torch.cumsum(torch.where(inw, w, 0.0), 0)
        j1 = (kk - r0[None, :] + 1).to(dt)  # 1-based residual count
        proc = cs / (sd * torch.sqrt(nwf))[None, :]
        cross = inw & (proc.abs() > crit * (1.0 + 2.0 * j1 / nwf[None, :]))
        anyc = cross.any(0) & usable
        first_k = torch.argmax(cross.to(torch.int8), 0)  # reversed position of crossing
        start = nh - 1 - first_k + 1
        best = torch.where(anyc & (start > best), start, best)
    return best


def run_torch(
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
    device: str = "cuda",
    chunk_pixels: int | None = None,
) -> dict[str, np.ndarray]:
    """Torch counterpart of :func:`minewatch.analysis.change.cpu.run_cpu`."""
    import torch

    T, B, N = vals.shape
    if chunk_pixels is None:
        chunk_pixels = 262144 if device.startswith("cuda") else 16384
    out = {
        "flag": np.zeros(N, np.uint8),
        "date_idx": np.full(N, -1, np.int32),
        "mag": np.zeros((B, N), np.float32),
        "stat": np.zeros(N, np.float64),
        "rmse": np.full((B, N), np.nan, np.float32),
        "nhist": np.zeros(N, np.int16),
        "status": np.zeros(N, np.uint8),
    }
    dev = torch.device(device)
    dt = torch.float64
    Xd = torch.as_tensor(X, dtype=dt, device=dev)
    boundd = torch.as_tensor(bound, dtype=dt, device=dev)
    floord = torch.as_tensor(floor, dtype=dt, device=dev)
    wd = torch.as_tensor(weights, dtype=dt, device=dev)
    for p0 in range(0, N, chunk_pixels):
        p1 = min(N, p0 + chunk_pixels)
        block = torch.from_numpy(np.ascontiguousarray(vals[:, :, p0:p1]))
        if dev.type == "cuda":
            block = block.pin_memory().to(dev, non_blocking=True)
        res = _run_chunk(
            block.to(dt), Xd, n_split, boundd, method, consecutive, chi_thr, screen,
            screen_thr, roc, roc_crit, roc_robust, min_hist, hfrac, floord, wd,
        )
        for k, v in res.items():
            arr = v.cpu().numpy()
            if arr.ndim == 2:
                out[k][:, p0:p1] = arr
            else:
                out[k][p0:p1] = arr
    return out


def _run_chunk(y, X, n_split, bound, method, c, chi_thr, screen, screen_thr, roc, roc_crit,
               roc_robust, min_hist, hfrac, floor, wts):
    import torch

    T, B, n = y.shape
    P = X.shape[1]
    dev, dt = y.device, y.dtype
    tt = torch.arange(T, device=dev)
    valid = torch.isfinite(y).all(1)  # (T, n)
    y = torch.where(torch.isfinite(y), y, torch.zeros_like(y))
    hist = tt[:, None] < n_split
    nh = (valid & hist).sum(0)
    nv = valid.sum(0)
    # position of each observation among the valid ones (0-based)
    pos = torch.cumsum(valid.long(), 0) - 1
    start = torch.zeros(n, dtype=torch.long, device=dev)

    def fit(mask):
        m = mask.to(dt)
        G = torch.einsum("tn,tp,tq->npq", m, X, X)
        R = torch.einsum("tn,tbn,tp->npb", m, y, X)
        beta, ok, L = _chol_solve(G, R)
        cnt = mask.sum(0)
        return beta, ok & (cnt >= P), cnt, L

    def resid(beta):
        pred = torch.einsum("tp,npb->tbn", X, beta)
        return y - pred

    if roc:
        start = _roc_start(y, valid & hist, nh, X, P, roc_crit, roc_robust)
        start = torch.where(nh >= min_hist, start, torch.zeros_like(start))
        # head check (see cpu.detect_kernel): fit without the m oldest kept observations,
        # then drop them from the front while they are anomalous
        m = torch.clamp(nh - start - min_hist, max=HEAD_TRIM)
        act = m > 0
        head = valid & hist & (pos >= start[None, :]) & (pos < (start + m)[None, :])
        rest = valid & hist & (pos >= (start + m)[None, :])
        beta_h, ok_h, n_h, _ = fit(rest)
        # the CPU kernel counts every fit with >= 1 observation as usable when it factorises
        act = act & ok_h & (n_h > 0)
        r_h = resid(beta_h)
        ss = torch.where(rest[:, None, :], r_h * r_h, 0.0).sum(0)
        rm_h = torch.maximum(torch.sqrt(ss / (n_h - P).clamp(min=1)), floor[:, None])
        sc_h = ((r_h / rm_h[None]) ** 2 * wts[None, :, None]).sum(1)  # (T, n)
        anom = head & (sc_h > chi_thr)
        # leading run of anomalous head observations, in position order
        run_ok = torch.ones(n, dtype=torch.bool, device=dev)
        new_start = start.clone()
        for t in range(T):
            h_t = head[t] & act
            a_t = anom[t]
            run_ok = run_ok & ~(h_t & ~a_t)
            new_start = torch.where(h_t & a_t & run_ok, pos[t] + 1, new_start)
        start = torch.where(act, new_start, start)
    enough = (nh - start) >= min_hist
    used = valid & hist & (pos >= start[None, :])  # (T, n)

    beta, ok, n_used, Lf = fit(used)
    if screen:
        active = ok.clone()
        for _ in range(SCREEN_PASSES):
            r = resid(beta)
            ss = torch.where(used[:, None, :], r * r, 0.0).sum(0)  # (B, n)
            rm = torch.maximum(torch.sqrt(ss / (n_used - P).clamp(min=1)), floor[:, None])
            sc = ((r / rm[None]) ** 2 * wts[None, :, None]).sum(1)  # (T, n)
            drop = used & (sc > screen_thr)
            n_drop = drop.sum(0)
            cand = active & (n_drop > 0) & (n_used - n_drop >= min_hist)
            if not bool(cand.any()):
                break
            used2 = used & ~(drop & cand[None, :])
            beta2, ok2, n2, L2 = fit(used2)
            take = cand & ok2
            beta = torch.where(take[:, None, None], beta2, beta)
            Lf = torch.where(take[:, None, None], L2, Lf)
            used = torch.where(take[None, :], used2, used)
            n_used = torch.where(take, n2, n_used)
            active = take
    ok = ok & enough
    r = resid(beta)  # (T, B, n)
    dof = (n_used - P).clamp(min=1).to(dt)
    ss = torch.where(used[:, None, :], r * r, 0.0).sum(0)
    rmse = torch.sqrt(ss / dof[None, :])  # (B, n)
    rm = torch.maximum(rmse, floor[:, None])
    nm = nv - nh
    status = torch.where(ok, torch.where(nm > 0, 0, 2), 1).to(torch.uint8)
    nhist = torch.where(ok, n_used, nh - start).to(torch.int16)
    rmse_out = torch.where(ok[None, :], rmse, torch.full_like(rmse, float("nan")))
    test = status == 0
    mon = valid & ~hist  # (T, n)
    flag = torch.zeros(n, dtype=torch.bool, device=dev)
    date_idx = torch.full((n,), -1, dtype=torch.long, device=dev)
    stat = torch.zeros(n, dtype=dt, device=dev)
    if method == METHOD_COLD:
        # prediction variance factor 1 + x' (X'X)^-1 x by forward substitution
        z = torch.zeros(n, P, T, dtype=dt, device=dev)
        Xt = X.T  # (P, T)
        for i in range(P):
            s_ = Xt[i][None, :] - (Lf[:, i, :i, None] * z[:, :i, :]).sum(1)
            z[:, i, :] = s_ / Lf[:, i, i, None]
        lev = (z * z).sum(1).T  # (T, n)
        score = ((r / rm[None]) ** 2 * wts[None, :, None]).sum(1) / (1.0 + lev)  # (T, n)
        run = torch.zeros(n, dtype=torch.long, device=dev)
        st = torch.zeros(n, dtype=torch.long, device=dev)
        end = torch.full((n,), -1, dtype=torch.long, device=dev)
        ring = torch.full((c, n), float("inf"), dtype=dt, device=dev)
        cnt = torch.zeros(n, dtype=torch.long, device=dev)
        best = torch.zeros(n, dtype=dt, device=dev)
        best_end = torch.full((n,), -1, dtype=torch.long, device=dev)  # pos of window end
        for t in range(n_split, T):
            v = mon[t]
            ex = v & (score[t] > chi_thr)
            run = torch.where(v, torch.where(ex, run + 1, 0), run)
            st = torch.where(ex & (run == 1) & (end < 0), torch.full_like(st, t), st)
            newb = (end < 0) & (run >= c) & v
            end = torch.where(newb, torch.full_like(end, t), end)
            ring = torch.where(v[None, :], torch.cat([ring[1:], score[t][None]], 0), ring)
            cnt = cnt + v.long()
            wmin = ring.min(0).values
            better = v & (cnt >= c) & (wmin > best)
            best = torch.where(better, wmin, best)
            best_end = torch.where(better, pos[t], best_end)
        # pixels with fewer than c monitoring observations: one window of all of them
        short = (nm < c) & (nm > 0)
        allmin = torch.where(mon, score, torch.full_like(score, float("inf"))).min(0).values
        best = torch.where(short, allmin, best)
        found = (end >= 0) & test
        conf_mask = mon & (tt[:, None] >= st[None, :]) & (tt[:, None] <= end[None, :])
        conf_mask = conf_mask & found[None, :]
        smin = torch.where(conf_mask, score, torch.full_like(score, float("inf"))).min(0).values
        stat = torch.where(found, smin, best)
        flag = found
        date_idx = torch.where(found, st, date_idx)
        # no break: the strongest window (the first one when none scores above 0; all
        # monitoring observations when there are fewer than c)
        w = torch.clamp(nm, max=c)
        first_end = nh + w - 1
        best_end = torch.where(best_end < 0, first_end, best_end)
        win = mon & (pos > (best_end - w)[None, :]) & (pos <= best_end[None, :])
        mag_mask = torch.where(found[None, :], conf_mask, win)
        mag = _masked_median(r, mag_mask)  # (B, n)
    else:
        ns = (nh - start).clamp(min=1)
        h = torch.clamp((ns.to(dt) * hfrac).long(), min=1)
        sig = torch.sqrt(
            torch.where(used[:, None, :], r * r, 0.0).sum(0) / (ns - P).clamp(min=1)[None, :]
        )
        sig = torch.maximum(sig, floor[:, None])  # (B, n)
        seq = valid & (pos >= start[None, :])  # history used + monitoring
        cs = torch.cumsum(torch.where(seq[:, None, :], r, 0.0), 0)  # (T, B, n)
        k = torch.cumsum(seq.long(), 0)  # number of seq obs up to t
        CS = torch.zeros(T + 1, B, n, dtype=dt, device=dev)
        idx = torch.where(seq, k, torch.zeros_like(k))  # scatter target row
        CS.scatter_(0, idx[:, None, :].expand(T, B, n), torch.where(seq[:, None, :], cs, 0.0))
        CS[0] = 0.0
        back = (k - h[None, :]).clamp(min=0)
        prev = torch.gather(CS, 0, back[:, None, :].expand(T, B, n))
        wsum = cs - prev
        scale = 1.0 / (sig * torch.sqrt(ns.to(dt))[None, :])
        ratio = (wsum * scale[None]).abs() / bound[:, None, None]
        okb = (sig > 0)[None] & mon[:, None, :]
        ratio = torch.where(okb, ratio, 0.0)
        best = ratio.amax(dim=(0, 1))
        cross = (ratio > 1.0).any(1) & mon  # (T, n)
        found = cross.any(0) & test
        first_t = torch.argmax(cross.to(torch.int8), 0)
        flag = found
        date_idx = torch.where(found, first_t, date_idx)
        stat = best
        q0 = torch.where(found, first_t, torch.full_like(first_t, n_split))
        mag = _masked_median(r, mon & (tt[:, None] >= q0[None, :]))
    stat = torch.where(test, stat, torch.zeros_like(stat))
    mag = torch.where(test[None, :], mag, torch.zeros_like(mag))
    return {
        "flag": flag.to(torch.uint8),
        "date_idx": date_idx.to(torch.int32),
        "mag": mag.to(torch.float32),
        "stat": stat,
        "rmse": rmse_out.to(torch.float32),
        "nhist": nhist,
        "status": status,
    }
