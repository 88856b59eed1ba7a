"""Migrations run unchanged on SQLite, PostgreSQL and MariaDB: upgrade, downgrade, upgrade,
and the migrated schema matches the models exactly, search structures included."""

from datetime import timedelta
from typing import Any

import anyio.to_thread
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect, select, text
from sqlalchemy.engine import Connection

from parley.core.clock import utcnow
from parley.core.ids import new_id
from parley.db import migrate
from parley.db.base import Base
from parley.db.engine import create_database
from parley.db.search import is_search_object
from parley.db.types import UTCDateTime
from parley.models.accounts import AuditEntry, KnownDevice
from parley.models.user import User


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


FIREFOX = "Mozilla/5.0 (X11; Linux x86_64; rv:120.0) Gecko/20100101 Firefox/120.0"
CHROME = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 Chrome/120.0.0.0"

# The users table as migration 0006 leaves it (the model has columns added since).
_USERS_0006 = sa.table(
    "users",
    sa.column("id", sa.Uuid()),
    sa.column("email", sa.String()),
    sa.column("email_key", sa.String()),
    sa.column("password_hash", sa.String()),
    sa.column("role", sa.String()),
    sa.column("is_active", sa.Boolean()),
    sa.column("created_at", UTCDateTime()),
    sa.column("updated_at", UTCDateTime()),
)


async def test_upgrading_to_known_devices_keeps_the_devices_of_the_last_ninety_days(
    schema: str,
) -> None:
    """Existing accounts count as signed in, and a device in the audit log's last 90 days stays
    known (its latest sign-in), so an upgrade mails no notice for it."""
    database = create_database(schema)
    async with database.engine.begin() as connection:
        await connection.run_sync(_drop_everything)
    await database.dispose()
    await anyio.to_thread.run_sync(migrate.upgrade, schema, "0006")
    now = utcnow()
    user_id, quiet_id, gone_id = new_id(), new_id(), new_id()

    def sign_in(actor: Any, agent: str, ip: str, days_ago: int) -> dict[str, Any]:
        return {
            "id": new_id(),
            "created_at": now - timedelta(days=days_ago),
            "action": "auth.login",
            "actor_id": actor,
            "user_agent": agent,
            "ip_address": ip,
        }

    database = create_database(schema)
    async with database.engine.begin() as connection:
        for id_ in (user_id, quiet_id):
            await connection.execute(
                sa.insert(_USERS_0006).values(
                    id=id_,
                    email=f"{id_}@example.com",
                    email_key=f"{id_}@example.com",
                    password_hash="x",
                    role="user",
                    is_active=True,
                    created_at=now,
                    updated_at=now,
                )
            )
        await connection.execute(
            sa.insert(AuditEntry.__table__),
            [
                sign_in(user_id, FIREFOX, "203.0.113.7", 30),
                sign_in(user_id, FIREFOX, "203.0.113.99", 2),  # the same device, later
                sign_in(user_id, CHROME, "203.0.113.7", 120),  # too long ago
                sign_in(gone_id, FIREFOX, "198.51.100.1", 1),  # a deleted account
            ],
        )
    await database.dispose()
    await anyio.to_thread.run_sync(migrate.upgrade, schema)

    def read(connection: Connection) -> tuple[list[Any], dict[Any, bool]]:
        devices = list(connection.execute(select(KnownDevice.__table__)))
        flags = {row[0]: row[1] for row in connection.execute(select(User.id, User.has_signed_in))}
        connection.execute(sa.delete(AuditEntry.__table__))
        connection.execute(sa.delete(User.__table__))
        connection.commit()
        return devices, flags

    devices, flags = await _inspect(schema, read)
    assert flags == {user_id: True, quiet_id: True}
    ((owner, browser, system, network, last_seen),) = devices
    assert (owner, browser, system, network) == (user_id, "Firefox", "Linux", "203.0.113.0/24")
    assert abs(last_seen - (now - timedelta(days=2))) < timedelta(seconds=1)
