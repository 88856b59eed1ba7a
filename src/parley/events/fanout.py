"""One reader of the event log per process, handing each new event to the open streams that
should see it (decision 177).

The reader keeps the id of the last event it read and, when the doorbell rings or at its poll
interval, reads the log after it: ids grow with commit order (decision 111), so reading after
one position misses nothing. Each event is rendered once and its bytes are shared by every
stream it goes to. A stream's subscription buffers what the reader hands it; the stream catches
up from the log on its own first (and again if its buffer overflowed), then drains the buffer.
"""

import asyncio
import contextlib
from collections import defaultdict, deque
from dataclasses import dataclass
from typing import Any
from uuid import UUID

import orjson
import structlog
from sse_starlette import ServerSentEvent

from parley.db.engine import Database
from parley.db.fast import utc_json_time
from parley.db.uow import UnitOfWork
from parley.events.bell import Doorbell
from parley.events.repository import EventRepository, StoredEvent
from parley.events.types import format_id

log = structlog.get_logger("parley.events")

READ_BATCH = 500
# Events a subscription holds for a stream that has not taken them; past this the stream is
# dropped from the feed and reads the log itself until it has caught up.
BUFFER = 1000


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

    def admit(self, event: StoredEvent) -> bool:
        return (self.types is None or event.type in self.types) and (
            self.session_id is None or event.session_id == self.session_id
        )


@dataclass(frozen=True, slots=True)
class LiveEvent:
    """An event ready to send: its id, type and Server-Sent Events frame."""

    id: int
    type: str
    frame: bytes

    @classmethod
    def of(cls, event: StoredEvent) -> "LiveEvent":
        frame = ServerSentEvent(
            id=format_id(event.id), event=event.type, data=orjson.dumps(render(event)).decode()
        ).encode()
        return cls(event.id, event.type, frame)


class Subscription:
    """One stream's place in the feed: what the reader handed it and it has not taken yet."""

    def __init__(self, user_id: UUID, filters: Filters) -> None:
        self.user_id = user_id
        self.filters = filters
        self.buffer: deque[LiveEvent] = deque()
        # The events after `start` reach the buffer; None until the reader knows its position.
        self.start: int | None = None
        self.overflowed = False
        self.closed = False
        self.ready = asyncio.Event()

    def offer(self, event: LiveEvent) -> None:
        if self.overflowed:
            return
        if len(self.buffer) >= BUFFER:
            self.overflowed = True
            self.buffer.clear()  # the stream reads these from the log instead
        else:
            self.buffer.append(event)
        self.ready.set()

    def take(self) -> list[LiveEvent]:
        """The buffered events, oldest first, emptying the buffer."""
        taken = list(self.buffer)
        self.buffer.clear()
        self.ready.clear()
        return taken

    async def wait(self, seconds: float) -> None:
        """Until the reader hands something over (or the feed stops), at most `seconds`."""
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(seconds):
                await self.ready.wait()


class Fanout:
    """The process's one reader of the log and the subscriptions of its open streams."""

    def __init__(self, database: Database, bell: Doorbell) -> None:
        self.database = database
        self.bell = bell
        self.position: int | None = None  # the last id read; None while nobody listens
        self._subscribers: defaultdict[UUID, set[Subscription]] = defaultdict(set)
        self._joined = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        for subscriptions in self._subscribers.values():
            for subscription in subscriptions:
                subscription.closed = True
                subscription.ready.set()

    def subscribe(self, user_id: UUID, filters: Filters) -> Subscription:
        """A subscription that buffers the user's events after the reader's position."""
        subscription = Subscription(user_id, filters)
        self.restart(subscription)
        self._subscribers[user_id].add(subscription)
        self._joined.set()
        return subscription

    def restart(self, subscription: Subscription) -> None:
        """Empty the buffer and fill it again from the reader's current position."""
        subscription.buffer.clear()
        subscription.overflowed = False
        subscription.start = self.position
        subscription.ready.clear()

    def unsubscribe(self, subscription: Subscription) -> None:
        subscriptions = self._subscribers.get(subscription.user_id)
        if subscriptions is not None:
            subscriptions.discard(subscription)
            if not subscriptions:
                del self._subscribers[subscription.user_id]

    async def _run(self) -> None:
        while True:
            if not self._subscribers:
                self.position = None  # nobody listens: no reads, and no stale position
                self._joined.clear()
                await self._joined.wait()
                continue
            rung = self.bell.current()  # before reading: a ring during the read is not missed
            try:
                await self._read()
            except Exception:  # the reader outlives a failed read; its streams wait for the next
                log.exception("event_fanout_read_failed")
            await self.bell.wait(rung, self.bell.poll_interval)

    async def _read(self) -> None:
        if self.position is None:
            async with self.database.sessions() as db, UnitOfWork(db):
                newest = await EventRepository(db).newest_id()
            self.position = newest
            for subscriptions in self._subscribers.values():
                for subscription in subscriptions:
                    if subscription.start is None:
                        subscription.start = newest
                        subscription.ready.set()
        while True:
            async with self.database.sessions() as db, UnitOfWork(db):
                rows = await EventRepository(db).after(self.position, limit=READ_BATCH)
            for row in rows:
                self._hand_over(row, self._subscribers.get(row.user_id, ()))
            if rows:
                self.position = rows[-1].id
            if len(rows) < READ_BATCH:
                return

    @staticmethod
    def _hand_over(row: StoredEvent, subscriptions: "set[Subscription] | tuple[()]") -> None:
        live: LiveEvent | None = None
        for subscription in subscriptions:
            if subscription.filters.admit(row):
                live = live or LiveEvent.of(row)
                subscription.offer(live)
