"""Per-pixel outputs of the persistent-change test (a leaf module: both backends build it)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class PersistentResult:
    """Per-pixel outputs, arrays of shape (H, W) or (B, H, W)."""

    date: np.ndarray  # int32 days since epoch, 0 = no lasting change
    confidence: np.ndarray  # float32 share of observations from the change on nearer to the new state
    magnitude: np.ndarray  # float32 (B, H, W) median residual after the change
    post_quantile: np.ndarray  # float32 (B, H, W) ``post_quantile`` of values after the change
    rmse: np.ndarray  # float32 (B, H, W)
    n_history: np.ndarray  # int16
