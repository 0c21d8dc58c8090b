"""PyTorch backend of the persistent-change test (:mod:`.persistent_numba`), vectorised over pixels.

The same rules as the Numba kernel ``persistent_numba._kernel``, written as batched tensor
operations so that it runs on a CUDA device (or on the CPU device, which is how the tests
check agreement):

* pixels are processed in chunks of ``chunk`` pixels; each chunk is copied to the device
  as float32 and computed in float64, so device memory stays bounded whatever the tile
  size (about ``BYTES_PER_PIXEL_BAND_DATE * T * B * chunk`` bytes at the peak; by default
  the chunk fills half of the free CUDA memory, or is 65 536 pixels on the CPU);
* the per-band OLS fits are batched normal equations ``(X' W X) beta = X' W y`` with the
  per-pixel valid-history mask as weights, solved by a batched Cholesky with the Numba
  kernel's pivot rule (a pivot <= 1e-12 means "no fit");
* monitoring observations are compacted per pixel (valid ones first, in date order), the
  cheap conditions (``consecutive`` run, overall ``persistence``, ``min_post_days``) are
  evaluated for every candidate at once, and the new-state test is evaluated only for each
  pixel's current first candidate, dropping candidates that fail until a pixel has a
  change or none left. Loops run over candidates, never over pixels.
"""

from __future__ import annotations

import numpy as np
from scipy.stats import chi2

from minewatch.analysis.change.design import design_matrix
from minewatch.analysis.change.params import PersistentParams
from minewatch.analysis.change.result import PersistentResult
from minewatch.errors import BackendUnavailableError, InputError

DEFAULT_CHUNK = 65536  # pixels per batch on the CPU device
MAX_CHUNK = 1 << 20
BYTES_PER_PIXEL_BAND_DATE = 64  # peak working set, measured: ~2.4 GB for 65 536 px x 120 dates x 5 bands


def _torch():
    try:
        import torch
    except Exception as exc:  # any import failure means "no torch backend"
        raise BackendUnavailableError(
            f"the torch backend of the persistent-change test needs PyTorch, which does not import ({exc})",
            hint="pip install 'minewatch[gpu]', or use backend='cpu'",
        ) from exc
    return torch


def _chol_solve(G, R):
    """Batched Cholesky solve of ``G x = r`` for every band.

    G: (P, P, n), R: (P, B, n). Returns (x (P, B, n), ok (n,) bool); ``ok`` is False where
    a pivot is <= 1e-12 (the Numba ``_solve`` rule); ``x`` is meaningless there.
    """
    torch = _torch()
    P = G.shape[0]
    L = torch.zeros_like(G)
    ok = torch.ones(G.shape[2], dtype=torch.bool, device=G.device)
    for j in range(P):
        s = G[j, j] - (L[j, :j] * L[j, :j]).sum(0)
        good = s > 1e-12
        ok &= good
        d = torch.sqrt(torch.where(good, s, torch.ones_like(s)))
        L[j, j] = d
        for i in range(j + 1, P):
            L[i, j] = (G[i, j] - (L[i, :j] * L[j, :j]).sum(0)) / d
    z = torch.zeros_like(R)
    for i in range(P):
        z[i] = (R[i] - (L[i, :i, None] * z[:i]).sum(0)) / L[i, i][None]
    x = torch.zeros_like(R)
    for i in range(P - 1, -1, -1):
        x[i] = (z[i] - (L[i + 1:, i, None] * x[i + 1:]).sum(0)) / L[i, i][None]
    return x, ok


def _bsum(x):
    """Sum over the band axis (dim 1) in band order, as the Numba kernel adds (and faster than
    a strided reduction over a short axis on the CPU)."""
    acc = x[:, 0].clone()
    for b in range(1, x.shape[1]):
        acc += x[:, b]
    return acc


def _predict(X, beta):
    """``X @ beta`` per pixel and band: X (T, P), beta (P, B, n) -> (T, B, n)."""
    P, B, n = beta.shape
    return (X @ beta.reshape(P, B * n)).reshape(X.shape[0], B, n)


def _fit(Xh, yh, w, P):
    """Batched OLS per band over the history rows weighted by ``w`` (0/1).

    Xh: (Th, P), yh: (Th, B, n) with 0 where missing, w: (Th, n) float64.
    Returns beta (P, B, n), rmse (B, n), cnt (n,) int64, ok (n,) bool (enough rows and solved).
    """
    torch = _torch()
    Th, B, n = yh.shape
    cnt = w.sum(0).round().long()
    XX = (Xh[:, :, None] * Xh[:, None, :]).reshape(Th, P * P)
    G = (XX.T @ w).reshape(P, P, n)
    yw = yh * w[:, None, :]
    R = (Xh.T @ yw.reshape(Th, B * n)).reshape(P, B, n)
    beta, solved = _chol_solve(G, R)
    enough = cnt >= P + 1
    ok = enough & solved
    beta = torch.where(ok[None, None, :], beta, torch.zeros_like(beta))
    e = (yh - _predict(Xh, beta)) * w[:, None, :]
    ss = (e * e).sum(0)
    rmse = torch.sqrt(ss / torch.clamp(cnt - P, min=1).to(ss.dtype))
    rmse = torch.where(ok[None, :], rmse, torch.zeros_like(rmse))
    return beta, rmse, cnt, ok


def _run_chunk(y, c):
    """All outputs for one chunk ``y`` (T, B, n) float64 on the device (NaN = missing)."""
    torch = _torch()
    dev, f64 = y.device, y.dtype
    _, B, n = y.shape
    P = c["P"]
    valid = ~torch.isnan(y).any(1)  # (T, n): as the Numba kernel, NaN in any band = missing
    y0 = y.masked_fill_(~valid[:, None, :], 0.0)  # in place: the caller's chunk is ours
    floor = c["floor"][:, None]  # (B, 1)

    out_date = torch.zeros(n, dtype=torch.int64, device=dev)
    out_conf = torch.zeros(n, dtype=f64, device=dev)
    out_mag = torch.zeros((B, n), dtype=f64, device=dev)
    out_postq = torch.full((B, n), float("nan"), dtype=f64, device=dev)

    # --- history fit, one screening pass, refit ------------------------------------------
    hi = c["hist_idx"]
    if hi.numel() == 0:
        cnt = torch.zeros(n, dtype=torch.int64, device=dev)
        rmse = torch.zeros((B, n), dtype=f64, device=dev)
        return out_date, out_conf, out_mag, out_postq, rmse, cnt
    Xh = c["X"][hi]
    yh = y0[hi]
    hv = valid[hi]
    w1 = hv.to(f64)
    beta1, rmse1, cnt0, ok1 = _fit(Xh, yh, w1, P)
    # _fit returns the count when too few rows, 0 when the solve fails
    cnt1 = torch.where(cnt0 < P + 1, cnt0, torch.where(ok1, cnt0, torch.zeros_like(cnt0)))
    min_hist = c["min_hist"]
    screen = cnt1 >= min_hist
    e = yh - _predict(Xh, beta1)
    den1 = torch.maximum(rmse1, floor)
    s = _bsum((e / den1[None]) ** 2)  # (Th, n)
    drop = hv & (s > c["q_screen"])
    dropped = drop.sum(0)
    refit = screen & (dropped > 0) & (cnt1 - dropped >= min_hist)
    beta, rmse, cnt = beta1, rmse1, cnt1
    if bool(refit.any()):
        beta2, rmse2, cnt2, ok2 = _fit(Xh, yh, (hv & ~drop).to(f64), P)
        use2 = refit & ok2
        beta = torch.where(use2[None, None, :], beta2, beta1)
        rmse = torch.where(use2[None, :], rmse2, rmse1)
        cnt = torch.where(use2, cnt2, torch.where(refit, torch.zeros_like(cnt1), cnt1))

    # --- monitoring observations, compacted per pixel -------------------------------------
    mi = c["mon_idx"]
    Tm = mi.numel()
    if Tm == 0:
        return out_date, out_conf, out_mag, out_postq, rmse, cnt
    mv = valid[mi]  # (Tm, n)
    m = mv.sum(0)
    active = (cnt >= min_hist) & (m >= c["consecutive"])
    if not bool(active.any()):
        return out_date, out_conf, out_mag, out_postq, rmse, cnt
    ar = torch.arange(Tm, device=dev)[:, None]
    key = torch.where(mv, ar, ar + Tm)
    order = torch.argsort(key, dim=0)
    M = int(m.max())
    order = order[:M]  # (M, n): time positions (within mi) of each pixel's valid obs
    tpos = mi[order]  # (M, n) time indices
    ym = torch.gather(y0, 0, tpos[:, None, :].expand(M, B, n))  # (M, B, n)
    dm = c["days"][tpos]  # (M, n) int64
    fit_m = _predict(c["X"][mi], beta)  # (Tm, B, n) model on the monitoring dates
    res = ym - torch.gather(fit_m, 0, order[:, None, :].expand(M, B, n))
    del fit_m
    den = torch.maximum(rmse, floor)
    zs = res / den[None]
    score = _bsum(zs * zs)  # (M, n)
    jj = torch.arange(M, device=dev)[:, None]
    inm = jj < m[None, :]
    an = (score > c["q"]) & inm
    cs = torch.cat([torch.zeros((1, n), dtype=torch.int64, device=dev), torch.cumsum(an.long(), 0)])
    C = c["consecutive"]
    run = torch.zeros((M, n), dtype=torch.bool, device=dev)
    if M >= C:
        run[: M - C + 1] = (cs[C:] - cs[: M - C + 1]) == C
    suf = cs[M][None, :] - cs[:M]
    rem = (m[None, :] - jj)
    last_day = torch.gather(dm, 0, torch.clamp(m - 1, min=0)[None, :]).squeeze(0)
    span_ok = (last_day[None, :] - dm) >= c["min_post_days"]
    cand = (active[None, :] & (jj <= (m - C)[None, :]) & span_ok & run
            & (suf.to(f64) / torch.clamp(rem, min=1).to(f64) >= c["persistence"]))

    E = c["early_window"]
    je = torch.arange(E, device=dev)[:, None]
    idx = torch.nonzero(cand.any(0)).squeeze(1)
    found_idx = []
    found_k = []
    found_conf = []
    while idx.numel() > 0:
        csub = cand[:, idx]
        k = torch.argmax(csub.to(torch.uint8), dim=0)  # first candidate
        msub = m[idx]
        zsub = zs[:, :, idx]  # (M, B, np)
        npx = idx.numel()
        w = torch.clamp(msub - k, max=E)
        pos = torch.clamp(k[None, :] + je, max=M - 1)  # (E, np)
        win = torch.gather(zsub, 0, pos[:, None, :].expand(E, B, npx))
        win = torch.where((je < w[None, :])[:, None, :], win, torch.full_like(win, float("inf")))
        srt, _ = torch.sort(win, dim=0)
        hi_i = (w // 2)[None, None, :].expand(1, B, npx)
        lo_i = torch.clamp(w // 2 - 1, min=0)[None, None, :].expand(1, B, npx)
        a = torch.gather(srt, 0, hi_i).squeeze(0)
        b = torch.gather(srt, 0, lo_i).squeeze(0)
        state = torch.where((w % 2 == 1)[None, :], a, 0.5 * (b + a))  # (B, np)
        d_new = _bsum((zsub - state[None]) ** 2)
        d_old = _bsum(zsub * zsub)
        near = (d_new < d_old) & (jj >= k[None, :]) & (jj < msub[None, :])
        in_all = near.sum(0)
        in_early = (near & (jj < (k + w)[None, :])).sum(0)
        wf = w.to(f64)
        rest = (msub - k).to(f64)
        ok = ~((in_early.to(f64) / wf < c["early_share"]) | (in_all.to(f64) / rest < c["persistence"]))
        if bool(ok.any()):
            found_idx.append(idx[ok])
            found_k.append(k[ok])
            found_conf.append(in_all[ok].to(f64) / rest[ok])
        bad = ~ok
        idx = idx[bad]
        if idx.numel() == 0:
            break
        cand[k[bad], idx] = False
        idx = idx[cand[:, idx].any(0)]

    if found_idx:
        fi = torch.cat(found_idx)
        fk = torch.cat(found_k)
        fm = m[fi]
        out_date[fi] = dm[fk, fi]
        out_conf[fi] = torch.cat(found_conf)
        seg = (jj >= fk[None, :]) & (jj < fm[None, :])  # (M, nf)
        inf = torch.tensor(float("inf"), dtype=f64, device=dev)
        rs, _ = torch.sort(torch.where(seg[:, None, :], res[:, :, fi], inf), dim=0)
        vs, _ = torch.sort(torch.where(seg[:, None, :], ym[:, :, fi], inf), dim=0)
        nf = fi.numel()
        mid = ((fm - fk) // 2)[None, None, :].expand(1, B, nf)
        qi = torch.floor(c["post_quantile"] * (fm - fk - 1).to(f64)).long()
        qi = qi[None, None, :].expand(1, B, nf)
        out_mag[:, fi] = torch.gather(rs, 0, mid).squeeze(0)
        out_postq[:, fi] = torch.gather(vs, 0, qi).squeeze(0)
    return out_date, out_conf, out_mag, out_postq, rmse, cnt


def auto_chunk(dev, T: int, B: int) -> int:
    """Pixels per batch: half the free memory of a CUDA device (4096 .. 2**20), else DEFAULT_CHUNK."""
    if dev.type != "cuda":
        return DEFAULT_CHUNK
    torch = _torch()
    free, _total = torch.cuda.mem_get_info(dev)
    per_px = BYTES_PER_PIXEL_BAND_DATE * max(T, 1) * max(B, 1)
    return int(min(MAX_CHUNK, max(4096, free // 2 // per_px)))


def detect_persistent_change_torch(values: np.ndarray, days: np.ndarray, monitor_start: int, monitor_end: int,
                                   params: PersistentParams | None = None, device: str | None = None,
                                   chunk: int | None = None) -> PersistentResult:
    """The persistent-change test of :func:`.persistent_numba.detect_persistent_change_numba` in PyTorch.

    Parameters
    ----------
    values
        (T, B, H, W) float32 on the host, NaN = missing observation.
    days
        (T,) int days since 1970-01-01, increasing.
    monitor_start, monitor_end
        The monitoring period (days since 1970-01-01, both included).
    params
        :class:`~.params.PersistentParams` (defaults when None).
    device
        ``"cuda"``, ``"cpu"``, any torch device string, or None for CUDA when available
        else the CPU.
    chunk
        Pixels per device batch; the working set is about ``64 * T * B * chunk`` bytes.
        None: half of the free CUDA memory (at most 2**20 pixels), 65 536 on the CPU.

    Returns
    -------
    PersistentResult
        Same contents as the Numba backend, up to floating-point rounding.

    Raises
    ------
    BackendUnavailableError
        PyTorch does not import, or ``device="cuda"`` without a CUDA device.
    InputError
        ``values`` is not 4-D, or ``days`` does not match its time axis, or ``chunk`` < 1.
    """
    torch = _torch()
    params = params or PersistentParams()
    if device is None:
        device = "cuda" if torch.cuda.is_available() else "cpu"
    if str(device).startswith("cuda") and not torch.cuda.is_available():
        raise BackendUnavailableError("device='cuda' was requested but PyTorch sees no CUDA device",
                                      hint="use device=None or 'cpu', or backend='cpu'")
    dev = torch.device(device)
    if not isinstance(values, np.ndarray) or values.ndim != 4:
        raise InputError(f"values must be a 4-D array (time, band, y, x); got shape {getattr(values, 'shape', None)}",
                         hint="stack the bands as values[t, b, y, x]")
    if chunk is not None and int(chunk) < 1:
        raise InputError(f"chunk={chunk} must be a positive number of pixels", hint="or None for automatic")
    T, B, H, W = values.shape
    d = np.asarray(days, np.int64)
    if d.shape != (T,):
        raise InputError(f"days has shape {d.shape} but values has {T} time steps",
                         hint="pass one day number per image (axis 0 of values)")
    N = H * W
    vals = values.reshape(T, B, N)
    X = design_matrix(d, int(monitor_start), params.harmonics, params.trend, params.period_days)
    P = X.shape[1]
    f64 = torch.float64
    c = {
        "P": P,
        "X": torch.as_tensor(X, dtype=f64, device=dev),
        "days": torch.as_tensor(d, device=dev),
        "floor": torch.as_tensor(np.broadcast_to(np.asarray(params.rmse_floor, np.float64), (B,)).copy(), device=dev),
        "hist_idx": torch.as_tensor(np.nonzero(d < int(monitor_start))[0], device=dev),
        "mon_idx": torch.as_tensor(np.nonzero((d >= int(monitor_start)) & (d <= int(monitor_end)))[0], device=dev),
        "q": float(chi2.ppf(params.threshold, B)),
        "q_screen": float(chi2.ppf(params.screen_threshold, B)),
        "consecutive": int(params.consecutive),
        "early_window": int(params.early_window),
        "early_share": float(params.early_share),
        "persistence": float(params.persistence),
        "min_post_days": int(params.min_post_days),
        "min_hist": max(int(params.min_history_obs), P + 1),
        "post_quantile": float(params.post_quantile),
    }
    date = np.zeros(N, np.int32)
    conf = np.zeros(N, np.float32)
    mag = np.zeros((B, N), np.float32)
    postq = np.full((B, N), np.nan, np.float32)
    rmse = np.zeros((B, N), np.float32)
    nh = np.zeros(N, np.int16)
    pin = dev.type == "cuda"
    if chunk is None:
        chunk = auto_chunk(dev, T, B)
    with torch.no_grad():
        for n0 in range(0, N, int(chunk)):
            n1 = min(N, n0 + int(chunk))
            blk = torch.from_numpy(np.ascontiguousarray(vals[:, :, n0:n1], dtype=np.float32))
            if pin:
                blk = blk.pin_memory()
            y = blk.to(dev, non_blocking=pin).to(f64)
            o_date, o_conf, o_mag, o_postq, o_rmse, o_cnt = _run_chunk(y, c)
            date[n0:n1] = o_date.cpu().numpy()
            conf[n0:n1] = o_conf.cpu().numpy()
            mag[:, n0:n1] = o_mag.cpu().numpy()
            postq[:, n0:n1] = o_postq.cpu().numpy()
            rmse[:, n0:n1] = o_rmse.cpu().numpy()
            nh[n0:n1] = o_cnt.cpu().numpy()
    return PersistentResult(date.reshape(H, W), conf.reshape(H, W), mag.reshape(B, H, W),
                            postq.reshape(B, H, W), rmse.reshape(B, H, W), nh.reshape(H, W))
