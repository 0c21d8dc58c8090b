"""One tile of a monitoring state, and how new acquisitions advance it.

A tile holds the pixel's history model (fitted once), the detector's carry over every
observation whose screening is *final*, and a small per-pixel buffer of raw observations:

* the cloud/shadow screening (:mod:`minewatch.imagery.masks`) compares each *candidate*
  observation (one the per-observation tests leave clear) with up to 3 candidates before and
  3 after it; so a candidate's status is final once 3 later candidates exist, and may change
  until then;
* the buffer keeps each pixel's last :data:`BUFFER` candidates (bands, hint, acquisition): the
  3 latest, still *pending*, and the 3 before them, which the pending ones are compared with;
* :func:`advance` screens buffer + new observations together (exactly what a batch screening of
  the whole series gives for them), scans what became final into the settled carry, and scans
  the pending rest on a copy of it: the *provisional* carry, the levels and dates shown now.

The scan takes one stack of dates shared by all pixels; observations of different pixels in
the buffer have different dates, so each scan stack has one row per distinct acquisition among
the observations scanned (NaN for a pixel with nothing that day), ordered by acquisition
ordinal, so every pixel sees its own observations in date order, as in a batch run.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass

import numpy as np

from minewatch.analysis.indices import CHANGE_INDICES, change_stack
from minewatch.imagery.masks import CLEAR, screen_observations, screening_candidates

#: The reflectance bands a tile keeps of a buffered observation, in this order.
TILE_BANDS = ("blue", "green", "red", "nir", "swir16", "swir22")
#: Later candidates that make a candidate's screening final (the temporal test's reach).
PENDING = 3
#: Candidates kept per pixel: the pending ones and the ones they are compared with.
BUFFER = 2 * PENDING


@dataclass
class Observations:
    """Observations of a tile in date order: one row per acquisition (or per buffer slot)."""

    bands: np.ndarray  #: (S, len(TILE_BANDS), h, w) float32 reflectance, NaN = no data
    hint: np.ndarray  #: (S, h, w) uint8 screening hints (:func:`~minewatch.imagery.masks.screening_hints`)
    ordinal: np.ndarray  #: (S, h, w) int32 acquisition ordinal, -1 = empty slot

    @classmethod
    def from_tile(cls, data: dict[str, np.ndarray], hint: np.ndarray, ordinals: np.ndarray) -> Observations:
        """From :func:`~minewatch.imagery.load.load_tile`'s dict, its hints and each row's ordinal."""
        bands = np.stack([np.asarray(data[b], np.float32) for b in TILE_BANDS], axis=1)
        ordinal = np.broadcast_to(np.asarray(ordinals, np.int32)[:, None, None], hint.shape).copy()
        return cls(bands, np.asarray(hint, np.uint8), ordinal)

    @classmethod
    def empty(cls, slots: int, h: int, w: int) -> Observations:
        return cls(np.full((slots, len(TILE_BANDS), h, w), np.nan, np.float32),
                   np.zeros((slots, h, w), np.uint8), np.full((slots, h, w), -1, np.int32))

    def __len__(self) -> int:
        return self.hint.shape[0]

    def concat(self, other: Observations) -> Observations:
        return Observations(np.concatenate([self.bands, other.bands]), np.concatenate([self.hint, other.hint]),
                            np.concatenate([self.ordinal, other.ordinal]))

    def band(self, name: str) -> np.ndarray:
        return self.bands[:, TILE_BANDS.index(name)]

    def candidates(self) -> np.ndarray:
        """(S, h, w) bool: observations the temporal screening compares."""
        return screening_candidates(self.band("blue"), self.band("green"), self.band("nir"), self.band("swir16"),
                                    self.hint)

    def screen(self) -> np.ndarray:
        """(S, h, w) screening status codes, as a batch screening of the same series gives."""
        return screen_observations(self.band("blue"), self.band("green"), self.band("nir"), self.band("swir16"),
                                   self.hint)

    def last_candidates(self, cand: np.ndarray, keep: int) -> tuple[Observations, np.ndarray]:
        """Each pixel's last ``keep`` candidates, oldest first (empty slots first), and the
        (keep, h, w) index of the row each came from (-1: empty)."""
        s, h, w = cand.shape
        # Rank from the end among candidates: 0 = last candidate.
        rank = np.cumsum(cand[::-1], axis=0)[::-1] - 1
        out = Observations.empty(keep, h, w)
        src = np.full((keep, h, w), -1, np.int64)
        rows, cols = np.indices((h, w))
        for k in range(keep):  # slot keep-1 holds rank 0 (the last candidate)
            r = keep - 1 - k
            hit = cand & (rank == r)
            any_hit = hit.any(axis=0)
            idx = hit.argmax(axis=0)
            sel = any_hit
            src[k][sel] = idx[sel]
            ri, ci, ti = rows[sel], cols[sel], idx[sel]
            out.bands[k][:, sel] = self.bands[ti, :, ri, ci].T
            out.hint[k][sel] = self.hint[ti, ri, ci]
            out.ordinal[k][sel] = self.ordinal[ti, ri, ci]
        return out, src


@dataclass
class TileState:
    """What the monitoring state keeps of one tile (saved as ``tiles/t{row}_{col}.npz``)."""

    model: object  #: the detector's history model of the tile's pixels
    carry: object  #: the detector's carry over every observation whose screening is final
    buffer: Observations  #: each pixel's last :data:`BUFFER` candidates
    pending: np.ndarray  #: (BUFFER, h, w) bool: buffered candidates not yet in ``carry``
    tail: Observations  #: the last :data:`PENDING` candidates of the history (a rescan's start)


@dataclass(frozen=True)
class Engine:
    """The detector's two functions and what they are given: ``fit(stack, days) -> model``,
    ``scan(model, stack, days, carry) -> carry`` (``carry=None``: the state at the history's end)."""

    fit: object
    scan: object


def initial_carry(engine: Engine, model, h: int, w: int):
    """The carry at the history's end: the scan of no observation."""
    empty = np.full((0, len(CHANGE_INDICES), h, w), np.nan, np.float32)
    return engine.scan(model, empty, np.zeros(0, np.int64), None)


def _scan_rows(engine: Engine, model, carry, obs: Observations, feed: np.ndarray, days: np.ndarray):
    """Scan the observations of ``obs`` where ``feed`` (per pixel, in ordinal order) into ``carry``."""
    if not feed.any():
        return carry
    h, w = feed.shape[1:]
    ords = np.unique(obs.ordinal[feed])
    indices = change_stack({b: obs.band(b) for b in TILE_BANDS})  # (S, B, h, w)
    nb = indices.shape[1]
    stack = np.full((len(ords), h, w, nb), np.nan, np.float32)
    rows, cols = np.indices((h, w))
    pos = np.searchsorted(ords, obs.ordinal)
    for s in range(len(obs)):
        m = feed[s]
        if m.any():
            stack[pos[s][m], rows[m], cols[m]] = indices[s].transpose(1, 2, 0)[m]
    stack = np.ascontiguousarray(stack.transpose(0, 3, 1, 2))
    return engine.scan(model, stack, days[ords], carry)


def advance(engine: Engine, tile: TileState, new: Observations, days: np.ndarray, *,
            fresh: bool = False) -> tuple[TileState, object]:
    """Add ``new`` (later than everything in ``tile``, date order) to ``tile``.

    ``days`` maps acquisition ordinals to days since 1970-01-01. With ``fresh`` the tile
    restarts from the history's end (its tail and the initial carry): ``new`` then holds every
    monitored acquisition. Returns the new tile and the provisional carry (every observation,
    the pending ones screened as far as the series goes now).
    """
    if fresh:
        h, w = tile.tail.hint.shape[1:]
        pad = Observations.empty(BUFFER - len(tile.tail), h, w)
        base, pending = pad.concat(tile.tail), np.zeros((BUFFER, h, w), bool)
        carry = initial_carry(engine, tile.model, h, w)
    else:
        base, pending, carry = tile.buffer, tile.pending, tile.carry
    seq = base.concat(new)
    cand = seq.candidates()
    status = seq.screen()
    later = np.cumsum(cand[::-1], axis=0)[::-1] - cand  # candidates after each row
    final = later >= PENDING
    unscanned = np.concatenate([pending, np.ones((len(new),) + cand.shape[1:], bool)])
    clear = cand & (status == CLEAR)
    carry = _scan_rows(engine, tile.model, carry, seq, unscanned & final & clear, days)
    buffer, src = seq.last_candidates(cand, BUFFER)
    still = unscanned & cand & ~final
    new_pending = np.zeros(src.shape, bool)
    has = src >= 0
    rows, cols = np.indices(cand.shape[1:])
    for k in range(BUFFER):
        m = has[k]
        new_pending[k][m] = still[src[k][m], rows[m], cols[m]]
    provisional = _scan_rows(engine, tile.model, copy.deepcopy(carry), seq, still & clear, days)
    return TileState(tile.model, carry, buffer, new_pending, tile.tail), provisional
