"""GeoPackage backend: one ``.gpkg`` file through the standard-library sqlite3 driver.

Writers take the database lock up front (``BEGIN IMMEDIATE``) and wait up to
``lock_timeout`` seconds for another writer (sqlite busy timeout); past that
the operation fails with :class:`~minewatch.errors.RegistryLockedError`. The
rollback journal (sqlite's default) makes every transaction atomic even when
the process is killed: the next opener rolls the hot journal back.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy import event

from minewatch.errors import RegistryError, RegistryLockedError
from minewatch.registry import gpkg

NAME = "geopackage"


class GeoPackageBackend:
    """Backend details for a GeoPackage file."""

    name = NAME

    def __init__(self, path: str | Path, lock_timeout: float = 30.0):
        self.path = Path(path)
        self.lock_timeout = float(lock_timeout)
        self.display = str(self.path)

    # -- engine ---------------------------------------------------------------
    def exists(self) -> bool:
        return self.path.exists() and self.path.stat().st_size > 0

    def check_file(self) -> None:
        """Refuse files that are not sqlite databases, with a clear message."""
        with open(self.path, "rb") as fh:
            head = fh.read(16)
        if head != b"SQLite format 3\x00":
            raise RegistryError(
                f"{self.path} is not a GeoPackage (not an SQLite file)",
                hint="give the path of a registry made by 'minewatch registry init'",
            )

    def make_engine(self) -> sa.Engine:
        timeout = self.lock_timeout
        engine = sa.create_engine(
            f"sqlite:///{self.path}",
            connect_args={"timeout": timeout, "check_same_thread": False},
        )

        @event.listens_for(engine, "connect")
        def _on_connect(dbapi_conn, _record):
            dbapi_conn.isolation_level = None  # we issue BEGIN ourselves
            gpkg.register_functions(dbapi_conn)
            dbapi_conn.execute(f"PRAGMA busy_timeout = {int(timeout * 1000)}")
            dbapi_conn.execute("PRAGMA cache_size = -65536")
            dbapi_conn.execute("PRAGMA foreign_keys = OFF")

        @event.listens_for(engine, "begin")
        def _on_begin(conn):
            mode = conn.get_execution_options().get("sqlite_begin", "DEFERRED")
            conn.exec_driver_sql(f"BEGIN {mode}")

        return engine

    # -- transactions -----------------------------------------------------------
    def write_options(self) -> dict:
        return {"sqlite_begin": "IMMEDIATE"}

    def lock_for_write(self, conn: sa.Connection) -> None:
        """Nothing to do: BEGIN IMMEDIATE already holds the write lock."""

    def translate(self, exc: BaseException) -> Exception | None:
        orig = getattr(exc, "orig", exc)
        if isinstance(orig, sqlite3.OperationalError):
            msg = str(orig)
            if "locked" in msg or "busy" in msg:
                return RegistryLockedError(
                    f"registry {self.path} is locked by another writer; gave up after "
                    f"{self.lock_timeout:g} s",
                    hint="retry when the other import finishes, or raise --lock-timeout",
                )
            if "not a database" in msg or "malformed" in msg:
                return RegistryError(f"{self.path} is not a readable GeoPackage: {msg}")
            if "readonly" in msg or "unable to open" in msg:
                return RegistryError(f"cannot write registry {self.path}: {msg}")
        return None

    # -- spatial ----------------------------------------------------------------
    def refresh_extent(self, conn: sa.Connection, table: sa.Table) -> None:
        """Set ``table``'s extent in gpkg_contents to the bounds of its data (this transaction)."""
        sql, params = gpkg.refresh_extent_statement(table.name)
        conn.connection.driver_connection.execute(sql, params)

    def bbox_clause(self, table: sa.Table, bbox: tuple[float, float, float, float]):
        """``fid IN (R-tree hits)``: the candidate rows whose envelope meets ``bbox``."""
        xmin, ymin, xmax, ymax = bbox
        rt = sa.table(f"rtree_{table.name}_geom", sa.column("id"), sa.column("minx"),
                      sa.column("maxx"), sa.column("miny"), sa.column("maxy"))
        sub = sa.select(rt.c.id).where(
            rt.c.minx <= xmax, rt.c.maxx >= xmin, rt.c.miny <= ymax, rt.c.maxy >= ymin
        )
        return table.c.fid.in_(sub)

    def explain(self, conn: sa.Connection, stmt) -> str:
        compiled = stmt.compile(dialect=conn.dialect, compile_kwargs={"literal_binds": True})
        rows = conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {compiled}").fetchall()
        return "\n".join(str(r[-1]) for r in rows)

    @staticmethod
    def plan_uses_spatial_index(plan: str) -> bool:
        return "rtree_" in plan and "VIRTUAL TABLE INDEX" in plan

    def integrity_check(self, conn: sa.Connection) -> str:
        return conn.exec_driver_sql("PRAGMA integrity_check").scalar()
