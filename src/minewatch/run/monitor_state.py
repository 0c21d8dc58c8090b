"""The monitoring state folder on disk: ``state.json``, one file per tile, the observation archive.

Layout (docs/monitoring.md)::

    STATE/
      state.json            grid, CRS, parameters, catalog, acquisitions processed (id, date),
                            alerts (stable ids, level, dates), version
      tiles/t{row}_{col}.npz    history model + settled carry + screening buffer + history tail
      obs/t{row}_{col}/{n}.npz  the monitored observations added by update n (read only to
                                re-run the scan after a late acquisition)
      alerts.tif            the stable alert number of each flagged pixel
      latest/               alert_level.tif, disturbance_date.tif, alerts.geojson, summary.json

Every update writes a whole new generation into a staging folder beside ``STATE`` (unchanged
archive files hard-linked, never rewritten) and swaps it in with one rename
(:class:`~minewatch.run.folder.RunFolder`): a kill at any moment leaves the previous state.
"""

from __future__ import annotations

import contextlib
import dataclasses
import fcntl
import importlib
import json
import os
from collections.abc import Iterator
from pathlib import Path

import numpy as np
from affine import Affine
from rasterio.crs import CRS

from minewatch.atomic import atomic_path, write_text
from minewatch.errors import InputError
from minewatch.imagery.load import Grid
from minewatch.run.folder import RunFolder
from minewatch.run.monitor_tiles import Observations, OpenHistory, TileState

STATE_FILE = "state.json"
STATE_VERSION = 1
OBS_FIELDS = ("bands", "hint", "ordinal")


def is_state_folder(path: Path) -> bool:
    """Whether ``path`` holds a minewatch monitoring state."""
    try:
        doc = json.loads((path / STATE_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return isinstance(doc, dict) and doc.get("kind") == "minewatch-monitoring-state"


def read_state(path: Path) -> dict:
    """``state.json`` of the state folder ``path`` (an :class:`InputError` when there is none)."""
    path = Path(path)
    if not is_state_folder(path):
        raise InputError(f"{path}: not a monitoring state (no state.json)",
                         hint="create one with: minewatch monitor init")
    doc = json.loads((path / STATE_FILE).read_text(encoding="utf-8"))
    if doc.get("version") != STATE_VERSION:
        raise InputError(f"{path}: monitoring state version {doc.get('version')} is not {STATE_VERSION}",
                         hint="rebuild it with: minewatch monitor init")
    return doc


def grid_to_json(grid: Grid) -> dict:
    return {"crs": grid.crs.to_wkt(), "transform": list(grid.transform)[:6], "width": grid.width,
            "height": grid.height}


def grid_from_json(d: dict) -> Grid:
    return Grid(CRS.from_wkt(d["crs"]), Affine(*d["transform"]), int(d["width"]), int(d["height"]))


def tile_name(window) -> str:
    return f"t{int(window.row_off)}_{int(window.col_off)}"


# ------------------------------------------------------------------ arrays of the detector's values
def _type_name(obj) -> str:
    cls = type(obj)
    return f"{cls.__module__}:{cls.__qualname__}"


def _fields(obj) -> dict:
    if dataclasses.is_dataclass(obj):
        return {f.name: getattr(obj, f.name) for f in dataclasses.fields(obj)}
    if isinstance(obj, dict):
        return dict(obj)
    raise TypeError(f"cannot store a {type(obj).__name__} in a monitoring state")


def pack(prefix: str, obj) -> dict[str, np.ndarray]:
    """The arrays of a dataclass (or dict) of arrays and scalars, under ``prefix.``."""
    out = {f"{prefix}.{k}": np.asarray(v) for k, v in _fields(obj).items()}
    out[f"{prefix}.__type__"] = np.asarray(_type_name(obj))
    return out


def unpack(prefix: str, arrays) -> object:
    """What :func:`pack` stored."""
    module, qualname = str(arrays[f"{prefix}.__type__"]).split(":")
    cls = getattr(importlib.import_module(module), qualname)
    values = {}
    for key in arrays.files if hasattr(arrays, "files") else arrays:
        if key.startswith(prefix + ".") and key != f"{prefix}.__type__":
            v = arrays[key]
            values[key[len(prefix) + 1:]] = v.item() if v.ndim == 0 else v
    return values if cls is dict else cls(**values)


def _obs_arrays(prefix: str, obs: Observations) -> dict[str, np.ndarray]:
    return {f"{prefix}.{name}": getattr(obs, name) for name in OBS_FIELDS}


def _obs(prefix: str, arrays) -> Observations:
    return Observations(*(arrays[f"{prefix}.{name}"] for name in OBS_FIELDS))


def save_tile(path: Path, tile: TileState) -> None:
    """Write a tile (whole file, atomically)."""
    arrays = {**pack("model", tile.model), **pack("carry", tile.carry), **_obs_arrays("buffer", tile.buffer),
              **_obs_arrays("tail", tile.tail), "pending": tile.pending, "open.index": tile.history.index,
              "open.stack": tile.history.stack, "open.clear": tile.history.clear}
    with atomic_path(path) as tmp, open(tmp, "wb") as f:
        np.savez(f, **arrays)


def load_tile_state(path: Path) -> TileState:
    with np.load(path, allow_pickle=False) as z:
        return TileState(unpack("model", z), unpack("carry", z), _obs("buffer", z), z["pending"], _obs("tail", z),
                         OpenHistory(z["open.index"], z["open.stack"], z["open.clear"]))


def save_observations(path: Path, obs: Observations, ids: list[str]) -> None:
    """Archive one update's monitored observations of a tile (only candidates matter; the rest
    is stored as no data)."""
    cand = obs.candidates()
    bands = np.where(cand[:, None], obs.bands, np.nan).astype(np.float32)
    with atomic_path(path) as tmp, open(tmp, "wb") as f:
        np.savez_compressed(f, bands=bands, hint=np.where(cand, obs.hint, 0).astype(np.uint8),
                            ids=np.asarray(ids, dtype=str))


def load_observations(folder: Path) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Every archived observation of a tile: bands, hints and acquisition ids, in archive order."""
    bands, hints, ids = [], [], []
    for path in sorted(folder.glob("*.npz"), key=lambda p: int(p.stem)):
        with np.load(path, allow_pickle=False) as z:
            bands.append(z["bands"])
            hints.append(z["hint"])
            ids.extend(str(i) for i in z["ids"])
    return np.concatenate(bands), np.concatenate(hints), ids


# ------------------------------------------------------------------ generations
@contextlib.contextmanager
def locked(state: Path) -> Iterator[None]:
    """Hold the state's lock (``.STATE.lock`` beside it): one writer at a time."""
    lock = state.parent / f".{state.name}.lock"
    state.parent.mkdir(parents=True, exist_ok=True)
    with open(lock, "a") as f:
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise InputError(f"{state}: another monitor update or watch is writing this state",
                             hint="wait for it to finish") from None
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def new_generation(state: Path, *, create: bool) -> RunFolder:
    """A staging folder for the next generation of ``state`` (unless ``create``, the previous
    generation's observation archive hard-linked into it)."""
    folder = RunFolder(state, owned=is_state_folder, what="a monitoring state", label="state")
    staging = folder.open()
    if not create:
        for src in (state / "obs").rglob("*.npz"):
            dst = staging / src.relative_to(state)
            dst.parent.mkdir(parents=True, exist_ok=True)
            os.link(src, dst)
    return folder


def write_state(staging: Path, doc: dict) -> None:
    write_text(staging / STATE_FILE, json.dumps(doc, indent=1, sort_keys=True))
