"""Shared test fixtures.

Real data lives beside the repository in ``../shared/data``. A user's fresh
clone does not have it: tests that need it skip with a visible reason there,
while under CI (``CI=true``) its absence is a failure.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO_ROOT.parent / "shared" / "data"


def shared_path(*parts: str) -> Path:
    """Path under ../shared/data; skip (or fail under CI) if it is missing."""
    path = SHARED_DATA.joinpath(*parts)
    if not path.exists():
        msg = f"real data not found at {path} (../shared/data beside the repo)"
        if os.environ.get("CI", "").lower() in {"1", "true", "yes"}:
            pytest.fail(msg + "; CI must have it")
        pytest.skip(msg)
    return path


@pytest.fixture
def shared_data():
    """Callable fixture: ``shared_data("dem_samples", "pysheds_dem.tif")``."""
    return shared_path
