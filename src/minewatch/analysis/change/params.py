"""Settings of the per-pixel change-detection engine."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

from minewatch.errors import InputError

METHODS = ("cold", "mosum")
HISTORIES = ("all", "roc")

#: Brown-Durbin-Evans critical values of the recursive CUSUM test (linear boundary
#: ``c * (1 + 2t)``), used by ``history="roc"``.
ROC_CRITVALS = {0.1: 0.850, 0.05: 0.948, 0.01: 1.143}


@dataclass(frozen=True)
class ChangeParams:
    """How :func:`~minewatch.analysis.change.detect_breaks` models and tests each pixel.

    Attributes
    ----------
    method : {"cold", "mosum"}
        ``"cold"``: CCDC/COLD-style multi-band test; a break needs ``consecutive``
        successive valid observations whose summed squared standardized residuals exceed
        the chi-square quantile ``threshold`` (Zhu & Woodcock 2014; Zhu et al. 2020).
        ``"mosum"``: BFAST Monitor's OLS-MOSUM test per band (Verbesselt et al. 2012),
        the earliest band's break is kept.
    harmonics : int
        Order of the harmonic season model (pairs of cos/sin terms), default 2.
    trend : bool
        Include a linear trend term, default True.
    period_days : float
        Length of the seasonal cycle in days, default 365.25 (``bfast`` uses 365).
    consecutive : int
        COLD: number of successive valid anomalous observations that confirm a change,
        default 4. Single-date spikes (residual clouds, shadows) never confirm.
    threshold : float
        COLD: chi-square probability (over ``B`` degrees of freedom) an observation's
        score must exceed, default 0.99.
    mosum_h : float
        MOSUM bandwidth as a fraction of the number of history observations: 0.25, 0.5, 1.
    mosum_level : float
        MOSUM significance level, default 0.05 (0.001 .. 0.05).
    mosum_period : float
        Monitoring horizon relative to history used to pick the critical value, default 10.
    history : {"all", "roc"}
        ``"all"`` fits every valid observation before ``monitor_start``; ``"roc"`` keeps
        only the stable end of the history found by a reverse-ordered recursive CUSUM test
        (bfastmonitor's ``history = "ROC"``).
    roc_level : float
        Significance level of the ROC test: 0.1, 0.05 or 0.01.
    roc_robust : bool
        Scale the ROC's recursive residuals by their MAD instead of their standard
        deviation (default True), so a large change inside the history does not inflate
        the scale and the stable end is found within an observation or two of the change.
        False reproduces strucchange/bfastmonitor exactly.
    min_history_obs : int
        Pixels with fewer valid history observations (after ROC and screening) get
        ``status = 1`` and no test; never fewer than the number of model coefficients + 1.
    rmse_floor : float or sequence of float
        Lower bound of each band's history RMSE (scalar or one value per band), so very
        stable pixels do not turn tiny deviations into huge scores. Default 0.01 (index units).
    band_weights : sequence of float, optional
        COLD: weight of each band in the score (rescaled to sum to ``B``).
    screen_outliers : bool
        COLD: drop history observations whose score exceeds ``screen_threshold`` in a first
        fit and refit (a simplified Tmask screening of residual clouds, snow and shadows).
    screen_threshold : float
        Chi-square probability used by the screening, default 0.999.
    """

    method: str = "cold"
    harmonics: int = 2
    trend: bool = True
    period_days: float = 365.25
    consecutive: int = 4
    threshold: float = 0.99
    mosum_h: float = 0.25
    mosum_level: float = 0.05
    mosum_period: float = 10.0
    history: str = "all"
    roc_level: float = 0.05
    roc_robust: bool = True
    min_history_obs: int = 12
    rmse_floor: float | Sequence[float] = 0.01
    band_weights: Sequence[float] | None = None
    screen_outliers: bool = True
    screen_threshold: float = 0.999

    @property
    def n_coef(self) -> int:
        """Number of regression coefficients of the season-trend model."""
        return 1 + int(self.trend) + 2 * self.harmonics

    def validate(self, n_bands: int) -> None:
        """Raise :class:`~minewatch.errors.InputError` naming the first bad setting."""
        if self.method not in METHODS:
            raise InputError(
                f"ChangeParams.method={self.method!r} is unknown", hint="use 'cold' or 'mosum'"
            )
        if self.history not in HISTORIES:
            raise InputError(
                f"ChangeParams.history={self.history!r} is unknown", hint="use 'all' or 'roc'"
            )
        if not 0 <= self.harmonics <= 6:
            raise InputError(
                f"ChangeParams.harmonics={self.harmonics} is out of range", hint="use 0..6"
            )
        if self.consecutive < 1:
            raise InputError(
                f"ChangeParams.consecutive={self.consecutive} must be >= 1",
                hint="COLD uses 4 to 6",
            )
        if not 0.5 < self.threshold < 1.0:
            raise InputError(
                f"ChangeParams.threshold={self.threshold} must be a probability in (0.5, 1)",
                hint="0.99 is the COLD default",
            )
        if not 0.5 < self.screen_threshold < 1.0:
            raise InputError(
                f"ChangeParams.screen_threshold={self.screen_threshold} must be in (0.5, 1)"
            )
        if self.period_days <= 0:
            raise InputError(f"ChangeParams.period_days={self.period_days} must be positive")
        if self.roc_level not in ROC_CRITVALS:
            raise InputError(
                f"ChangeParams.roc_level={self.roc_level} is not tabulated",
                hint="use 0.1, 0.05 or 0.01",
            )
        floor = np.atleast_1d(np.asarray(self.rmse_floor, dtype=np.float64))
        if floor.size not in (1, n_bands) or np.any(~np.isfinite(floor)) or np.any(floor < 0):
            raise InputError(
                f"ChangeParams.rmse_floor has {floor.size} values for {n_bands} bands",
                hint="give one non-negative value or one per band",
            )
        if self.band_weights is not None:
            w = np.asarray(self.band_weights, dtype=np.float64)
            if w.shape != (n_bands,) or np.any(~np.isfinite(w)) or np.any(w < 0) or w.sum() <= 0:
                raise InputError(
                    f"ChangeParams.band_weights needs {n_bands} non-negative values, "
                    f"got {list(np.atleast_1d(w))}",
                )

    def rmse_floor_vector(self, n_bands: int) -> np.ndarray:
        """``rmse_floor`` broadcast to one float64 value per band."""
        floor = np.atleast_1d(np.asarray(self.rmse_floor, dtype=np.float64))
        return np.broadcast_to(floor, (n_bands,)).copy()

    def weight_vector(self, n_bands: int) -> np.ndarray:
        """Band weights rescaled to sum to ``n_bands`` (ones when unset)."""
        if self.band_weights is None:
            return np.ones(n_bands, dtype=np.float64)
        w = np.asarray(self.band_weights, dtype=np.float64)
        return w * (n_bands / w.sum())

    def effective_min_history(self) -> int:
        """Minimum number of history observations actually required."""
        return max(int(self.min_history_obs), self.n_coef + 1)
