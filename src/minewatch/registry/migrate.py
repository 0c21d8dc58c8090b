"""Schema migrations (Alembic), run programmatically on open and by ``registry init``."""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

VERSION_TABLE = "registry_schema_version"
_SCRIPT_LOCATION = str(Path(__file__).with_name("migrations"))


def _config(conn: sa.Connection | None = None) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", _SCRIPT_LOCATION)
    if conn is not None:
        cfg.attributes["connection"] = conn
    return cfg


def head_revision() -> str:
    """Newest schema revision this code knows."""
    return ScriptDirectory.from_config(_config()).get_current_head()


def current_revision(conn: sa.Connection) -> str | None:
    """Revision the database is at (``None``: not a registry yet)."""
    ctx = MigrationContext.configure(conn, opts={"version_table": VERSION_TABLE})
    return ctx.get_current_revision()


def known_revisions() -> set[str]:
    return {s.revision for s in ScriptDirectory.from_config(_config()).walk_revisions()}


def upgrade(conn: sa.Connection, revision: str = "head") -> None:
    """Bring the database behind ``conn`` to ``revision`` (default: the newest), inside the
    caller's transaction."""
    command.upgrade(_config(conn), revision)
