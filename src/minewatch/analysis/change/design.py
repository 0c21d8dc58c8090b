"""Season-trend design matrix and the date-axis check shared by both backends."""

from __future__ import annotations

import numpy as np

from minewatch.errors import InputError


def design_matrix(
    days: np.ndarray, origin: int, harmonics: int, trend: bool, period_days: float
) -> np.ndarray:
    """Regression design of the harmonic season-trend model.

    Columns are ``1``, ``t`` (if ``trend``), then ``cos(2 pi k d / P)``, ``sin(2 pi k d / P)``
    for ``k = 1..harmonics``, where ``t = (day - origin) / 365.25`` is in years and ``d`` is
    the day number, ``P`` = ``period_days``.

    Parameters
    ----------
    days : ndarray of int64, shape (T,)
        Observation days since 1970-01-01.
    origin : int
        Day at which the trend term is zero (the start of monitoring, for conditioning).
    harmonics, trend, period_days
        As in :class:`~minewatch.analysis.change.PersistentParams`.

    Returns
    -------
    ndarray of float64, shape (T, P)
    """
    d = np.asarray(days, dtype=np.float64)
    cols = [np.ones_like(d)]
    if trend:
        cols.append((d - origin) / 365.25)
    w = 2.0 * np.pi / period_days
    for k in range(1, harmonics + 1):
        cols.append(np.cos(k * w * d))
        cols.append(np.sin(k * w * d))
    return np.ascontiguousarray(np.stack(cols, axis=1))


def check_days(days: np.ndarray, n_time: int) -> np.ndarray:
    """Validate the date axis: int64 days, strictly increasing, one per time step."""
    d = np.asarray(days)
    if d.ndim != 1 or d.shape[0] != n_time:
        raise InputError(
            f"days has shape {d.shape} but values has {n_time} time steps",
            hint="pass one day number per image (axis 0 of values)",
        )
    if not np.issubdtype(d.dtype, np.integer):
        if np.issubdtype(d.dtype, np.datetime64):
            d = d.astype("datetime64[D]").astype(np.int64)
        else:
            raise InputError(
                f"days has dtype {d.dtype}; expected integer days since 1970-01-01",
                hint="convert with dates.astype('datetime64[D]').astype('int64')",
            )
    d = d.astype(np.int64)
    if n_time > 1 and np.any(np.diff(d) <= 0):
        bad = int(np.argmax(np.diff(d) <= 0))
        raise InputError(
            f"days are not strictly increasing at index {bad + 1} ({d[bad]} then {d[bad + 1]})",
            hint="sort the images by date and merge same-day acquisitions",
        )
    return d
