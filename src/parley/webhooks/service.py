"""Webhook use cases: register, change and remove webhooks, rotate their secrets, read their
delivery log, retry a delivery and send a test event.

A webhook is its owner's: anyone else, admins included, is told 404 when changing it; admins
may read every user's webhooks and deliveries (decision 150).
"""

from datetime import timedelta
from uuid import UUID

import orjson

from parley.audit.repository import AuditRepository
from parley.core.clock import utcnow
from parley.core.config import Settings
from parley.core.ids import new_id
from parley.db.uow import UnitOfWork
from parley.models.user import Role, User
from parley.models.webhook import DeliveryStatus, Webhook, WebhookDelivery
from parley.webhooks import scheduling
from parley.webhooks.errors import (
    DeliveryNotFound,
    TooManyWebhooks,
    UrlRefused,
    WebhookInactive,
    WebhookNotFound,
)
from parley.webhooks.network import AddressRefused, checked_addresses
from parley.webhooks.repository import DeliveryRepository, WebhookRepository
from parley.webhooks.schemas import TEST_EVENT, WebhookCreate, WebhookUpdate
from parley.webhooks.secrets import SecretBox, new_secret

MAX_WEBHOOKS_PER_USER = 20
SECRET_OVERLAP = timedelta(hours=24)
TEST_EVENT_PREFIX = "test_"
DISABLED_ERROR = "Not attempted: the webhook is disabled"


async def check_url(url: str, *, settings: Settings) -> None:
    """Refuse (422) a URL whose host is or resolves to an address webhooks may not reach."""
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    port = parts.port or (443 if parts.scheme.lower() == "https" else 80)
    try:
        await checked_addresses(
            parts.hostname or "", port, allow_private=settings.webhooks_may_reach_private_addresses
        )
    except AddressRefused as refused:
        raise UrlRefused(str(refused)) from None


class WebhookService:
    def __init__(self, uow: UnitOfWork, *, settings: Settings, secrets: SecretBox) -> None:
        self.uow = uow
        self.settings = settings
        self.secrets = secrets
        self.webhooks = WebhookRepository(uow.session)
        self.deliveries = DeliveryRepository(uow.session)
        self.audit = AuditRepository(uow.session)

    async def create(self, *, actor: User, data: WebhookCreate) -> tuple[Webhook, str]:
        """Register a webhook; return it with its secret (shown once). 409 past 20."""
        await check_url(data.url, settings=self.settings)
        secret = new_secret()
        webhook_id = new_id()
        async with self.uow:
            await self.webhooks.lock_owner(actor.id)
            if await self.webhooks.count_for_user(actor.id) >= MAX_WEBHOOKS_PER_USER:
                raise TooManyWebhooks
            now = utcnow()
            webhook = self.webhooks.add(
                Webhook(
                    id=webhook_id,
                    user_id=actor.id,
                    url=data.url,
                    events=list(data.events),
                    description=data.description or None,
                    is_active=True,
                    secret=self.secrets.seal(secret, webhook_id=webhook_id),
                    created_at=now,
                    updated_at=now,
                )
            )
            await self.webhooks.flush()
            self.audit.record(
                "webhook.created",
                actor_id=actor.id,
                target_type="webhook",
                target_id=webhook_id,
                details={"events": list(data.events)},  # not the URL: it may carry a token
            )
            await self.uow.commit()
        return webhook, secret

    async def list_webhooks(self, *, owner: User, limit: int, after: UUID | None) -> list[Webhook]:
        """List the caller's own webhooks, newest first."""
        async with self.uow:
            return await self.webhooks.list_for_user(owner.id, limit=limit, after=after)

    async def get(self, webhook_id: UUID, *, viewer: User) -> Webhook:
        async with self.uow:
            return await self._visible(webhook_id, viewer)

    async def update(self, webhook_id: UUID, *, actor: User, data: WebhookUpdate) -> Webhook:
        """Change a webhook; omitted fields are kept; enabling it clears why it was disabled."""
        changes = data.model_dump(exclude_unset=True)
        if "url" in changes:
            await check_url(changes["url"], settings=self.settings)
        async with self.uow:
            webhook = await self._owned(webhook_id, actor, lock=True)
            if "url" in changes:
                webhook.url = changes["url"]
            if "events" in changes:
                webhook.events = list(changes["events"])
            if "description" in changes:
                webhook.description = changes["description"] or None
            if "is_active" in changes and changes["is_active"] != webhook.is_active:
                webhook.is_active = changes["is_active"]
                webhook.disabled_reason = None
                webhook.failing_since = None
                if not webhook.is_active:
                    await self.deliveries.fail_unfinished(webhook.id, reason=DISABLED_ERROR)
            webhook.updated_at = utcnow()
            await self.webhooks.flush()
            await self.uow.commit()
        return webhook

    async def delete(self, webhook_id: UUID, *, actor: User) -> None:
        """Remove a webhook and its delivery log."""
        async with self.uow:
            webhook = await self._owned(webhook_id, actor, lock=True)
            await self.webhooks.delete(webhook)
            await self.webhooks.flush()
            self.audit.record(
                "webhook.deleted", actor_id=actor.id, target_type="webhook", target_id=webhook_id
            )
            await self.uow.commit()

    async def rotate_secret(self, webhook_id: UUID, *, actor: User) -> str:
        """Give the webhook a new secret; the current one keeps signing beside it for 24 h."""
        secret = new_secret()
        async with self.uow:
            webhook = await self._owned(webhook_id, actor, lock=True)
            now = utcnow()
            webhook.previous_secret = webhook.secret
            webhook.previous_secret_expires_at = now + SECRET_OVERLAP
            webhook.secret = self.secrets.seal(secret, webhook_id=webhook.id)
            webhook.updated_at = now
            await self.webhooks.flush()
            await self.uow.commit()
        return secret

    async def send_test(self, webhook_id: UUID, *, actor: User) -> WebhookDelivery:
        """Queue a `webhook.test` event for this webhook alone."""
        async with self.uow:
            webhook = await self._owned(webhook_id, actor, lock=True)
            if not webhook.is_active:
                raise WebhookInactive
            now = utcnow()
            event_id = TEST_EVENT_PREFIX + new_id().hex
            body = orjson.dumps(
                {
                    "id": event_id,
                    "type": TEST_EVENT,
                    "created_at": now.isoformat().replace("+00:00", "Z"),
                    "session_id": None,
                    "data": {"webhook_id": str(webhook.id)},
                }
            ).decode()
            delivery = WebhookDelivery(
                id=new_id(),
                webhook_id=webhook.id,
                event_id=event_id,
                event_type=TEST_EVENT,
                payload=body,
                status=DeliveryStatus.PENDING.value,
                attempts=0,
                next_attempt_at=now,
                created_at=now,
            )
            self.deliveries.add(delivery)
            await self.deliveries.flush()
            scheduling.schedule_attempt(self.uow, delivery.id, attempt=1, delay=None)
            await self.uow.commit()
        return delivery

    async def list_deliveries(
        self,
        webhook_id: UUID,
        *,
        viewer: User,
        status: str | None,
        limit: int,
        after: UUID | None,
    ) -> list[WebhookDelivery]:
        """A webhook's deliveries, newest first."""
        async with self.uow:
            await self._visible(webhook_id, viewer)
            return await self.deliveries.list_for_webhook(
                webhook_id, status=status, limit=limit, after=after
            )

    async def retry(self, webhook_id: UUID, delivery_id: UUID, *, actor: User) -> WebhookDelivery:
        """Attempt a delivery again now, whatever its status."""
        async with self.uow:
            delivery = await self.deliveries.get_locked(delivery_id)  # the write begins here
            webhook = await self._owned(webhook_id, actor, lock=False)
            if delivery is None or delivery.webhook_id != webhook.id:
                raise DeliveryNotFound
            if not webhook.is_active:
                raise WebhookInactive
            now = utcnow()
            if delivery.attempts > 0:
                delivery.status = DeliveryStatus.RETRYING.value
            delivery.next_attempt_at = now
            await self.deliveries.flush()
            scheduling.schedule_attempt(
                self.uow, delivery.id, attempt=delivery.attempts + 1, delay=None
            )
            await self.uow.commit()
        return delivery

    async def _visible(self, webhook_id: UUID, viewer: User) -> Webhook:
        if viewer.role == Role.ADMIN:
            webhook = await self.webhooks.get(webhook_id)
        else:
            webhook = await self.webhooks.get_owned(webhook_id, viewer.id)
        if webhook is None:
            raise WebhookNotFound
        return webhook

    async def _owned(self, webhook_id: UUID, actor: User, *, lock: bool) -> Webhook:
        webhook = await self.webhooks.get_owned(webhook_id, actor.id, lock=lock)
        if webhook is None:
            raise WebhookNotFound
        return webhook
