"""Programmatic Alembic: upgrade, downgrade and "is this database new or behind?"."""

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect
from sqlalchemy.engine import Connection

from parley.db.engine import create_database


def alembic_config(database_url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", "parley:migrations")
    config.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    return config


def upgrade(database_url: str, revision: str = "head") -> None:
    command.upgrade(alembic_config(database_url), revision)


def downgrade(database_url: str, revision: str) -> None:
    command.downgrade(alembic_config(database_url), revision)


async def schema_state(database_url: str) -> str:
    """Return "new" (no tables), "current" (at head) or "behind"."""
    head = ScriptDirectory.from_config(alembic_config(database_url)).get_current_head()

    def read(connection: Connection) -> str:
        if not inspect(connection).get_table_names():
            return "new"
        current = MigrationContext.configure(connection).get_current_revision()
        return "current" if current == head else "behind"

    database = create_database(database_url)
    try:
        async with database.engine.connect() as connection:
            return await connection.run_sync(read)
    finally:
        await database.dispose()
