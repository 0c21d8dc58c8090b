"""Which compute backend the change monitor runs on: Numba on the CPU, the only one.

The former PyTorch twin of the batch detector was removed with it; ``--backend auto`` (the
default) and ``cpu`` run the monitor, ``gpu`` and ``torch`` are refused with a one-line error.
"""

from __future__ import annotations

from minewatch.errors import BackendUnavailableError, InputError

BACKENDS = ("auto", "cpu", "gpu", "torch")


def resolve_backend(backend: str) -> str:
    """``"cpu"`` for ``"auto"`` and ``"cpu"``.

    Raises
    ------
    InputError
        ``backend`` is not one of :data:`BACKENDS`.
    BackendUnavailableError
        ``"gpu"`` or ``"torch"``: the sequential monitor has no GPU implementation.
    """
    if backend not in BACKENDS:
        raise InputError(f"backend={backend!r} is unknown", hint="use 'auto' or 'cpu'")
    if backend in ("gpu", "torch"):
        raise BackendUnavailableError(
            f"backend={backend!r}: the sequential change monitor runs on the CPU only (Numba)",
            hint="use --backend auto or cpu; one new acquisition updates 1000 x 1000 pixels in well under a second")
    return "cpu"
