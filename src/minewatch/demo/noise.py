"""Smooth random fields used by the demo scene (terrain texture, clouds, snow)."""

from __future__ import annotations

import numpy as np
from scipy import ndimage


def _bilinear(low: np.ndarray, pos_r: np.ndarray, pos_c: np.ndarray) -> np.ndarray:
    """Sample ``low`` bilinearly on the outer product of row and column positions."""
    i0 = np.floor(pos_r).astype(np.intp)
    j0 = np.floor(pos_c).astype(np.intp)
    fr = (pos_r - i0).astype(np.float32)[:, None]
    fc = (pos_c - j0).astype(np.float32)[None, :]
    top = low[i0]
    bot = low[i0 + 1]
    a = top[:, j0]
    b = top[:, j0 + 1]
    c = bot[:, j0]
    d = bot[:, j0 + 1]
    ab = a + (b - a) * fc
    cd = c + (d - c) * fc
    return (ab + (cd - ab) * fr).astype(np.float32)


def _octave(rng: np.random.Generator, shape: tuple[int, int], sigma: float) -> np.ndarray:
    """White noise smoothed with a Gaussian of ``sigma`` pixels (coarse lattice + bilinear for speed)."""
    if sigma <= 3.0:
        return ndimage.gaussian_filter(rng.standard_normal(shape, dtype=np.float32), sigma, mode="wrap")
    step = sigma / 2.0
    small = (int(np.ceil(shape[0] / step)) + 3, int(np.ceil(shape[1] / step)) + 3)
    low = ndimage.gaussian_filter(rng.standard_normal(small, dtype=np.float32), 2.0, mode="wrap")
    pr = np.arange(shape[0], dtype=np.float32) / np.float32(step) + 1.0
    pc = np.arange(shape[1], dtype=np.float32) / np.float32(step) + 1.0
    return _bilinear(low, pr, pc)


def smooth_field(rng: np.random.Generator, shape: tuple[int, int], sigmas: tuple[float, ...],
                 weights: tuple[float, ...] | None = None) -> np.ndarray:
    """Sum of Gaussian-smoothed white-noise octaves, normalised to mean 0, std 1.

    Parameters
    ----------
    rng : numpy Generator
    shape : output shape
    sigmas : Gaussian sigmas (pixels) of each octave
    weights : relative weight of each octave (default: proportional to sigma)
    """
    if weights is None:
        weights = tuple(float(s) for s in sigmas)
    out = np.zeros(shape, dtype=np.float32)
    for s, w in zip(sigmas, weights):
        f = _octave(rng, shape, float(s))
        sd = float(f.std()) or 1.0
        out += np.float32(w / sd) * f
    out -= out.mean()
    sd = float(out.std()) or 1.0
    return out / np.float32(sd)


def upsample_window(low: np.ndarray, step: int, row0: int, col0: int, n: int) -> np.ndarray:
    """Bilinear upsampling of a window of a low-resolution lattice.

    ``low`` has one sample every ``step`` full-resolution pixels; returns the
    ``n`` x ``n`` full-resolution window whose top-left pixel is at full-res
    position (``row0``, ``col0``) of the lattice's frame (non-negative integers).
    """
    r_lo, r_off = divmod(row0, step)
    c_lo, c_off = divmod(col0, step)
    m = n // step + 2
    sub = low[r_lo:r_lo + m, c_lo:c_lo + m]
    if sub.shape != (m, m):  # pad at the far edge when the window runs off the lattice
        sub = np.pad(sub, ((0, m - sub.shape[0]), (0, m - sub.shape[1])), mode="edge")
    pos_r = (r_off + np.arange(n, dtype=np.float32)) / step
    pos_c = (c_off + np.arange(n, dtype=np.float32)) / step
    return _bilinear(sub, pos_r, pos_c)


def block_mean(a: np.ndarray) -> np.ndarray:
    """2 x 2 block mean over the last two axes (10 m -> 20 m)."""
    a = np.asarray(a, dtype=np.float32)
    return (a[..., 0::2, 0::2] + a[..., 1::2, 0::2] + a[..., 0::2, 1::2] + a[..., 1::2, 1::2]) * np.float32(0.25)
