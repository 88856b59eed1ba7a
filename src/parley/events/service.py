"""Event use cases: the catch-up feed, the live stream, stream tickets, the purge."""

import time
from collections.abc import AsyncGenerator, AsyncIterator, Callable
from datetime import timedelta
from uuid import UUID

from parley.apikeys.service import api_key_live
from parley.core.clock import utcnow
from parley.db.engine import Database
from parley.db.uow import UnitOfWork
from parley.events.errors import UnknownEventTypes
from parley.events.fanout import Fanout, Filters, LiveEvent, Subscription
from parley.events.repository import EventRepository, StoredEvent, TicketRepository
from parley.events.types import EVENT_TYPES
from parley.logins.cache import AccessCache
from parley.logins.repository import LoginSessionRepository
from parley.models.user import User

STREAM_BATCH = 100
# How often an open stream checks that its login session (or API key) is still live (closing
# within 5 s), and, as often, whether the server is stopping.
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

    async def caller_live(
        self, cache: AccessCache, *, user_id: UUID, login_session_id: UUID, api_key: bool
    ) -> User | None:
        """The user while the caller's credential is live: its login session, or its API key
        (whose id `login_session_id` then is); else None."""
        if api_key:
            return await api_key_live(
                login_session_id, user_id=user_id, database=self.database, cache=cache
            )
        return await self.login_live(cache, user_id=user_id, login_session_id=login_session_id)

    async def stream(
        self,
        *,
        user: User,
        login_session_id: UUID,
        api_key: bool = False,
        after: int,
        filters: Filters,
        fanout: Fanout,
        cache: AccessCache,
        heartbeat: float,
        stopping: Callable[[], bool],
    ) -> AsyncGenerator[LiveEvent | None, None]:
        """The user's events after `after` as they are committed, oldest first; None when a
        heartbeat is due. Ends when the login session (for `api_key`, the key whose id
        `login_session_id` is) is no longer live, or soon after `stopping()` turns true (the
        server is shutting down).

        The process's one reader hands the stream its events; a stream that is behind (it
        starts from an older id, or its buffer overflowed) reads the log itself first."""
        subscription = fanout.subscribe(user.id, filters)
        try:
            clock = time.monotonic
            last_sent = last_check = clock()
            behind = True
            while not stopping() and not subscription.closed:
                if behind:
                    async for event in self._catch_up(subscription, after, filters, user=user):
                        yield event
                        after = event.id
                        last_sent = clock()
                    behind = False
                for event in subscription.take():
                    if event.id > after:  # the catch-up may have sent it already
                        yield event
                        after = event.id
                        last_sent = clock()
                if subscription.overflowed:
                    fanout.restart(subscription)
                    behind = True
                    continue
                now = clock()
                if now - last_check >= LOGIN_CHECK_S:
                    last_check = now
                    live = await self.caller_live(
                        cache, user_id=user.id, login_session_id=login_session_id, api_key=api_key
                    )
                    if live is None:
                        return
                if now - last_sent >= heartbeat:
                    yield None
                    last_sent = now
                wait = min(LOGIN_CHECK_S - (now - last_check), heartbeat - (now - last_sent))
                await subscription.wait(max(wait, 0.05))
        finally:
            fanout.unsubscribe(subscription)

    async def _catch_up(
        self, subscription: Subscription, after: int, filters: Filters, *, user: User
    ) -> AsyncIterator[LiveEvent]:
        """The user's events after `after` from the log, up to where the subscription's buffer
        starts: read until none are left, in reads begun once that start was known."""
        while True:
            known = subscription.start is not None
            more = True
            while more:
                rows, more = await self.page(
                    user=user, after=after, limit=STREAM_BATCH, filters=filters
                )
                for row in rows:
                    yield LiveEvent.of(row)
                if rows:
                    after = rows[-1].id
            if known or subscription.closed:
                return
            await subscription.wait(LOGIN_CHECK_S)


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
