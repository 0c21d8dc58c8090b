"""Hashes of files and the facts about the software that shaped a run.

Every file is hashed whole (SHA-256 over all its bytes). For a local GeoTIFF
this covers the bytes the analysis read and the rest of the file too, so a
change anywhere in the file is detected, not only in the windows read.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import os
import platform
import subprocess
from pathlib import Path

CHUNK = 1 << 20


def sha256_file(path: str | Path) -> tuple[str, int]:
    """SHA-256 (hex) and size in bytes of a whole file."""
    digest = hashlib.sha256()
    size = 0
    with open(path, "rb") as fh:
        while True:
            block = fh.read(CHUNK)
            if not block:
                break
            digest.update(block)
            size += len(block)
    return digest.hexdigest(), size


def sha256_bytes(data: bytes) -> str:
    """SHA-256 (hex) of ``data``."""
    return hashlib.sha256(data).hexdigest()


def git_commit(start: str | Path | None = None) -> dict:
    """The git commit of the minewatch source tree, or ``"unknown"``.

    Never raises: a missing ``git`` executable, a non-checkout install or a
    slow repository all give ``{"commit": "unknown", ...}``.
    """
    where = Path(start) if start else Path(__file__).resolve().parents[1]
    info = {"commit": "unknown", "describe": None, "dirty": None}
    env = dict(os.environ, GIT_OPTIONAL_LOCKS="0")

    def git(*args: str) -> str | None:
        try:
            res = subprocess.run(["git", "-C", str(where), *args], capture_output=True, text=True,
                                 timeout=10, env=env)
        except (OSError, subprocess.SubprocessError):
            return None
        return res.stdout.strip() if res.returncode == 0 else None

    commit = git("rev-parse", "HEAD")
    if not commit:
        return info
    info["commit"] = commit
    info["describe"] = git("describe", "--always", "--dirty", "--tags")
    status = git("status", "--porcelain", "--untracked-files=no", "--", ".")
    info["dirty"] = None if status is None else bool(status)
    return info


def _dist_version(name: str) -> str | None:
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return None


def library_versions(backend: str) -> dict:
    """Versions of the libraries that shape results, and the change engine's backend.

    Parameters
    ----------
    backend : str
        The backend the run asked for (``auto`` or ``cpu``).
    """
    import numpy as np
    import rasterio

    libs = {
        "python": platform.python_version(),
        "numpy": np.__version__,
        "rasterio": rasterio.__version__,
        "gdal": rasterio.__gdal_version__,
        "proj": getattr(rasterio, "__proj_version__", None),
        "scipy": _dist_version("scipy"),
        "numba": _dist_version("numba"),
        "shapely": _dist_version("shapely"),
        "pyproj": _dist_version("pyproj"),
        "matplotlib": _dist_version("matplotlib"),
    }
    try:
        import shapely

        libs["geos"] = shapely.geos_version_string
    except Exception:  # noqa: BLE001 - informational only
        pass
    engine = {"requested": backend, "resolved": None, "library": None, "device": None}
    try:
        from minewatch.analysis.change.backend import resolve_backend

        resolved = resolve_backend(backend)
    except Exception as exc:  # noqa: BLE001 - record, never fail the run here
        resolved = f"unavailable ({exc})"
    engine["resolved"] = resolved
    if resolved == "cpu":
        engine["library"] = f"numba {libs['numba']}"
        engine["device"] = platform.processor() or platform.machine()
    return {"platform": platform.platform(), "machine": platform.machine(), "libraries": libs,
            "change_engine": engine}
