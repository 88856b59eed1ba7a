"""Alembic environment: runs migrations over the async engine of the configured database."""

import asyncio

from alembic import context
from sqlalchemy.engine import Connection

import parley.models  # noqa: F401 - registers every table on the metadata
from parley.db.base import Base
from parley.db.engine import create_database
from parley.db.search import is_search_object

config = context.config
target_metadata = Base.metadata


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
        # The search structures live outside the models (FTS5 tables, GIN indexes).
        include_name=lambda name, _type, _parents: not is_search_object(name),
    )
    with context.begin_transaction():
        context.run_migrations()


async def _run_online() -> None:
    database = create_database(config.get_main_option("sqlalchemy.url") or "")
    try:
        async with database.engine.connect() as connection:
            await connection.run_sync(_run)
            await connection.commit()
    finally:
        await database.dispose()


connection = config.attributes.get("connection")
if connection is not None:
    _run(connection)
else:
    asyncio.run(_run_online())
