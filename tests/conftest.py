"""Shared test fixtures.

Real data lives beside the repository in ``../shared/data``. A user's fresh
clone does not have it: tests that need it skip with a visible reason there,
while under CI (``CI=true``) its absence is a failure.
"""

from __future__ import annotations

import os
import uuid
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


# --------------------------------------------------------------------------- registry backends
# Registry tests run on a GeoPackage file and on PostGIS. The PostGIS run needs
# ``MINEWATCH_TEST_PG_URL`` (``scripts/start-postgis`` prints one; ``scripts/test`` exports
# it). Without it the PostGIS parameter skips, except under CI (``CI=true``), where its
# absence fails. Each test gets its own PostgreSQL schema.

CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}


def pg_base_url() -> str:
    url = os.environ.get("MINEWATCH_TEST_PG_URL")
    if not url:
        msg = "MINEWATCH_TEST_PG_URL is not set (run scripts/start-postgis)"
        if CI:
            pytest.fail(msg + "; CI must test PostGIS")
        pytest.skip(msg)
    return url


@pytest.fixture
def pg_schema_url():
    """Factory: a fresh schema in the test database, as a registry URL; dropped afterwards."""
    import sqlalchemy as sa

    base = pg_base_url()
    eng = sa.create_engine(base.replace("postgresql://", "postgresql+psycopg://", 1))
    made = []

    def make() -> str:
        schema = "t_" + uuid.uuid4().hex[:12]
        with eng.begin() as c:
            c.exec_driver_sql(f"CREATE SCHEMA {schema}")
        made.append(schema)
        sep = "&" if "?" in base else "?"
        return f"{base}{sep}options=-csearch_path%3D{schema},public"

    yield make
    with eng.begin() as c:
        for s in made:
            c.exec_driver_sql(f"DROP SCHEMA IF EXISTS {s} CASCADE")
    eng.dispose()


BACKENDS = [pytest.param("gpkg", id="gpkg"),
            pytest.param("postgis", id="postgis", marks=pytest.mark.db)]


@pytest.fixture(params=BACKENDS)
def new_url(request, tmp_path):
    """Factory of fresh (not yet created) registry locations on the parametrized backend."""
    if request.param == "gpkg":
        counter = iter(range(1000))
        return lambda: str(tmp_path / f"registry{next(counter)}.gpkg")
    return request.getfixturevalue("pg_schema_url")
