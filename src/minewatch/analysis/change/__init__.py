"""Per-pixel time-series change detection (COLD-style and BFAST Monitor MOSUM).

Usage::

    from minewatch.analysis.change import detect_breaks, ChangeParams
    res = detect_breaks(values, days, monitor_start, ChangeParams(method="cold"))

See ``docs/change-detection.md`` for the models, tests, parameters and limits.
"""

from minewatch.analysis.change.engine import detect_breaks, resolve_backend
from minewatch.analysis.change.params import ChangeParams
from minewatch.analysis.change.result import BreakResult


def detect_breaks_dask(*args, **kwargs):
    """Chunked :func:`detect_breaks` over a dask-backed ``xarray.DataArray``.

    See :func:`minewatch.analysis.change.chunked.detect_breaks_dask`.
    """
    from minewatch.analysis.change.chunked import detect_breaks_dask as _impl

    return _impl(*args, **kwargs)


__all__ = ["BreakResult", "ChangeParams", "detect_breaks", "detect_breaks_dask", "resolve_backend"]
