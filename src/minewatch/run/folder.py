"""A run folder written whole: into a staging folder beside it, published by one rename.

A reader of ``OUT`` (a person, ``minewatch verify``, the dashboard) sees either the complete
previous run or the complete new one, never a mix and never half a run, whatever moment the
process is killed at:

* :meth:`RunFolder.check` refuses, before any work, an ``OUT`` that is a file, lies below a
  file, cannot be written, or is a folder holding something other than a minewatch run (which
  publishing would replace);
* everything of the run is written into ``.OUT.staging-<pid>-<random>`` beside ``OUT`` (same
  filesystem, so relative paths from it are the same as from ``OUT``);
* :meth:`RunFolder.publish` swaps the staging folder and ``OUT`` in one atomic
  ``renameat2(RENAME_EXCHANGE)`` (Linux), or renames ``OUT`` aside and the staging folder into
  place where that call does not exist; the old run is then deleted;
* staging folders left by killed runs are deleted when the next run starts.
"""

from __future__ import annotations

import ctypes
import errno
import json
import os
import secrets
import shutil
from pathlib import Path

from minewatch.errors import InputError

STAGING_TAG = ".staging-"
_AT_FDCWD = -100
_RENAME_EXCHANGE = 2


def _exchange(a: Path, b: Path) -> bool:
    """Atomically swap two paths (Linux ``renameat2``); False where the call is unavailable."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        fn = libc.renameat2
    except (OSError, AttributeError):
        return False
    fn.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
    if fn(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE) == 0:
        return True
    err = ctypes.get_errno()
    if err in (errno.ENOSYS, errno.EINVAL, errno.ENOTSUP):
        return False
    raise OSError(err, os.strerror(err), str(a))


def is_run_folder(path: Path) -> bool:
    """Whether ``path`` holds a minewatch run (its ``summary.json`` names minewatch)."""
    try:
        doc = json.loads((path / "summary.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return isinstance(doc, dict) and "minewatch_version" in doc


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class RunFolder:
    """The output folder of a run and its staging folder (module docstring)."""

    def __init__(self, out: str | Path, *, owned=is_run_folder, what: str = "a minewatch run",
                 label: str = "--out") -> None:
        self.final = Path(out)
        self.staging: Path | None = None
        self.owned = owned  #: whether an existing folder is one this kind of folder may replace
        self.what = what
        self.label = label  #: how messages name the folder

    def check(self) -> None:
        """Raise :class:`InputError` if the run could not be published at ``OUT`` (before any work)."""
        out = self.final
        if out.exists() and not out.is_dir():
            raise InputError(f"--out {out}: is a file, not a folder", hint="give a new or empty folder")
        for parent in out.parents:
            if parent.exists():
                if not parent.is_dir():
                    raise InputError(f"--out {out}: {parent} is a file, so nothing can be written below it")
                if not os.access(parent, os.W_OK | os.X_OK):
                    raise InputError(f"--out {out}: cannot write in {parent} (permission denied)",
                                     hint="choose a folder you can write to")
                break
        if out.is_dir() and any(out.iterdir()) and not self.owned(out):
            raise InputError(f"{self.label} {out}: the folder holds files that are not {self.what}, which is replaced "
                             f"as a whole", hint="give a new or empty folder")

    def open(self) -> Path:
        """Create the staging folder (after removing those of killed runs) and return it."""
        self.check()
        parent = self.final.parent
        try:
            parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise InputError(f"--out {self.final}: cannot create {parent} ({exc.strerror})") from None
        self._clean_stale()
        name = f".{self.final.name}{STAGING_TAG}{os.getpid()}-{secrets.token_hex(4)}"
        self.staging = parent / name
        try:
            self.staging.mkdir()
        except OSError as exc:
            raise InputError(f"--out {self.final}: cannot write in {parent} ({exc.strerror})") from None
        return self.staging

    def _clean_stale(self) -> None:
        prefix = f".{self.final.name}{STAGING_TAG}"
        for path in self.final.parent.glob(prefix + "*"):
            pid = path.name[len(prefix):].split("-")[0]
            if pid.isdigit() and not _pid_alive(int(pid)):
                shutil.rmtree(path, ignore_errors=True)

    def shown(self, path: str | Path) -> Path:
        """``path`` as it will be once published (a path inside the staging folder moves to ``OUT``)."""
        path = Path(path)
        if self.staging is not None:
            try:
                return self.final / path.relative_to(self.staging)
            except ValueError:
                pass
        return path

    def publish(self) -> None:
        """Put the staging folder in place of ``OUT`` in one step, then delete the previous run."""
        assert self.staging is not None
        staging, final = self.staging, self.final
        if not final.exists():
            os.rename(staging, final)
        elif _exchange(staging, final):
            shutil.rmtree(staging, ignore_errors=True)  # now holds the previous run
        else:
            old = final.with_name(f".{final.name}.old-{secrets.token_hex(4)}")
            os.rename(final, old)
            os.rename(staging, final)
            shutil.rmtree(old, ignore_errors=True)
        self.staging = None

    def discard(self) -> None:
        """Delete the staging folder (the run failed: ``OUT`` is left as it was)."""
        if self.staging is not None:
            shutil.rmtree(self.staging, ignore_errors=True)
            self.staging = None
