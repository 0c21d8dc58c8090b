"""The registry's database: engine, read and write transactions, locking, migrations, integrity.

:class:`Database` is what every per-aggregate store (licences, sites, monitoring, ...)
works through. It speaks SQLAlchemy Core; the backend object (GeoPackage or PostGIS)
supplies the engine, the writer lock, error translation, the index-backed bounding-box
filter and the upkeep of stored layer extents.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import sqlalchemy as sa

from minewatch.errors import InputError, MinewatchError, RegistryError
from minewatch.registry import migrate
from minewatch.registry.schema import SPECS, TABLES

#: Key in ``Connection.info`` of the geometry tables written in the current write transaction.
_WRITTEN = "minewatch_written_tables"


def backend_for(url_or_path: str | Path, lock_timeout: float):
    """The backend named by ``url_or_path``: a ``postgresql://`` URL or a GeoPackage path."""
    s = str(url_or_path)
    if s.startswith(("postgresql://", "postgres://", "postgresql+psycopg://")):
        from minewatch.registry.backend_postgis import PostGISBackend

        return PostGISBackend(s, lock_timeout)
    if "://" in s and not s.startswith("file://"):
        raise InputError(f"unsupported registry URL {s!r}",
                         hint="use a .gpkg path or a postgresql:// URL")
    from minewatch.registry.backend_gpkg import GeoPackageBackend

    return GeoPackageBackend(s.removeprefix("file://"), lock_timeout)


def mark_written(conn: sa.Connection, table: sa.Table) -> None:
    """Note that ``table``'s geometries changed in this write transaction (extent upkeep)."""
    if "geom" in table.c:
        conn.info.setdefault(_WRITTEN, set()).add(table.name)


class Database:
    """One registry database: transactions, migrations and integrity over a backend."""

    def __init__(self, backend):
        self.backend = backend
        self.engine = backend.make_engine()
        self.url = backend.display

    @property
    def kind(self) -> str:
        """``geopackage`` or ``postgis``."""
        return self.backend.name

    def close(self) -> None:
        self.engine.dispose()

    @contextmanager
    def _errors(self) -> Iterator[None]:
        try:
            yield
        except MinewatchError:
            raise
        except sa.exc.SQLAlchemyError as exc:
            mapped = self.backend.translate(exc)
            if mapped is not None:
                raise mapped from None
            raise RegistryError(f"registry {self.url}: {str(exc).splitlines()[0]}") from exc

    @contextmanager
    def read(self) -> Iterator[sa.Connection]:
        """A read transaction."""
        with self._errors(), self.engine.connect() as conn, conn.begin():
            yield conn

    @contextmanager
    def write(self) -> Iterator[sa.Connection]:
        """A write transaction: exclusive among writers, all or nothing.

        Before it commits, the stored extent of every geometry table written through
        :func:`mark_written` is brought to the bounds of its data, in the same transaction.
        """
        with self._errors(), self.engine.connect() as conn:
            conn = conn.execution_options(**self.backend.write_options())
            conn.info[_WRITTEN] = set()
            try:
                with conn.begin():
                    self.backend.lock_for_write(conn)
                    yield conn
                    for name in sorted(conn.info[_WRITTEN]):
                        self.backend.refresh_extent(conn, TABLES[name])
            finally:
                conn.info.pop(_WRITTEN, None)

    def refresh_extents(self) -> None:
        """Bring the stored extent of every geometry table to its data (one transaction)."""
        with self.write() as conn:
            for spec in SPECS.values():
                if spec.geometry:
                    mark_written(conn, TABLES[spec.name])

    def migrate(self, create: bool) -> None:
        """Bring the schema to the newest revision (``create``: make a registry if missing)."""
        head = migrate.head_revision()
        with self.read() as conn:
            rev = migrate.current_revision(conn)
        if rev == head:
            return  # opening an up-to-date registry takes no write lock
        with self.write() as conn:
            rev = migrate.current_revision(conn)
            if rev is None and not create:
                raise RegistryError(
                    f"{self.url} is not a minewatch registry",
                    hint=f"create one with: minewatch registry init {self.url}",
                )
            if rev is not None and rev not in migrate.known_revisions():
                raise RegistryError(
                    f"registry {self.url} has schema {rev}, newer than this minewatch knows",
                    hint="upgrade minewatch",
                )
            if rev != head:
                migrate.upgrade(conn)

    def schema_revision(self) -> str | None:
        with self.read() as conn:
            return migrate.current_revision(conn)

    def integrity_check(self) -> str:
        """``ok`` when the storage is sound (sqlite ``PRAGMA integrity_check``)."""
        with self.read() as conn:
            return self.backend.integrity_check(conn)
