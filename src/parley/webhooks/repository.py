"""All SQL of the webhooks domain: webhooks, their deliveries and their purge, and the
dispatcher's reading of the event log."""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from parley.core.clock import utcnow
from parley.db.repository import Repository, lock_row
from parley.db.session import begin_write
from parley.models.event import Event
from parley.models.user import User
from parley.models.webhook import (
    DeliveryStatus,
    Webhook,
    WebhookDelivery,
    WebhookDispatchPosition,
)

FINISHED = (DeliveryStatus.SUCCEEDED.value, DeliveryStatus.FAILED.value)


class WebhookRepository(Repository[Webhook]):
    model = Webhook

    async def lock_owner(self, user_id: UUID) -> bool:
        """Hold the owner's row, so concurrent creations count the webhooks one at a time."""
        return await lock_row(self.session, User, user_id, User.id) is not None

    async def count_for_user(self, user_id: UUID) -> int:
        query = select(func.count()).select_from(Webhook).where(Webhook.user_id == user_id)
        return int((await self.session.execute(query)).scalar_one())

    async def get_owned(
        self, webhook_id: UUID, user_id: UUID, *, lock: bool = False
    ) -> Webhook | None:
        if lock:
            await begin_write(self.session)
        query = select(Webhook).where(Webhook.id == webhook_id, Webhook.user_id == user_id)
        if lock:
            query = query.with_for_update()
        found: Webhook | None = (await self.session.execute(query)).scalar_one_or_none()
        return found

    async def get_locked(self, webhook_id: UUID) -> Webhook | None:
        await begin_write(self.session)
        query = select(Webhook).where(Webhook.id == webhook_id).with_for_update()
        found: Webhook | None = (await self.session.execute(query)).scalar_one_or_none()
        return found

    async def list_for_user(
        self, user_id: UUID, *, limit: int, after: UUID | None
    ) -> list[Webhook]:
        """The user's webhooks, newest first."""
        query = select(Webhook).where(Webhook.user_id == user_id)
        if after is not None:
            query = query.where(Webhook.id < after)
        query = query.order_by(Webhook.id.desc()).limit(limit)
        return list((await self.session.execute(query)).scalars())

    async def mark_succeeding(self, webhook_id: UUID) -> None:
        await self.run_counted(
            update(Webhook)
            .where(Webhook.id == webhook_id, Webhook.failing_since.is_not(None))
            .values(failing_since=None)
        )

    async def mark_failing(self, webhook_id: UUID, *, since: datetime) -> None:
        """Start the webhook's failing streak, unless one is running."""
        await self.run_counted(
            update(Webhook)
            .where(Webhook.id == webhook_id, Webhook.failing_since.is_(None))
            .values(failing_since=since)
        )

    async def disable(self, webhook_id: UUID, *, reason: str) -> None:
        await self.run_counted(
            update(Webhook)
            .where(Webhook.id == webhook_id, Webhook.is_active.is_(True))
            .values(is_active=False, disabled_reason=reason, updated_at=utcnow())
        )

    async def any_active(self) -> bool:
        query = select(Webhook.id).where(Webhook.is_active.is_(True)).limit(1)
        return (await self.session.scalar(query)) is not None

    async def active_for_users(self, user_ids: Sequence[UUID]) -> list[Webhook]:
        query = select(Webhook).where(Webhook.user_id.in_(user_ids), Webhook.is_active.is_(True))
        return list((await self.session.execute(query)).scalars())


class DeliveryRepository(Repository[WebhookDelivery]):
    model = WebhookDelivery

    async def existing_pairs(
        self, webhook_ids: Sequence[UUID], event_ids: Sequence[str]
    ) -> set[tuple[UUID, str]]:
        """The (webhook, event) pairs among these that already have a delivery."""
        if not webhook_ids or not event_ids:
            return set()
        query = select(WebhookDelivery.webhook_id, WebhookDelivery.event_id).where(
            WebhookDelivery.webhook_id.in_(webhook_ids), WebhookDelivery.event_id.in_(event_ids)
        )
        return {(row[0], row[1]) for row in await self.session.execute(query)}

    async def get_locked(self, delivery_id: UUID) -> WebhookDelivery | None:
        await begin_write(self.session)
        query = select(WebhookDelivery).where(WebhookDelivery.id == delivery_id).with_for_update()
        found: WebhookDelivery | None = (await self.session.execute(query)).scalar_one_or_none()
        return found

    async def list_for_webhook(
        self, webhook_id: UUID, *, status: str | None, limit: int, after: UUID | None
    ) -> list[WebhookDelivery]:
        """A webhook's deliveries, newest first, optionally of one status."""
        query = select(WebhookDelivery).where(WebhookDelivery.webhook_id == webhook_id)
        if status is not None:
            query = query.where(WebhookDelivery.status == status)
        if after is not None:
            query = query.where(WebhookDelivery.id < after)
        query = query.order_by(WebhookDelivery.id.desc()).limit(limit)
        return list((await self.session.execute(query)).scalars())

    async def fail_unfinished(self, webhook_id: UUID, *, reason: str) -> int:
        """Mark a disabled webhook's waiting deliveries failed."""
        statement = (
            update(WebhookDelivery)
            .where(
                WebhookDelivery.webhook_id == webhook_id,
                WebhookDelivery.status.not_in(FINISHED),
                WebhookDelivery.in_flight_until.is_(None),
            )
            .values(status=DeliveryStatus.FAILED.value, last_error=reason, next_attempt_at=None)
        )
        return await self.run_counted(statement)

    async def purge_finished_before(self, cutoff: datetime, *, batch: int = 1000) -> int:
        """Delete up to `batch` finished deliveries created before `cutoff` (read inside the
        write transaction, decision 009)."""
        await begin_write(self.session)
        ids = select(WebhookDelivery.id).where(
            WebhookDelivery.created_at < cutoff, WebhookDelivery.status.in_(FINISHED)
        )
        found = list((await self.session.execute(ids.limit(batch))).scalars())
        if not found:
            return 0
        return await self.run_counted(delete(WebhookDelivery).where(WebhookDelivery.id.in_(found)))


@dataclass(frozen=True, slots=True)
class DispatchedEvent:
    id: int
    type: str
    created_at: datetime
    session_id: UUID
    user_id: UUID
    data: str


class DispatchRepository:
    """The dispatcher's position in the event log, and the events after it."""

    POSITION_ID = 1

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def position(self) -> int:
        found = await self.session.scalar(
            select(WebhookDispatchPosition.last_event_id).where(
                WebhookDispatchPosition.id == self.POSITION_ID
            )
        )
        return int(found or 0)

    async def newest_event_id(self) -> int:
        return int(await self.session.scalar(select(func.max(Event.id))) or 0)

    async def lock_position(self) -> int:
        """Hold the position row for this transaction (made on first use); return it."""
        await begin_write(self.session)
        query = (
            select(WebhookDispatchPosition.last_event_id)
            .where(WebhookDispatchPosition.id == self.POSITION_ID)
            .with_for_update()
        )
        found = await self.session.scalar(query)
        if found is not None:
            return int(found)
        try:
            async with self.session.begin_nested():
                await self.session.execute(
                    insert(WebhookDispatchPosition).values(id=self.POSITION_ID, last_event_id=0)
                )
        except IntegrityError:
            pass  # another dispatcher made it first; its lock is waited for below
        return int(await self.session.scalar(query) or 0)

    async def move_position(self, last_event_id: int) -> None:
        await self.session.execute(
            update(WebhookDispatchPosition)
            .where(WebhookDispatchPosition.id == self.POSITION_ID)
            .values(last_event_id=last_event_id)
        )

    async def events_for_webhooks(
        self, *, after: int, upto: int, limit: int
    ) -> list[DispatchedEvent]:
        """Events in (after, upto] of users that have an active webhook, oldest first."""
        owners = select(Webhook.user_id).where(Webhook.is_active.is_(True))
        query = (
            select(
                Event.id, Event.type, Event.created_at, Event.session_id, Event.user_id, Event.data
            )
            .where(Event.id > after, Event.id <= upto, Event.user_id.in_(owners))
            .order_by(Event.id)
            .limit(limit)
        )
        return [DispatchedEvent(*row) for row in await self.session.execute(query)]
