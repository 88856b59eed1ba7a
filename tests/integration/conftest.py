"""Integration fixtures: a session on the real test database inside a transaction that is
rolled back after each test, so repository tests leave nothing behind."""

from collections.abc import AsyncIterator

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from parley.db.engine import create_database


@pytest.fixture
async def db(schema: str) -> AsyncIterator[AsyncSession]:
    database = create_database(schema)
    async with database.engine.connect() as connection:
        transaction = await connection.begin()
        session = AsyncSession(
            bind=connection, expire_on_commit=False, join_transaction_mode="create_savepoint"
        )
        try:
            yield session
        finally:
            await session.close()
            await transaction.rollback()
    await database.dispose()
