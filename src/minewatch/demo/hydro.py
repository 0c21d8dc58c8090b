"""D8 flow routing used to compute the demo scene's downstream truth.

Priority-flood depression filling with a small epsilon gradient (Barnes et al.
2014), D8 steepest-descent receivers, flow accumulation, and the along-flow
distance from a set of source cells.  Cells on the grid edge drain off the grid.
"""

from __future__ import annotations

import heapq
import math

import numpy as np

_DR = (-1, -1, -1, 0, 0, 1, 1, 1)
_DC = (-1, 0, 1, -1, 1, -1, 0, 1)


def fill_depressions(dem: np.ndarray, eps: float = 1e-4) -> np.ndarray:
    """Priority-flood fill with epsilon so every cell has a strictly downhill path to the edge."""
    n_r, n_c = dem.shape
    z = dem.astype(np.float64).ravel().tolist()
    done = bytearray(n_r * n_c)
    heap: list[tuple[float, int]] = []
    edge = set(range(n_c)) | set(range((n_r - 1) * n_c, n_r * n_c))
    edge |= set(range(0, n_r * n_c, n_c)) | set(range(n_c - 1, n_r * n_c, n_c))
    for i in sorted(edge):
        done[i] = 1
        heap.append((z[i], i))
    heapq.heapify(heap)
    offs = [(dr, dc, dr * n_c + dc) for dr, dc in zip(_DR, _DC)]
    pop, push = heapq.heappop, heapq.heappush
    while heap:
        zi, i = pop(heap)
        r, c = divmod(i, n_c)
        interior = 0 < r < n_r - 1 and 0 < c < n_c - 1
        for dr, dc, off in offs:
            if not interior:
                rr, cc = r + dr, c + dc
                if not (0 <= rr < n_r and 0 <= cc < n_c):
                    continue
            j = i + off
            if done[j]:
                continue
            done[j] = 1
            zj = z[j]
            if zj <= zi:
                zj = zi + eps
                z[j] = zj
            push(heap, (zj, j))
    return np.asarray(z, dtype=np.float64).reshape(n_r, n_c)


def d8_receivers(z: np.ndarray, cell: float) -> np.ndarray:
    """Index of the steepest-descent neighbour of every cell (-1 = drains off the grid / pit)."""
    n_r, n_c = z.shape
    zp = np.pad(z, 1, constant_values=-np.inf)  # off-grid is lowest: edge cells may drain out
    best = np.zeros(z.shape)
    rec = np.full(z.shape, -1, np.int64)
    rows, cols = np.mgrid[0:n_r, 0:n_c]
    for k in range(8):
        dist = cell * (math.sqrt(2) if _DR[k] and _DC[k] else 1.0)
        nb = zp[1 + _DR[k]:1 + _DR[k] + n_r, 1 + _DC[k]:1 + _DC[k] + n_c]
        slope = (z - nb) / dist
        better = slope > best
        best = np.where(better, slope, best)
        rr, cc = rows + _DR[k], cols + _DC[k]
        inside = (rr >= 0) & (rr < n_r) & (cc >= 0) & (cc < n_c)
        rec = np.where(better, np.where(inside, rr * n_c + cc, -1), rec)
    return rec.ravel()


def flow_order(z: np.ndarray) -> np.ndarray:
    """Cells sorted from highest to lowest (a valid upstream-to-downstream order)."""
    return np.argsort(-z.ravel(), kind="stable")


def accumulation(rec: np.ndarray, order: np.ndarray) -> np.ndarray:
    """Number of cells draining through each cell (including itself)."""
    acc = [1] * rec.size
    rl = rec.tolist()
    for i in order.tolist():
        j = rl[i]
        if j >= 0:
            acc[j] += acc[i]
    return np.asarray(acc, dtype=np.int64)


def distance_from_sources(rec: np.ndarray, order: np.ndarray, sources: np.ndarray, shape: tuple[int, int],
                          cell: float) -> np.ndarray:
    """Shortest along-flow distance (m) from any source cell; ``inf`` where no source drains."""
    n_c = shape[1]
    inf = math.inf
    dist = [inf] * rec.size
    for i in np.flatnonzero(sources.ravel()).tolist():
        dist[i] = 0.0
    rl = rec.tolist()
    diag = cell * math.sqrt(2)
    for i in order.tolist():
        di = dist[i]
        if di == inf:
            continue
        j = rl[i]
        if j < 0:
            continue
        step = diag if (i // n_c != j // n_c and i % n_c != j % n_c) else cell
        if di + step < dist[j]:
            dist[j] = di + step
    return np.asarray(dist, dtype=np.float64).reshape(shape)
