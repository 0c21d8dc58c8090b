"""Print an HTML report to PDF with headless Chromium (Debian package ``chromium``).

The same HTML is printed, so the PDF holds exactly the report's content; the
report's ``@media print`` rules set A4 pages and page breaks.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from minewatch.atomic import atomic_path
from minewatch.errors import BackendUnavailableError, DataError

CANDIDATES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable", "chrome")


def find_chromium() -> str | None:
    """Path of a Chromium/Chrome executable (``MINEWATCH_CHROMIUM`` first), or None."""
    env = os.environ.get("MINEWATCH_CHROMIUM")
    if env:
        return env if Path(env).exists() or shutil.which(env) else None
    for name in CANDIDATES:
        path = shutil.which(name)
        if path:
            return path
    return None


def require_chromium() -> str:
    path = find_chromium()
    if path is None:
        raise BackendUnavailableError(
            "--pdf needs headless Chromium, and none was found (looked for "
            + ", ".join(CANDIDATES) + " and $MINEWATCH_CHROMIUM)",
            hint="install it (Debian/Ubuntu: apt-get install chromium; or scripts/install-system-deps), "
            "or drop --pdf and print report.html from a browser")
    return path


def html_to_pdf(html: str | Path, pdf: str | Path, *, timeout: float = 180.0) -> Path:
    """Print ``html`` (a file) to ``pdf`` with headless Chromium; return the PDF path."""
    exe = require_chromium()
    html = Path(html).resolve()
    pdf = Path(pdf)
    with tempfile.TemporaryDirectory(prefix="minewatch-chromium-") as profile, atomic_path(pdf) as tmp:
        cmd = [exe, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
               "--disable-background-networking", "--disable-component-update", "--disable-sync",
               "--disable-extensions", "--disable-dev-shm-usage", "--hide-scrollbars",
               "--no-pdf-header-footer", "--run-all-compositor-stages-before-draw",
               f"--user-data-dir={profile}", f"--print-to-pdf={tmp}", html.as_uri()]
        try:
            res = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout,
                                 env=dict(os.environ, HOME=profile))
        except subprocess.TimeoutExpired:
            raise DataError(f"printing {html.name} to PDF: Chromium did not finish in {timeout:.0f} s") from None
        if res.returncode != 0 or not tmp.exists() or tmp.stat().st_size < 100 \
                or not tmp.read_bytes()[:5] == b"%PDF-":
            tail = (res.stderr or "").strip().splitlines()[-3:]
            raise DataError(f"printing {html.name} to PDF with {exe} failed (exit {res.returncode}): "
                            + " | ".join(tail))
    return pdf
