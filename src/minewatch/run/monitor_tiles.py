"""One tile of a monitoring state, and how new acquisitions advance it.

A tile holds the pixel's history model (fitted once), the detector's carry over every
observation whose screening is *final*, and a small per-pixel buffer of raw observations:

* the cloud/shadow screening (:mod:`minewatch.imagery.masks`) compares each *candidate*
  observation (one the per-observation tests leave clear) with up to 3 candidates before and
  3 after it; so a candidate's status is final once 3 later candidates exist, and may change
  until then;
* the buffer keeps each pixel's last :data:`BUFFER` candidates (bands, hint, acquisition): the
  3 latest, still *pending*, the history's last 3 while theirs is not final either
  (:class:`OpenHistory`), and the 3 before them, which they are compared with;
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
import dataclasses
from dataclasses import dataclass

import numpy as np

from minewatch.analysis.indices import CHANGE_INDICES, change_stack
from minewatch.imagery.masks import CLEAR, screen_observations, screening_candidates

#: The reflectance bands a tile keeps of a buffered observation, in this order.
TILE_BANDS = ("blue", "green", "red", "nir", "swir16", "swir22")
#: Later candidates that make a candidate's screening final (the temporal test's reach).
PENDING = 3
#: Candidates kept per pixel: the pending ones (up to 3), a pixel's last history candidates while
#: their screening is not final (up to 3, before them) and the 3 these are compared with.
BUFFER = 3 * PENDING


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
class OpenHistory:
    """The history of the pixels whose last history candidates' screening is not final yet.

    Their screening looks at up to 3 later candidates, which may be monitored acquisitions not
    there at init. Until each such pixel has them, its history is kept so that, if the final
    statuses differ from those the model was fitted with, the pixel is fitted again exactly as a
    batch run fits it.
    """

    index: np.ndarray  #: (n,) int64 flat index of each open pixel in the tile
    stack: np.ndarray  #: (T_hist, B, n) float32 change indices of the history candidates, NaN otherwise
    clear: np.ndarray  #: (T_hist, n) bool: clear as the model was fitted

    @classmethod
    def none(cls, n_hist: int, bands: int) -> OpenHistory:
        return cls(np.zeros(0, np.int64), np.zeros((n_hist, bands, 0), np.float32), np.zeros((n_hist, 0), bool))


@dataclass
class TileState:
    """What the monitoring state keeps of one tile (saved as ``tiles/t{row}_{col}.npz``)."""

    model: object  #: the detector's history model of the tile's pixels
    carry: object  #: the detector's carry over every observation whose screening is final
    buffer: Observations  #: each pixel's last :data:`BUFFER` candidates
    pending: np.ndarray  #: (BUFFER, h, w) bool: buffered candidates not yet in ``carry``
    tail: Observations  #: the last :data:`BUFFER` candidates of the history (a rescan's start)
    history: OpenHistory  #: the history of pixels whose fit may still change


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


def _refit(engine: Engine, model, history: OpenHistory, which: np.ndarray, days: np.ndarray, shape):
    """``model`` with the pixels ``which`` (of ``history``) fitted again on their clear history."""
    sel = np.flatnonzero(which)
    stack = np.where(history.clear[:, None, sel], history.stack[:, :, sel], np.nan).astype(np.float32)
    fitted = engine.fit(stack[:, :, None, :], days)
    rows, cols = np.unravel_index(history.index[sel], shape)
    out = copy.deepcopy(model)
    for f in dataclasses.fields(out):
        arr = getattr(out, f.name)
        if isinstance(arr, np.ndarray) and arr.shape[-2:] == tuple(shape):
            arr[..., rows, cols] = getattr(fitted, f.name)[..., 0, :]
    return out


def _settle(engine: Engine, tile: TileState, seq: Observations, cand, status, final, days, n_hist: int):
    """Open pixels whose history tail is now final: fit again those whose statuses changed.
    Returns the model, the open history left, and whether any pixel was fitted again."""
    hist = tile.history
    if hist.index.size == 0:
        return tile.model, hist, False
    shape = cand.shape[1:]
    rows, cols = np.unravel_index(hist.index, shape)
    ords = seq.ordinal[:, rows, cols]
    hist_cand = cand[:, rows, cols] & (ords >= 0) & (ords < n_hist)
    # the last PENDING history candidates: the ones whose screening waited for monitored ones
    tail = hist_cand & (np.cumsum(hist_cand[::-1], axis=0)[::-1] <= PENDING)
    settled = ~(tail & ~final[:, rows, cols]).any(axis=0)
    now_clear = status[:, rows, cols] == CLEAR
    clear = hist.clear.copy()
    changed = np.zeros(hist.index.size, bool)
    for s in range(len(seq)):
        k = np.flatnonzero(tail[s] & settled)
        if k.size:
            o, new = ords[s, k], now_clear[s, k]
            diff = clear[o, k] != new
            changed[k[diff]] = True
            clear[o[diff], k[diff]] = new[diff]
    history = OpenHistory(hist.index, hist.stack, clear)
    model = _refit(engine, tile.model, history, changed, days[:n_hist], shape) if changed.any() else tile.model
    keep = ~settled
    return model, OpenHistory(hist.index[keep], hist.stack[:, :, keep], clear[:, keep]), bool(changed.any())


def advance(engine: Engine, tile: TileState, new: Observations, days: np.ndarray, n_hist: int, *,
            fresh: bool = False) -> tuple[TileState, object, bool]:
    """Add ``new`` (later than everything in ``tile``, date order) to ``tile``.

    ``days`` maps acquisition ordinals to days since 1970-01-01 (the first ``n_hist`` are the
    history). With ``fresh`` the tile restarts from the history's end (its tail and the initial
    carry): ``new`` then holds every monitored acquisition. Returns the new tile, the provisional
    carry (every observation, the pending ones screened as far as the series goes now), and
    whether some pixel's history model was fitted again (:class:`OpenHistory`): then the carry
    is stale and the caller restarts the tile's scan (``fresh``) over every monitored acquisition.
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
    model, history, refitted = _settle(engine, tile, seq, cand, status, final, days, n_hist)
    if refitted:
        return TileState(model, tile.carry, tile.buffer, tile.pending, tile.tail, history), None, True
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
    return TileState(tile.model, carry, buffer, new_pending, tile.tail, history), provisional, False
