"""Alembic, run from code: ``upgrade(connection)`` brings the schema to the newest revision.

The migration scripts live in ``db/migrations/versions`` inside the package, so the image needs
no alembic.ini. On PostgreSQL the upgrade holds a transaction-scoped advisory lock: replicas
(or the chart's migration Job) starting at once take turns, and the later ones find nothing to
do. ``python -m phonicflow_backend migrate`` runs it once and exits.

Developers make a new revision with::

    .venv/bin/alembic -c services/backend/alembic.ini revision --autogenerate -m "what and why"
"""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import text
from sqlalchemy.engine import Connection

MIGRATIONS = Path(__file__).parent / "migrations"
#: pg_advisory_xact_lock key: "phonicflow" as a 63-bit number, constant across releases.
ADVISORY_LOCK_KEY = 0x70686F6E6963666C


def alembic_config(connection: Connection | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = connection
    return config


def upgrade(connection: Connection) -> None:
    """Upgrade to head inside the caller's transaction (committed by the caller)."""
    if connection.dialect.name == "postgresql":
        connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": ADVISORY_LOCK_KEY})
    command.upgrade(alembic_config(connection), "head")


def current_revision(connection: Connection) -> str | None:
    from alembic.runtime.migration import MigrationContext

    return MigrationContext.configure(connection).get_current_revision()
