"""Per-pixel outputs of the change-detection engine."""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np

#: ``status`` codes.
STATUS_OK = 0
STATUS_TOO_LITTLE_HISTORY = 1
STATUS_NO_MONITORING = 2


@dataclass
class BreakResult:
    """Break map of one image (all arrays are numpy, shape ``(H, W)`` unless noted).

    Attributes
    ----------
    flag : bool
        A confirmed break in the monitoring period.
    date : int32
        Days since 1970-01-01 of the first observation of the confirmed change; 0 = none.
    magnitude : float32, shape (B, H, W)
        Signed median residual (observed minus model) per band over the confirming
        observations (COLD; without a break: over the strongest run of ``consecutive``
        observations, the one that gives the confidence) or over the monitoring
        observations from the break on (MOSUM; all of them when there is no break).
    confidence : float32 in [0, 1]
        COLD: chi-square probability of the weakest confirming observation (of the
        strongest run when there is no break). MOSUM: ``r^2 / (1 + r^2)`` with ``r`` the
        largest ratio of the MOSUM process to its boundary (``r > 1``, i.e. > 0.5, is a break).
    rmse : float32, shape (B, H, W)
        Root mean square error of the history fit per band (before ``rmse_floor``).
    n_history : int16
        Valid history observations the model was fitted on (after ROC and screening).
    status : uint8
        0 ok, 1 too little history, 2 no monitoring observation.
    """

    flag: np.ndarray
    date: np.ndarray
    magnitude: np.ndarray
    confidence: np.ndarray
    rmse: np.ndarray
    n_history: np.ndarray
    status: np.ndarray

    @property
    def shape(self) -> tuple[int, int]:
        """Image shape ``(H, W)``."""
        return tuple(self.flag.shape)  # type: ignore[return-value]

    def as_dict(self) -> dict[str, np.ndarray]:
        """The arrays by field name."""
        return {f.name: getattr(self, f.name) for f in fields(self)}

    @classmethod
    def empty(cls, n_bands: int, height: int, width: int) -> "BreakResult":
        """A result with no break anywhere (used for empty inputs)."""
        return cls(
            flag=np.zeros((height, width), bool),
            date=np.zeros((height, width), np.int32),
            magnitude=np.zeros((n_bands, height, width), np.float32),
            confidence=np.zeros((height, width), np.float32),
            rmse=np.zeros((n_bands, height, width), np.float32),
            n_history=np.zeros((height, width), np.int16),
            status=np.full((height, width), STATUS_TOO_LITTLE_HISTORY, np.uint8),
        )
