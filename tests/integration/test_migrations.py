"""Migrations run unchanged on SQLite, PostgreSQL and MariaDB: upgrade, downgrade, upgrade,
and the migrated schema matches the models exactly."""

from typing import Any

import anyio.to_thread
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect, text
from sqlalchemy.engine import Connection

from parley.db import migrate
from parley.db.base import Base
from parley.db.engine import create_database


async def _inspect(database_url: str, read: Any) -> Any:
    database = create_database(database_url)
    try:
        async with database.engine.connect() as connection:
            return await connection.run_sync(read)
    finally:
        await database.dispose()


def _tables(connection: Connection) -> set[str]:
    return set(inspect(connection).get_table_names()) - {"alembic_version"}


def _drift(connection: Connection) -> list[Any]:
    context = MigrationContext.configure(connection, opts={"compare_type": True})
    return list(compare_metadata(context, Base.metadata))


def _drop_everything(connection: Connection) -> None:
    Base.metadata.drop_all(connection)
    connection.execute(text("DROP TABLE IF EXISTS alembic_version"))


async def test_upgrade_downgrade_upgrade_leaves_the_schema_of_the_models(schema: str) -> None:
    database = create_database(schema)
    async with database.engine.begin() as connection:
        await connection.run_sync(_drop_everything)
    await database.dispose()
    await anyio.to_thread.run_sync(migrate.upgrade, schema)
    await anyio.to_thread.run_sync(migrate.downgrade, schema, "base")
    assert await _inspect(schema, _tables) == set()
    await anyio.to_thread.run_sync(migrate.upgrade, schema)
    assert await _inspect(schema, _tables) == set(Base.metadata.tables)
    await anyio.to_thread.run_sync(migrate.downgrade, schema, "base")
    await anyio.to_thread.run_sync(migrate.upgrade, schema)
    assert await _inspect(schema, _drift) == []
    assert await migrate.schema_state(schema) == "current"
