"""PostgreSQL + PostGIS backend, chosen by a ``postgresql://`` URL.

Writes are serialised by a transaction-level advisory lock so that imports
behave as on a GeoPackage (one writer at a time, all or nothing); a writer
that waits longer than ``lock_timeout`` gets
:class:`~minewatch.errors.RegistryLockedError`. Readers never wait.
"""

from __future__ import annotations

import re

import sqlalchemy as sa

from minewatch.errors import InputError, RegistryError, RegistryLockedError

NAME = "postgis"
_LOCK_KEY = 0x6D696E65  # "mine"


def _redact(url: str) -> str:
    return re.sub(r"://([^:/@]+):[^@]*@", r"://\1:***@", url)


class PostGISBackend:
    """Backend details for a PostGIS database."""

    name = NAME

    def __init__(self, url: str, lock_timeout: float = 30.0):
        self.url = url
        self.lock_timeout = float(lock_timeout)
        self.display = _redact(url)

    def exists(self) -> bool:
        return True

    def check_file(self) -> None:
        return None

    def make_engine(self) -> sa.Engine:
        url = re.sub(r"^postgres(ql)?(\+\w+)?://", "postgresql+psycopg://", self.url)
        return sa.create_engine(url, pool_pre_ping=True, pool_size=2, max_overflow=4,
                                connect_args={"connect_timeout": 10})

    def write_options(self) -> dict:
        return {}

    def lock_for_write(self, conn: sa.Connection) -> None:
        conn.exec_driver_sql(f"SET LOCAL lock_timeout = '{int(self.lock_timeout * 1000)}ms'")
        # One writer per registry: the lock is keyed on the schema the registry lives in.
        conn.exec_driver_sql(
            f"SELECT pg_advisory_xact_lock({_LOCK_KEY}, hashtext(current_schema()))")

    def translate(self, exc: BaseException) -> Exception | None:
        orig = getattr(exc, "orig", exc)
        code = getattr(orig, "sqlstate", None)
        if code == "55P03":
            return RegistryLockedError(
                f"registry {self.display} is locked by another writer; gave up after "
                f"{self.lock_timeout:g} s",
                hint="retry when the other import finishes, or raise --lock-timeout",
            )
        if "cannot contain NUL" in str(orig):  # psycopg refuses it before the server sees it
            return InputError("text cannot contain NUL (0x00) characters")
        if isinstance(exc, sa.exc.OperationalError) and code is None:
            first = str(orig).strip().splitlines()[0] if str(orig).strip() else repr(orig)
            return RegistryError(f"cannot reach registry {self.display}: {first}")
        return None

    def refresh_extent(self, conn: sa.Connection, table: sa.Table) -> None:
        """Nothing to do: PostGIS stores no layer extent (clients ask ``ST_Extent``)."""

    def bbox_clause(self, table: sa.Table, bbox: tuple[float, float, float, float]):
        """``geom && envelope``: answered from the GiST index."""
        xmin, ymin, xmax, ymax = (v if isinstance(v, sa.sql.ClauseElement) else float(v)
                                  for v in bbox)
        env = sa.func.ST_MakeEnvelope(xmin, ymin, xmax, ymax, 4326)
        return table.c.geom.op("&&")(env)

    def explain(self, conn: sa.Connection, stmt) -> str:
        compiled = stmt.compile(dialect=conn.dialect, compile_kwargs={"literal_binds": True})
        rows = conn.exec_driver_sql(f"EXPLAIN {compiled}").fetchall()
        return "\n".join(r[0] for r in rows)

    @staticmethod
    def plan_uses_spatial_index(plan: str) -> bool:
        return "_geom" in plan and "Index" in plan

    def integrity_check(self, conn: sa.Connection) -> str:
        return "ok"
