"""Event use cases: the catch-up feed, the live stream's reads, stream tickets, the purge."""

import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any
from uuid import UUID

import orjson

from parley.auth.cache import AccessCache
from parley.auth.repository import LoginSessionRepository
from parley.core.clock import utcnow
from parley.db.engine import Database
from parley.db.fast import utc_json_time
from parley.db.uow import UnitOfWork
from parley.events.bell import Doorbell
from parley.events.errors import UnknownEventTypes
from parley.events.repository import EventRepository, StoredEvent, TicketRepository
from parley.events.types import EVENT_TYPES, format_id
from parley.models.user import User

STREAM_BATCH = 100
# How often an open stream checks that its login session is still live (closing within 5 s),
# and, as often, whether the server is stopping.
LOGIN_CHECK_S = 2.0


def parse_types(text: str | None) -> frozenset[str] | None:
    """`types=a,b` as a set; None when absent or empty; 422 for an unknown type."""
    if text is None:
        return None
    wanted = frozenset(t.strip() for t in text.split(",") if t.strip())
    unknown = sorted(wanted - EVENT_TYPES)
    if unknown:
        raise UnknownEventTypes(unknown)
    return wanted or None


def render(event: StoredEvent) -> dict[str, Any]:
    """An event as the API shows it; its data is embedded as stored, already JSON."""
    return {
        "id": format_id(event.id),
        "type": event.type,
        "created_at": utc_json_time(event.created_at),
        "session_id": str(event.session_id),
        "data": orjson.Fragment(event.data),
    }


@dataclass(frozen=True, slots=True)
class Filters:
    types: frozenset[str] | None
    session_id: UUID | None


class EventService:
    def __init__(self, database: Database) -> None:
        self.database = database

    async def page(
        self, *, user: User, after: int, limit: int, filters: Filters
    ) -> tuple[list[StoredEvent], bool]:
        """Up to `limit` of the user's events after `after`, oldest first, and whether more
        follow."""
        async with self.database.sessions() as db, UnitOfWork(db):
            rows = await EventRepository(db).page(
                user_id=user.id,
                after=after,
                limit=limit + 1,
                types=filters.types,
                session_id=filters.session_id,
            )
        return rows[:limit], len(rows) > limit

    async def last_id(self, user: User) -> int:
        async with self.database.sessions() as db, UnitOfWork(db):
            return await EventRepository(db).last_id(user.id)

    async def login_live(
        self, cache: AccessCache, *, user_id: UUID, login_session_id: UUID
    ) -> User | None:
        """The user while the login session is live and the user active; else None."""
        cached = cache.get(login_session_id, user_id)
        if cached is not None:
            return cached
        async with self.database.sessions() as db, UnitOfWork(db):
            found = await LoginSessionRepository(db).get_live_with_user(
                login_session_id, user_id=user_id, now=utcnow()
            )
        return None if found is None else found[1]

    async def stream(
        self,
        *,
        user: User,
        login_session_id: UUID,
        after: int,
        filters: Filters,
        bell: Doorbell,
        cache: AccessCache,
        heartbeat: float,
        stopping: Callable[[], bool],
    ) -> AsyncIterator[StoredEvent | None]:
        """The user's events after `after` as they are committed, oldest first; None when a
        heartbeat is due. Ends when the login session is no longer live, or soon after
        `stopping()` turns true (the server is shutting down).

        The log is read when the bell rings and at least every `bell.poll_interval` seconds,
        so a lost ring delays an event but never loses it."""
        clock = time.monotonic
        last_sent = last_check = clock()
        last_read = float("-inf")
        rang = True
        while not stopping():
            rung = bell.current()  # before reading: a ring during the read is not missed
            now = clock()
            if rang or now - last_read >= bell.poll_interval:
                last_read = now
                rows, more = await self.page(
                    user=user, after=after, limit=STREAM_BATCH, filters=filters
                )
                for row in rows:
                    yield row
                if rows:
                    after = rows[-1].id
                    last_sent = clock()
                if more:
                    continue
            now = clock()
            if now - last_check >= LOGIN_CHECK_S:
                last_check = now
                live = await self.login_live(
                    cache, user_id=user.id, login_session_id=login_session_id
                )
                if live is None:
                    return
            if now - last_sent >= heartbeat:
                yield None
                last_sent = now
            wait = min(
                bell.poll_interval - (now - last_read),
                LOGIN_CHECK_S - (now - last_check),
                heartbeat - (now - last_sent),
            )
            rang = await bell.wait(rung, max(wait, 0.05))


async def purge_expired(database: Database, *, retention: timedelta | int) -> int:
    """Delete the events older than the retention (EVENT_RETENTION, in seconds or as a
    timedelta) and the expired stream tickets; return how many events went. Run periodically
    by the job system; each batch is a transaction of its own."""
    if isinstance(retention, int):
        retention = timedelta(seconds=retention)
    now = utcnow()
    removed = 0
    more = True
    while more:
        async with database.sessions() as db, UnitOfWork(db) as uow:
            count, more = await EventRepository(db).purge_oldest(now - retention)
            await uow.commit()
        removed += count
    async with database.sessions() as db, UnitOfWork(db) as uow:
        await TicketRepository(db).purge_before(now)
        await uow.commit()
    return removed
