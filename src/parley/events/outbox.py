"""Recording events inside the unit of work of the change they describe (the outbox).

A use case calls `record(uow, ...)` with the resource as its GET route renders it; the event is
written as the transaction's last statement (decision 111) and exists if and only if the change
committed. After the commit the process's doorbells ring, so open streams read the log.
"""

from collections.abc import Callable
from uuid import UUID

import orjson
from sqlalchemy.ext.asyncio import AsyncSession

from parley.core.clock import utcnow
from parley.db.uow import UnitOfWork
from parley.events.repository import EventRepository, NewEvent
from parley.events.types import EventType

# Per database engine, called after each commit that wrote events to it (each application's
# doorbell registers for its own database).
_listeners: dict[object, list[Callable[[], None]]] = {}


def listen(session_bind: object, listener: Callable[[], None]) -> None:
    _listeners.setdefault(session_bind, []).append(listener)


def unlisten(session_bind: object, listener: Callable[[], None]) -> None:
    found = _listeners.get(session_bind, [])
    if listener in found:
        found.remove(listener)
    if not found:
        _listeners.pop(session_bind, None)


def ring(session: AsyncSession) -> None:
    """Tell the doorbells of this session's database that events were committed."""
    ring_engine(session.bind)


def ring_engine(engine: object) -> None:
    """Tell the doorbells of this database engine that events were committed (the lean
    path's writes, which commit past the session)."""
    for listener in list(_listeners.get(engine, ())):
        listener()


def record(
    uow: UnitOfWork, type_: EventType, *, session_id: UUID, user_id: UUID, data: bytes | str
) -> None:
    """Append an event to the unit of work's transaction, written right before it commits."""
    event = NewEvent(
        type=type_.value,
        session_id=session_id,
        user_id=user_id,
        data=data.decode() if isinstance(data, bytes) else data,
        created_at=utcnow(),
    )

    async def write() -> None:
        await uow.session.flush()
        await EventRepository(uow.session).append([event])

    uow.before_commit(write)
    uow.after_commit(lambda: ring(uow.session))


def deleted(resource_id: UUID, session_id: UUID) -> bytes:
    """The data of a `*.deleted` event."""
    return orjson.dumps({"id": str(resource_id), "session_id": str(session_id)})
