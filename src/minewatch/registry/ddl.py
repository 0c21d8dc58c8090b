"""DDL helpers used by the migrations: create spec tables with the backend's spatial extras."""

from __future__ import annotations

import sqlalchemy as sa

from minewatch.registry import gpkg
from minewatch.registry.schema import TableSpec, build_metadata


def _exec_sqlite(conn: sa.Connection, stmts: list[tuple[str, tuple]]) -> None:
    raw = conn.connection.driver_connection
    for sql, params in stmts:
        raw.execute(sql, params)


def create_spec_tables(conn: sa.Connection, spec: tuple[TableSpec, ...]) -> None:
    """Create the tables of ``spec`` on ``conn``.

    On sqlite this also writes the GeoPackage core tables, registers every
    table in ``gpkg_contents`` and builds each geometry column's R-tree with its
    triggers. On PostgreSQL it adds a GiST index on each geometry column.
    """
    md = build_metadata(spec)
    if conn.dialect.name == "sqlite":
        _exec_sqlite(conn, gpkg.core_statements())
    else:
        conn.execute(sa.text("CREATE EXTENSION IF NOT EXISTS postgis"))
    md.create_all(conn)
    for t in spec:
        if conn.dialect.name == "sqlite":
            _exec_sqlite(conn, gpkg.register_table_statements(t.name, t.description, t.geometry))
        elif t.geometry:
            conn.execute(sa.text(
                f'CREATE INDEX "ix_{t.name}_geom" ON "{t.name}" USING GIST (geom)'))
