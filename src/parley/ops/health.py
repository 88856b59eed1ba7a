"""Readiness checks: each dependency answers within a short, bounded time or counts as down."""

import asyncio

import redis.asyncio as aioredis
from sqlalchemy import text

from parley.db.engine import Database

CHECK_TIMEOUT_S = 1.5


async def database_ready(database: Database) -> bool:
    """Tell whether the database answers SELECT 1 in time."""
    try:
        async with asyncio.timeout(CHECK_TIMEOUT_S), database.engine.connect() as connection:
            await connection.execute(text("SELECT 1"))
    except Exception:  # any failure means "not ready"; the reason goes to the log, not the probe
        return False
    return True


async def redis_ready(redis_url: str) -> bool:
    """Tell whether Redis answers PING in time, on a connection of its own."""
    client = aioredis.Redis.from_url(
        redis_url, socket_timeout=CHECK_TIMEOUT_S, socket_connect_timeout=CHECK_TIMEOUT_S
    )
    try:
        async with asyncio.timeout(CHECK_TIMEOUT_S):
            return bool(await client.ping())
    except Exception:
        return False
    finally:
        await client.aclose()
