"""Settings of the persistent-change test (a leaf module: both backends import it)."""

from __future__ import annotations

from dataclasses import dataclass

from minewatch.errors import InputError


@dataclass(frozen=True)
class PersistentParams:
    """Settings of :func:`~minewatch.analysis.change.detect_persistent_change`.

    See :mod:`minewatch.analysis.change.persistent_numba` for the rules they drive and
    docs/method.md for the values the pipeline uses.
    """

    harmonics: int = 1
    trend: bool = False
    period_days: float = 365.25
    threshold: float = 0.99
    screen_threshold: float = 0.999
    consecutive: int = 4
    early_window: int = 8
    early_share: float = 0.75
    persistence: float = 0.75
    min_post_days: int = 120
    min_history_obs: int = 8
    post_quantile: float = 0.9
    rmse_floor: tuple[float, ...] | float = 0.01

    def validate(self) -> None:
        """Raise :class:`~minewatch.errors.InputError` naming the first setting out of range."""
        if self.consecutive < 1 or self.early_window < 1 or self.min_history_obs < 1:
            raise InputError(
                "PersistentParams: consecutive, early_window and min_history_obs must be >= 1")
        for name in ("early_share", "persistence", "post_quantile"):
            if not 0 <= getattr(self, name) <= 1:
                raise InputError(f"PersistentParams.{name}={getattr(self, name)} must be in [0, 1]")
        if not 0.5 < self.threshold < 1 or not 0.5 < self.screen_threshold < 1:
            raise InputError(
                "PersistentParams: threshold and screen_threshold are probabilities in (0.5, 1)")
