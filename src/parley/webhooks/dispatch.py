"""The dispatcher: turns each committed event of the event log into deliveries for its owner's
matching active webhooks (decision 154).

It reads the log from a stored position, in one transaction per batch that locks the position
row, inserts the deliveries with their first attempt's job, and moves the position: a batch is
dispatched exactly once whatever crashes; pairs already delivered are skipped, and the unique
(webhook, event) pair refuses a duplicate all the same. Event ids become visible in commit
order (decision 111), so nothing committed later can appear behind the position. A webhook
receives the events recorded from its creation on.
"""

import asyncio
from collections import defaultdict
from uuid import UUID

import orjson
import structlog

from parley.core.clock import utcnow
from parley.core.ids import new_id
from parley.db.engine import Database, create_sibling
from parley.db.errors import is_database_unavailable
from parley.db.uow import UnitOfWork
from parley.events.types import format_id
from parley.models.webhook import DeliveryStatus, Webhook, WebhookDelivery
from parley.webhooks import scheduling
from parley.webhooks.repository import (
    DeliveryRepository,
    DispatchedEvent,
    DispatchRepository,
    WebhookRepository,
)
from parley.webhooks.schemas import ALL_EVENTS

log = structlog.get_logger("parley.webhooks")

BATCH = 200
STOP_GRACE_S = 10.0
# A run starts at most this often: the commits of a busy moment share one run (its reads cost
# about as much as a post), for at most this much more delay before a delivery is queued.
MIN_RUN_INTERVAL_S = 0.1
# A batch that lost a deadlock to concurrent writers (MariaDB) is tried again up to this often.
CONFLICT_RETRIES = 3


def event_body(event: DispatchedEvent) -> str:
    """The event as JSON, as the events feed renders it: the delivery's body."""
    head = orjson.dumps(
        {
            "id": format_id(event.id),
            "type": event.type,
            "created_at": event.created_at.isoformat().replace("+00:00", "Z"),
            "session_id": str(event.session_id),
        }
    ).decode()
    return f'{head[:-1]},"data":{event.data}}}'


def matches(webhook: Webhook, event: DispatchedEvent) -> bool:
    return (
        webhook.is_active
        and event.created_at >= webhook.created_at
        and (webhook.events == [ALL_EVENTS] or event.type in webhook.events)
    )


async def dispatch_events(database: Database, *, batch: int = BATCH) -> int:
    """Dispatch every event committed so far; return how many deliveries were made."""
    made = 0
    retries = 0
    while True:
        async with database.sessions() as db, UnitOfWork(db):
            # Reads first: with no active webhook or nothing new, no write is begun at all.
            if not await WebhookRepository(db).any_active():
                return made
            position = await DispatchRepository(db).position()
            newest = await DispatchRepository(db).newest_event_id()
        if newest <= position:
            return made
        try:
            made_now, more = await _dispatch_batch(database, upto=newest, batch=batch)
        except Exception as error:
            # The database asks for the transaction again (a deadlock); a lasting outage is
            # left to the caller after a few tries.
            retries += 1
            if retries > CONFLICT_RETRIES or not is_database_unavailable(error):
                raise
            await asyncio.sleep(0.01 * retries)
            continue
        made += made_now
        if not more:
            return made


async def _dispatch_batch(database: Database, *, upto: int, batch: int) -> tuple[int, bool]:
    made = 0
    async with database.sessions() as db:
        uow = UnitOfWork(db)
        async with uow:
            dispatch = DispatchRepository(db)
            position = await dispatch.lock_position()
            if position >= upto:
                return 0, False  # another dispatcher got there first
            events = await dispatch.events_for_webhooks(after=position, upto=upto, limit=batch)
            full = len(events) == batch
            hooks: dict[UUID, list[Webhook]] = defaultdict(list)
            users = sorted({event.user_id for event in events})
            for webhook in await WebhookRepository(db).active_for_users(users):
                hooks[webhook.user_id].append(webhook)
            deliveries = DeliveryRepository(db)
            made_ids = await deliveries.existing_pairs(
                [w.id for ws in hooks.values() for w in ws], [format_id(e.id) for e in events]
            )
            for event in events:
                for webhook in hooks[event.user_id]:
                    pair = (webhook.id, format_id(event.id))
                    if pair not in made_ids and matches(webhook, event):
                        _deliver(uow, deliveries, webhook, event)
                        made += 1
            await deliveries.flush()
            await dispatch.move_position(events[-1].id if full else upto)
            await uow.commit()
    return made, full


def _deliver(
    uow: UnitOfWork, deliveries: DeliveryRepository, webhook: Webhook, event: DispatchedEvent
) -> None:
    delivery = deliveries.add(
        WebhookDelivery(
            id=new_id(),
            webhook_id=webhook.id,
            event_id=format_id(event.id),
            event_type=event.type,
            payload=event_body(event),
            status=DeliveryStatus.PENDING.value,
            attempts=0,
            next_attempt_at=event.created_at,
            created_at=utcnow(),
        )
    )
    scheduling.schedule_attempt(uow, delivery.id, attempt=1, delay=None)


class Dispatcher:
    """Runs the dispatcher in this process whenever it commits events (the doorbell), one
    run at a time; the periodic dispatch job catches what other processes committed."""

    def __init__(self, database: Database) -> None:
        # A small pool of its own: its reads and writes never wait behind requests for a
        # connection (nor count among theirs), and share SQLite's writer turn with them.
        self._database = create_sibling(database, pool_size=2)
        # Events commit through the requests' engine: its commits ring this dispatcher.
        self._requests_engine = database.engine
        self._rung = asyncio.Event()
        self._stopping = False
        self._task: asyncio.Task[None] | None = None

    def ring(self) -> None:
        self._rung.set()

    def start(self) -> None:
        from parley.events import outbox

        self._stopping = False
        outbox.listen(self._requests_engine, self.ring)
        self._task = asyncio.create_task(self._run(), name="webhook-dispatcher")
        self.ring()  # events committed while no process ran

    async def stop(self) -> None:
        """Let a run in progress finish (its transaction ends cleanly), then stop."""
        from parley.events import outbox

        outbox.unlisten(self._requests_engine, self.ring)
        if self._task is None:
            return
        self._stopping = True
        self.ring()
        try:
            await asyncio.wait_for(asyncio.shield(self._task), STOP_GRACE_S)
        except TimeoutError:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        self._task = None
        await self._database.dispose()

    async def _run(self) -> None:
        while True:
            await self._rung.wait()
            self._rung.clear()
            if self._stopping:
                return
            try:
                await dispatch_events(self._database)
            except Exception as exc:  # the database may be away; the next ring or job retries
                log.warning("webhook_dispatch_failed", error=type(exc).__name__)
                await asyncio.sleep(1.0)
            await asyncio.sleep(MIN_RUN_INTERVAL_S)
