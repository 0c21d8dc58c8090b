"""Registry fixtures: every ``registry`` test runs on a GeoPackage file and on PostGIS
(``new_url`` and ``pg_schema_url`` live in tests/conftest.py).
"""

from __future__ import annotations

import pytest

from minewatch.registry import init_registry


@pytest.fixture
def registry(new_url):
    """An empty registry on the parametrized backend."""
    reg = init_registry(new_url())
    yield reg
    reg.close()
