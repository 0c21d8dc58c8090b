"""Fixtures: a real STAC archive on disk served by a real HTTP server on loopback."""

from __future__ import annotations

import pytest

from minewatch.imagery.cache import Cache
from minewatch.testing.stac_archive import build_archive
from minewatch.testing.stac_server import LocalStacServer


@pytest.fixture(scope="session")
def archive(tmp_path_factory):
    """Three Sentinel-2 L2A dates (baselines 03.01 and 04.00), one Landsat 8, two DEM tiles."""
    return build_archive(tmp_path_factory.mktemp("archive"), n_dates=3, size=512)


@pytest.fixture(scope="session")
def archive_bnames(tmp_path_factory):
    """The same archive with Planetary-Computer-like asset keys (B02..B12, SCL)."""
    return build_archive(tmp_path_factory.mktemp("archive_b"), n_dates=2, size=512,
                         key_style="bnames", landsat=False, dem=False)


@pytest.fixture
def server(archive):
    with LocalStacServer(archive.root, max_limit=2) as srv:  # pages of 2 force paging
        yield srv


@pytest.fixture
def cache(tmp_path, monkeypatch):
    root = tmp_path / "cache"
    monkeypatch.setenv("MINEWATCH_CACHE_DIR", str(root))
    return Cache(root)
