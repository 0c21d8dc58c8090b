"""The local download cache: AOI windows of remote COGs and STAC search results.

Layout under :func:`cache_dir` (``$MINEWATCH_CACHE_DIR``, else ``~/.cache/minewatch``)::

    windows/<k[:2]>/<k>.tif      one clipped band of one item for one AOI (a COG)
    windows/<k[:2]>/<k>.json     what it is (item, band, AOI, source href)
    searches/<k>.json            the items a search returned (unsigned hrefs)

Keys are SHA-256 digests of (collection, item id, band, AOI, unsigned href), so a
re-run with the same item, AOI and band reads nothing from the network, and a
different AOI never reuses a window it does not cover. Files appear atomically
(written to ``*.tmp`` and renamed): an interrupted fetch leaves only complete
windows, and the next run resumes with the missing ones.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any


def cache_dir() -> Path:
    """The cache root: ``$MINEWATCH_CACHE_DIR`` or ``~/.cache/minewatch``."""
    env = os.environ.get("MINEWATCH_CACHE_DIR")
    if env:
        return Path(env).expanduser()
    return Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "minewatch"


def digest(*parts: Any) -> str:
    text = json.dumps(parts, sort_keys=True, default=str, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


@dataclass
class Cache:
    """A cache rooted at ``root`` (default :func:`cache_dir`)."""

    root: Path

    @classmethod
    def default(cls) -> "Cache":
        return cls(cache_dir())

    # -- windows -----------------------------------------------------------------------

    def window_key(self, collection: str, item_id: str, band: str,
                   aoi: tuple[float, float, float, float], href: str) -> str:
        aoi_r = tuple(round(float(v), 7) for v in aoi)
        return digest("window-v1", collection, item_id, band, aoi_r, href)

    def window_path(self, key: str) -> Path:
        return self.root / "windows" / key[:2] / f"{key}.tif"

    def get_window(self, key: str) -> Path | None:
        path = self.window_path(key)
        return path if path.is_file() and path.with_suffix(".json").is_file() else None

    def put_meta(self, key: str, meta: dict[str, Any]) -> None:
        """Record what a window is; written after its .tif, so presence of both = complete."""
        path = self.window_path(key).with_suffix(".json")
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text(json.dumps(meta, indent=1, default=str))
        tmp.replace(path)

    def get_meta(self, key: str) -> dict[str, Any] | None:
        path = self.window_path(key).with_suffix(".json")
        return json.loads(path.read_text()) if path.is_file() else None

    # -- searches ----------------------------------------------------------------------

    def search_path(self, key: str) -> Path:
        return self.root / "searches" / f"{key}.json"

    def get_search(self, key: str) -> list[dict[str, Any]] | None:
        path = self.search_path(key)
        if not path.is_file():
            return None
        return json.loads(path.read_text())["items"]

    def put_search(self, key: str, items: list[dict[str, Any]], query: dict[str, Any]) -> None:
        path = self.search_path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text(json.dumps({"query": query, "saved": time.time(), "items": items}))
        tmp.replace(path)

    # -- maintenance -------------------------------------------------------------------

    def info(self) -> dict[str, Any]:
        """Counts and bytes per kind of entry."""
        out: dict[str, Any] = {"root": str(self.root)}
        for kind, pattern in (("windows", "windows/*/*.tif"), ("searches", "searches/*.json")):
            files = list(self.root.glob(pattern)) if self.root.exists() else []
            out[kind] = {"count": len(files), "bytes": sum(f.stat().st_size for f in files)}
        out["total_bytes"] = sum(f.stat().st_size for f in self.root.rglob("*") if f.is_file()) \
            if self.root.exists() else 0
        return out

    def clear(self) -> int:
        """Delete every cached entry; returns the bytes freed."""
        if not self.root.exists():
            return 0
        freed = sum(f.stat().st_size for f in self.root.rglob("*") if f.is_file())
        for sub in ("windows", "searches"):
            shutil.rmtree(self.root / sub, ignore_errors=True)
        return freed
