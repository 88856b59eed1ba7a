"""All SQL of the event log: appending in commit order, the feed, the purge."""

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast
from uuid import UUID

from sqlalchemy import bindparam, delete, insert, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from parley.db.fast import Compiled, Driver, compiled, compiled_text
from parley.db.repository import rows_changed
from parley.db.session import begin_write
from parley.models.event import Event, EventTicket

# The PostgreSQL advisory lock that event writers take right before their events (decision 111).
EVENT_LOCK_KEY = 0x7061726C6579  # "parley"

_events = cast(Any, Event.__table__)

_LOCK_POSTGRESQL = "SELECT pg_advisory_xact_lock(:key)"
# MariaDB: every writer waits here for the one before it (an exclusive lock on one row, which
# the first writer creates: a locking read of a missing row would only take a shared gap lock).
_LOCK_MYSQL = (
    "INSERT INTO event_clock (id, ticks) VALUES (1, 1) ON DUPLICATE KEY UPDATE ticks = ticks + 1"
)
PURGE_BATCH = 1000


@dataclass(frozen=True, slots=True)
class NewEvent:
    type: str
    session_id: UUID
    user_id: UUID
    data: str  # the rendered resource (JSON)
    created_at: datetime


@dataclass(frozen=True, slots=True)
class StoredEvent:
    id: int
    type: str
    created_at: datetime
    session_id: UUID
    data: str


@dataclass(frozen=True, slots=True)
class OwnedEvent(StoredEvent):
    user_id: UUID  # whose feed the event is in: the chat session's owner when it was written


def _lock_sql(dialect: str) -> str | None:
    if dialect == "postgresql":
        return _LOCK_POSTGRESQL
    if dialect in {"mysql", "mariadb"}:
        return _LOCK_MYSQL
    return None  # SQLite: the transaction already holds the database's one write lock


class EventRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def append(self, events: Sequence[NewEvent]) -> None:
        """Write the events as the transaction's last statements, after taking the event
        writers' turn: ids are then handed out in the order the transactions commit."""
        lock = _lock_sql(self.session.get_bind().dialect.name)
        if lock is not None:
            params = {"key": EVENT_LOCK_KEY} if lock is _LOCK_POSTGRESQL else {}
            await self.session.execute(text(lock), params)
        await self.session.execute(
            insert(Event),
            [
                {
                    "type": e.type,
                    "created_at": e.created_at,
                    "session_id": e.session_id,
                    "user_id": e.user_id,
                    "data": e.data,
                }
                for e in events
            ],
        )

    async def page(
        self,
        *,
        user_id: UUID,
        after: int,
        limit: int,
        types: Collection[str] | None = None,
        session_id: UUID | None = None,
    ) -> list[StoredEvent]:
        """Up to `limit` of the user's events after the id `after`, oldest first."""
        query = (
            select(Event.id, Event.type, Event.created_at, Event.session_id, Event.data)
            .where(Event.user_id == user_id, Event.id > after)
            .order_by(Event.id)
            .limit(limit)
        )
        if types:
            query = query.where(Event.type.in_(sorted(types)))
        if session_id is not None:
            query = query.where(Event.session_id == session_id)
        rows = await self.session.execute(query)
        return [StoredEvent(*row) for row in rows]

    async def after(self, after: int, *, limit: int) -> list[OwnedEvent]:
        """Up to `limit` events of every user after the id `after`, oldest first."""
        rows = await self.session.execute(
            select(
                Event.id, Event.type, Event.created_at, Event.session_id, Event.data, Event.user_id
            )
            .where(Event.id > after)
            .order_by(Event.id)
            .limit(limit)
        )
        return [OwnedEvent(*row) for row in rows]

    async def newest_id(self) -> int:
        """The newest event id of the whole log, 0 when it is empty."""
        found = await self.session.scalar(select(Event.id).order_by(Event.id.desc()).limit(1))
        return int(found or 0)

    async def last_id(self, user_id: UUID) -> int:
        """The user's newest event id, 0 when none."""
        found = await self.session.scalar(
            select(Event.id).where(Event.user_id == user_id).order_by(Event.id.desc()).limit(1)
        )
        return int(found or 0)

    async def purge_oldest(self, cutoff: datetime) -> tuple[int, bool]:
        """Delete the events recorded before `cutoff` among the PURGE_BATCH oldest (by id);
        return how many went and whether older ones may remain after them.

        The log is read in its own order, through its primary key (no index on the time):
        events are recorded in nearly the order of their ids, so the old ones are at the start,
        and a batch holding a newer event ends the purge. The batch is read inside the write
        transaction (decision 009)."""
        await begin_write(self.session)
        rows = (
            await self.session.execute(
                select(Event.id, Event.created_at).order_by(Event.id).limit(PURGE_BATCH)
            )
        ).all()
        old = [event_id for event_id, created_at in rows if created_at < cutoff]
        if old:
            await self.session.execute(delete(Event).where(Event.id.in_(old)))
        return len(old), len(rows) == PURGE_BATCH and len(old) == len(rows)


class EventRows:
    """The event log's writes on the lean path (db/fast.py), on one driver connection."""

    def __init__(self, db: Driver, dialect: Any) -> None:
        self.db = db
        self.dialect = dialect

    async def append(self, event: NewEvent) -> None:
        """As EventRepository.append, for one event, in the driver's transaction."""
        db = self.db
        lock = _lock_sql(self.dialect.name)
        if lock is not None:
            statement = compiled_text("events.lock", self.dialect, lock)
            await db.fetch(statement, {"key": EVENT_LOCK_KEY})
        await db.fetch(
            _insert(self.dialect),
            {
                "type": event.type,
                "created_at": db.time(event.created_at),
                "session_id": db.uuid(event.session_id),
                "user_id": db.uuid(event.user_id),
                "data": event.data,
            },
        )


def _insert(dialect: Any) -> Compiled:
    return compiled(
        ("events.insert",),
        dialect,
        lambda: insert(_events).values(
            type=bindparam("type"),
            created_at=bindparam("created_at"),
            session_id=bindparam("session_id"),
            user_id=bindparam("user_id"),
            data=bindparam("data"),
        ),
    )


class TicketRepository:
    """Stream tickets kept in the database (when there is no Redis)."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def add(
        self, digest: str, *, user_id: UUID, login_session_id: UUID, expires_at: datetime
    ) -> None:
        self.session.add(
            EventTicket(
                id=digest, user_id=user_id, login_session_id=login_session_id, expires_at=expires_at
            )
        )
        await self.session.flush()

    async def take(self, digest: str, *, now: datetime) -> tuple[UUID, UUID] | None:
        """Delete the ticket and return its (user id, login session id) if it was unexpired;
        of two takers of one ticket only one gets it."""
        row = (
            await self.session.execute(
                delete(EventTicket)
                .where(EventTicket.id == digest)
                .returning(
                    EventTicket.user_id, EventTicket.login_session_id, EventTicket.expires_at
                )
            )
        ).first()
        if row is None or row[2] <= now:
            return None
        return row[0], row[1]

    async def purge_before(self, cutoff: datetime) -> int:
        result = await self.session.execute(
            delete(EventTicket).where(EventTicket.expires_at < cutoff)
        )
        return rows_changed(result)
