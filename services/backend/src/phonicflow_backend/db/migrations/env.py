"""Alembic's environment: migrations run on the connection ``db.migrate`` hands over, or, from
the alembic command line (autogenerate), on ``DATABASE_URL`` (default: a scratch SQLite)."""

from __future__ import annotations

import asyncio
import os
from typing import Any, Literal

from alembic import context
from alembic.autogenerate.api import AutogenContext
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import create_async_engine

from phonicflow_backend.db.schema import Base, Timestamp
from phonicflow_backend.db.store import normalize_url

target_metadata = Base.metadata


def _render_item(kind: str, obj: Any, autogen_context: AutogenContext) -> str | Literal[False]:
    """Write our Timestamp type as the plain column type it stores, so revisions do not
    import application code."""
    if kind == "type" and isinstance(obj, Timestamp):
        return "sa.DateTime(timezone=True)"
    return False


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        # SQLite cannot ALTER most things: Alembic rebuilds the table instead
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
        render_item=_render_item,
    )
    with context.begin_transaction():
        context.run_migrations()


def _from_url() -> None:
    url = normalize_url(os.environ.get("DATABASE_URL", "sqlite:///alembic-scratch.db"))

    async def run() -> None:
        engine = create_async_engine(url)
        async with engine.begin() as conn:
            await conn.run_sync(_run)
        await engine.dispose()

    asyncio.run(run())


connection = context.config.attributes.get("connection")
if connection is None:
    _from_url()
else:
    _run(connection)
