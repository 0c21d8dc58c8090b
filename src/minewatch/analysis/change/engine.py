"""Entry point :func:`detect_breaks`: validation, backend choice, post-processing."""

from __future__ import annotations

import numpy as np
from scipy import stats

from minewatch.analysis.change.critvals import mosum_lambda
from minewatch.analysis.change.design import check_days, design_matrix, mosum_boundary
from minewatch.analysis.change.params import ROC_CRITVALS, ChangeParams
from minewatch.analysis.change.result import BreakResult
from minewatch.errors import BackendUnavailableError, DataError, InputError

BACKENDS = ("auto", "cpu", "gpu", "torch")


def torch_cuda_available() -> bool:
    """True when PyTorch imports and sees a CUDA device."""
    try:
        import torch
    except Exception:  # noqa: BLE001 - any import failure means "no GPU backend"
        return False
    try:
        return bool(torch.cuda.is_available())
    except Exception:  # noqa: BLE001
        return False


def resolve_backend(backend: str) -> str:
    """Map ``"auto"`` to ``"gpu"`` when a CUDA device is usable, else ``"cpu"``.

    Raises
    ------
    BackendUnavailableError
        ``"gpu"`` was requested but PyTorch or a CUDA device is missing.
    """
    if backend not in BACKENDS:
        raise InputError(
            f"backend={backend!r} is unknown", hint="use 'auto', 'cpu', 'gpu' or 'torch'"
        )
    if backend == "auto":
        return "gpu" if torch_cuda_available() else "cpu"
    if backend == "gpu" and not torch_cuda_available():
        raise BackendUnavailableError(
            "backend='gpu' needs PyTorch with a CUDA device, and none is available here",
            hint="install the 'gpu' extra (pip install 'minewatch[gpu]') on a machine with an "
            "NVIDIA GPU, or use backend='cpu' / 'auto'",
        )
    if backend == "torch":
        try:
            import torch  # noqa: F401
        except Exception as exc:  # noqa: BLE001
            raise BackendUnavailableError(
                f"backend='torch' needs PyTorch, which does not import here ({exc})",
                hint="pip install 'minewatch[gpu]'",
            ) from exc
    return backend


def prepare(values: np.ndarray, days: np.ndarray, monitor_start: int, params: ChangeParams):
    """Validate inputs and build everything the kernels need (shared by all backends)."""
    if not isinstance(values, np.ndarray) or values.ndim != 4:
        shape = getattr(values, "shape", None)
        raise InputError(
            f"values must be a 4-D numpy array (time, band, y, x); got shape {shape}",
            hint="stack indices as values[t, b, y, x]",
        )
    T, B, H, W = values.shape
    if B < 1:
        raise InputError("values has no band (axis 1 is empty)")
    params.validate(B)
    d = check_days(days, T)
    monitor_start = int(monitor_start)
    n_split = int(np.searchsorted(d, monitor_start, side="left"))
    if T and n_split == 0:
        raise DataError(
            f"no observation before monitor_start={monitor_start} (first day {d[0]})",
            hint="move monitor_start later or load more history",
        )
    if T and n_split == T:
        raise DataError(
            f"no observation on or after monitor_start={monitor_start} (last day {d[-1]})",
            hint="move monitor_start earlier or load the monitoring period",
        )
    vals = values if values.dtype == np.float32 else values.astype(np.float32)
    vals = np.ascontiguousarray(vals).reshape(T, B, H * W)
    X = design_matrix(d, monitor_start, params.harmonics, params.trend, params.period_days)
    if params.method == "mosum":
        lam = mosum_lambda(params.mosum_h, params.mosum_level, params.mosum_period)
        bound = mosum_boundary(d, n_split, lam)
    else:
        bound = np.ones(T, np.float64)
    kw = dict(
        method=0 if params.method == "cold" else 1,
        consecutive=int(params.consecutive),
        chi_thr=float(stats.chi2.ppf(params.threshold, B)),
        screen=bool(params.screen_outliers and params.method == "cold"),
        screen_thr=float(stats.chi2.ppf(params.screen_threshold, B)),
        roc=params.history == "roc",
        roc_crit=float(ROC_CRITVALS[params.roc_level]),
        roc_robust=bool(params.roc_robust),
        min_hist=int(params.effective_min_history()),
        hfrac=float(params.mosum_h),
        floor=params.rmse_floor_vector(B),
        weights=params.weight_vector(B),
    )
    return vals, d, n_split, X, bound, kw


def finish(
    out: dict[str, np.ndarray], d: np.ndarray, params: ChangeParams, B: int, H: int, W: int
) -> BreakResult:
    """Turn flat kernel outputs into a :class:`BreakResult`."""
    idx = out["date_idx"].astype(np.int64)
    flag = out["flag"].astype(bool) & (idx >= 0)
    date = np.where(flag, d[np.clip(idx, 0, len(d) - 1)], 0).astype(np.int32)
    stat = np.asarray(out["stat"], dtype=np.float64)
    if params.method == "cold":
        conf = stats.chi2.cdf(stat, B)
    else:
        conf = stat * stat / (1.0 + stat * stat)
    conf = np.where(out["status"] == 0, conf, 0.0)
    conf = np.clip(np.nan_to_num(conf, nan=0.0), 0.0, 1.0).astype(np.float32)
    return BreakResult(
        flag=flag.reshape(H, W),
        date=date.reshape(H, W),
        magnitude=np.asarray(out["mag"], np.float32).reshape(B, H, W),
        confidence=conf.reshape(H, W),
        rmse=np.asarray(out["rmse"], np.float32).reshape(B, H, W),
        n_history=np.asarray(out["nhist"], np.int16).reshape(H, W),
        status=np.asarray(out["status"], np.uint8).reshape(H, W),
    )


def detect_breaks(
    values: np.ndarray,
    days: np.ndarray,
    monitor_start: int,
    params: ChangeParams | None = None,
    backend: str = "auto",
) -> BreakResult:
    """Detect per-pixel breaks in a gappy multi-band time series.

    Parameters
    ----------
    values : ndarray of float32, shape (T, B, H, W)
        ``B`` indices or bands per pixel and date; NaN marks a missing observation (cloud,
        shadow, snow, no data). An observation counts only when all its bands are finite.
    days : ndarray of int64, shape (T,)
        Acquisition days since 1970-01-01, strictly increasing.
    monitor_start : int
        First day of the monitoring period: observations before it form the history.
    params : ChangeParams, optional
        Model and test settings (defaults: COLD, 2 harmonics, trend, 4 consecutive, 0.99).
    backend : {"auto", "cpu", "gpu", "torch"}
        ``"cpu"``: Numba on all cores; ``"gpu"``: PyTorch on CUDA; ``"auto"``: the GPU when
        ``torch.cuda.is_available()``, else the CPU; ``"torch"``: the PyTorch code path on
        CUDA if present, else on the CPU (for testing).

    Returns
    -------
    BreakResult

    Raises
    ------
    InputError
        Malformed arrays, dates or settings.
    DataError
        No history before, or no observation after, ``monitor_start``.
    BackendUnavailableError
        ``backend="gpu"`` without PyTorch/CUDA.
    """
    params = params or ChangeParams()
    which = resolve_backend(backend)
    if isinstance(values, np.ndarray) and values.ndim == 4 and 0 in values.shape[2:]:
        params.validate(max(values.shape[1], 1))
        return BreakResult.empty(values.shape[1], values.shape[2], values.shape[3])
    vals, d, n_split, X, bound, kw = prepare(values, days, monitor_start, params)
    T, B, H, W = values.shape
    if which == "cpu":
        from minewatch.analysis.change.cpu import run_cpu

        out = run_cpu(vals, X, n_split, bound, **kw)
    else:
        from minewatch.analysis.change.gpu import run_torch

        device = "cuda" if which == "gpu" or torch_cuda_available() else "cpu"
        out = run_torch(vals, X, n_split, bound, device=device, **kw)
    return finish(out, d, params, B, H, W)
