"""Finished tiles of a run kept on disk, so a killed run restarted with the same command redoes
only the tiles that were not finished.

Each finished tile's :class:`~minewatch.run.tiles.TileResult` is pickled into
``.OUT.tiles-<key>/tile-NNNNN.pkl`` beside ``OUT`` (written beside, then renamed: a tile file is
whole or absent). ``<key>`` hashes everything a tile's result depends on (minewatch version,
scenes and their files, bands, grid, backend, period, detection options), so a changed request
never reuses another request's tiles. The folder is deleted when the run is published; a run
killed (SIGKILL of the client or a worker) leaves it for the next one.
"""

from __future__ import annotations

import hashlib
import pickle
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from minewatch.atomic import atomic_path

TAG = ".tiles-"


def request_key(*parts: Any) -> str:
    """A short stable hash of ``parts`` (their ``repr``: dataclasses, dates, paths, numbers)."""
    import minewatch

    text = repr((minewatch.__version__, *parts))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:20]


class TileCheckpoint:
    """The finished tiles of one request (module docstring); ``folder=None`` keeps nothing."""

    def __init__(self, folder: Path | None) -> None:
        self.folder = folder

    @classmethod
    def beside(cls, out: Path, key: str) -> TileCheckpoint:
        out = Path(out)
        return cls(out.parent / f".{out.name}{TAG}{key}")

    def _path(self, index: int) -> Path:
        assert self.folder is not None
        return self.folder / f"tile-{index:05d}.pkl"

    def finished(self) -> list[int]:
        """Indexes of the tiles already finished."""
        if self.folder is None or not self.folder.is_dir():
            return []
        return sorted(int(p.stem.split("-")[1]) for p in self.folder.glob("tile-*.pkl"))

    def load(self, index: int) -> Any:
        with open(self._path(index), "rb") as f:
            return pickle.load(f)

    def save(self, index: int, result: Any) -> None:
        if self.folder is None:
            return
        with atomic_path(self._path(index)) as tmp, open(tmp, "wb") as f:
            pickle.dump(result, f, protocol=pickle.HIGHEST_PROTOCOL)

    def iter_finished(self) -> Iterator[tuple[int, Any]]:
        for i in self.finished():
            yield i, self.load(i)

    def remove(self) -> None:
        """Delete this request's tiles and those of earlier requests for the same ``OUT``."""
        if self.folder is None:
            return
        prefix = self.folder.name.split(TAG)[0] + TAG
        for path in self.folder.parent.glob(prefix + "*"):
            shutil.rmtree(path, ignore_errors=True)
