"""Migrations run unchanged on SQLite, PostgreSQL and MariaDB: upgrade, downgrade, upgrade,
and the migrated schema matches the models exactly, search structures included."""

from typing import Any

import anyio.to_thread
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect, text
from sqlalchemy.engine import Connection

from parley.db import migrate
from parley.db.base import Base
from parley.db.engine import create_database
from parley.db.search import is_search_object


async def _inspect(database_url: str, read: Any) -> Any:
    database = create_database(database_url)
    try:
        async with database.engine.connect() as connection:
            return await connection.run_sync(read)
    finally:
        await database.dispose()


def _tables(connection: Connection) -> set[str]:
    return {
        name
        for name in inspect(connection).get_table_names()
        if name != "alembic_version" and not is_search_object(name)
    }


def _search_objects(connection: Connection) -> set[str]:
    """The FTS5 tables and triggers (SQLite) or trigram indexes (PostgreSQL) present."""
    if connection.dialect.name == "sqlite":
        rows = connection.execute(text("SELECT name FROM sqlite_master WHERE type != 'index'"))
    elif connection.dialect.name == "postgresql":
        rows = connection.execute(text("SELECT indexname FROM pg_indexes"))
    else:
        return set()
    return {name for (name,) in rows if "_search" in name or name.endswith("_trgm")}


def _drift(connection: Connection) -> list[Any]:
    opts = {
        "compare_type": True,
        "include_name": lambda name, _type, _parents: not is_search_object(name),
    }
    context = MigrationContext.configure(connection, opts=opts)
    return list(compare_metadata(context, Base.metadata))


def _expected_search_objects(dialect: str) -> set[str]:
    if dialect == "sqlite":
        fts = {"sellers_search", "chat_sessions_search"}
        shadows = {f"{t}_{s}" for t in fts for s in ("data", "idx", "docsize", "config")}
        triggers = {f"{t}_{s}" for t in fts for s in ("ai", "ad", "au")}
        return fts | shadows | triggers
    if dialect == "postgresql":
        columns = ["name_key", "product", "description", "benefits"]
        return {f"ix_sellers_{c}_trgm" for c in columns} | {"ix_chat_sessions_title_trgm"}
    return set()


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
    assert await _inspect(schema, _search_objects) == set()
    await anyio.to_thread.run_sync(migrate.upgrade, schema)
    assert await _inspect(schema, _tables) == set(Base.metadata.tables)
    await anyio.to_thread.run_sync(migrate.downgrade, schema, "0001")
    assert await _inspect(schema, _search_objects) == set()
    await anyio.to_thread.run_sync(migrate.downgrade, schema, "base")
    await anyio.to_thread.run_sync(migrate.upgrade, schema)
    assert await _inspect(schema, _drift) == []
    expected = _expected_search_objects(create_database(schema).dialect)
    assert await _inspect(schema, _search_objects) == expected
    assert await migrate.schema_state(schema) == "current"


async def test_the_models_build_the_search_structures_the_migrations_build(schema: str) -> None:
    """The test suite's create_all and `parley serve`'s migrations run the same search SQL."""
    expected = _expected_search_objects(create_database(schema).dialect)
    assert await _inspect(schema, _search_objects) == expected
