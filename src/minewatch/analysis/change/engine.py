"""The change engine's entry point: input checks, backend resolution and dispatch.

:func:`detect_persistent_change` checks its arguments before any work, resolves the
backend (:func:`resolve_backend`) and runs the persistent-change test with Numba on the
CPU (:mod:`.persistent_numba`) or with PyTorch (:mod:`.persistent_torch`). The backends
import only the leaf modules (:mod:`.params`, :mod:`.result`, :mod:`.design`), never this
one.
"""

from __future__ import annotations

import glob
import sys

import numpy as np

from minewatch.analysis.change.design import check_days
from minewatch.analysis.change.params import PersistentParams
from minewatch.analysis.change.persistent_numba import detect_persistent_change_numba
from minewatch.analysis.change.persistent_torch import detect_persistent_change_torch
from minewatch.analysis.change.result import PersistentResult
from minewatch.errors import BackendUnavailableError, InputError

BACKENDS = ("auto", "cpu", "gpu", "torch")


def torch_cuda_available() -> bool:
    """True when PyTorch imports and sees a CUDA device.

    On Linux a machine without ``/dev/nvidia*`` device files has no CUDA device: PyTorch (about
    200 MB of memory) is then not imported at all.
    """
    if sys.platform.startswith("linux") and not glob.glob("/dev/nvidia[0-9]*"):
        return False
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
    InputError
        ``backend`` is not one of :data:`BACKENDS`.
    BackendUnavailableError
        ``"gpu"`` was requested but PyTorch or a CUDA device is missing, or ``"torch"``
        without PyTorch.
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


def check_inputs(values: np.ndarray, days: np.ndarray, monitor_start: int, monitor_end: int,
                 params: PersistentParams) -> None:
    """Raise :class:`~minewatch.errors.InputError` naming the first bad argument or setting."""
    if values.ndim != 4:
        raise InputError(f"values must be (T, B, H, W), got shape {values.shape}")
    check_days(days, values.shape[0])
    if monitor_end < monitor_start:
        raise InputError(f"monitor_end {monitor_end} is before monitor_start {monitor_start}")
    params.validate()


def detect_persistent_change(values: np.ndarray, days: np.ndarray, monitor_start: int, monitor_end: int,
                             params: PersistentParams | None = None, backend: str = "auto") -> PersistentResult:
    """Find each pixel's first lasting change in ``[monitor_start, monitor_end]``.

    Parameters
    ----------
    values
        (T, B, H, W) float32, NaN = missing observation.
    days
        (T,) int days since 1970-01-01, increasing.
    monitor_start, monitor_end
        The monitoring period (days since 1970-01-01, both included).
    params
        The test's settings (defaults when None).
    backend
        ``"cpu"`` (Numba, all cores), ``"gpu"`` (PyTorch on CUDA), ``"torch"`` (PyTorch on
        whatever device it has) or ``"auto"`` (the GPU when one is usable, else the CPU).

    Returns
    -------
    PersistentResult
        The same on every backend, up to floating-point rounding (docs/method.md).

    Raises
    ------
    InputError
        Malformed arrays, dates, period or settings; an unknown backend.
    BackendUnavailableError
        ``backend="gpu"`` without PyTorch and CUDA, or ``"torch"`` without PyTorch.
    """
    params = params or PersistentParams()
    check_inputs(values, days, monitor_start, monitor_end, params)
    resolved = resolve_backend(backend)
    if resolved in ("gpu", "torch"):
        return detect_persistent_change_torch(values, days, monitor_start, monitor_end, params,
                                              device="cuda" if resolved == "gpu" else None)
    return detect_persistent_change_numba(values, days, monitor_start, monitor_end, params)
