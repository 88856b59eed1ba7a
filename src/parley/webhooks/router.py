"""HTTP routes of webhooks: registration, secrets, the delivery log, retries and test pings."""

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Query, status

from parley.api.deps import CurrentUser, PageDep, ResourcesDep
from parley.api.openapi import created_links, errors
from parley.core.cursors import list_scope
from parley.core.schemas import Envelope, Page
from parley.webhooks.dependencies import WebhookServiceDep
from parley.webhooks.schemas import (
    DeliveryRead,
    DeliveryStatusName,
    WebhookCreate,
    WebhookCreated,
    WebhookRead,
    WebhookSecret,
    WebhookUpdate,
)

router = APIRouter()

_WEBHOOK = {"webhook_id": "$response.body#/data/id"}


@router.post(
    "/webhooks",
    status_code=status.HTTP_201_CREATED,
    responses={
        **errors(409),
        **created_links(
            GetWebhook=("get", "/webhooks/{webhook_id}", _WEBHOOK),
            UpdateWebhook=("patch", "/webhooks/{webhook_id}", _WEBHOOK),
            DeleteWebhook=("delete", "/webhooks/{webhook_id}", _WEBHOOK),
            ListWebhookDeliveries=("get", "/webhooks/{webhook_id}/deliveries", _WEBHOOK),
        ),
    },
)
async def create_webhook(
    data: WebhookCreate, user: CurrentUser, service: WebhookServiceDep
) -> Envelope[WebhookCreated]:
    """Register a webhook; the answer carries its signing secret, shown only this once.

    The URL must not reach loopback, private, link-local or multicast addresses (unless the
    server allows them); at most 20 webhooks per user (a 21st is 409).
    """
    webhook, secret = await service.create(actor=user, data=data)
    read = WebhookRead.model_validate(webhook)
    return Envelope(
        message="Webhook created", data=WebhookCreated(**read.model_dump(), secret=secret)
    )


@router.get("/webhooks", responses=errors(400))
async def list_webhooks(
    user: CurrentUser, page: PageDep, resources: ResourcesDep, service: WebhookServiceDep
) -> Envelope[Page[WebhookRead]]:
    """List the caller's webhooks, newest first."""
    scope = list_scope("webhooks", user.id)
    after = resources.cursors.decode_id(page.cursor, scope=scope)
    rows = await service.list_webhooks(owner=user, limit=page.limit + 1, after=after)
    next_cursor = (
        resources.cursors.encode_id(rows[page.limit - 1].id, scope=scope)
        if len(rows) > page.limit
        else None
    )
    items = [WebhookRead.model_validate(row) for row in rows[: page.limit]]
    return Envelope(message="Webhooks", data=Page(items=items, next_cursor=next_cursor))


@router.get("/webhooks/{webhook_id}")
async def get_webhook(
    webhook_id: UUID, user: CurrentUser, service: WebhookServiceDep
) -> Envelope[WebhookRead]:
    """Return one webhook (never its secret)."""
    webhook = await service.get(webhook_id, viewer=user)
    return Envelope(message="Webhook", data=WebhookRead.model_validate(webhook))


@router.patch("/webhooks/{webhook_id}")
async def update_webhook(
    webhook_id: UUID, data: WebhookUpdate, user: CurrentUser, service: WebhookServiceDep
) -> Envelope[WebhookRead]:
    """Change a webhook's URL, events, description or state; enabling it clears the reason
    it was disabled, disabling it fails its waiting deliveries."""
    webhook = await service.update(webhook_id, actor=user, data=data)
    return Envelope(message="Webhook updated", data=WebhookRead.model_validate(webhook))


@router.delete("/webhooks/{webhook_id}")
async def delete_webhook(
    webhook_id: UUID, user: CurrentUser, service: WebhookServiceDep
) -> Envelope[None]:
    """Delete a webhook and its delivery log."""
    await service.delete(webhook_id, actor=user)
    return Envelope(message="Webhook deleted", data=None)


@router.post("/webhooks/{webhook_id}/rotate-secret")
async def rotate_webhook_secret(
    webhook_id: UUID, user: CurrentUser, service: WebhookServiceDep
) -> Envelope[WebhookSecret]:
    """Give the webhook a new signing secret; deliveries are signed with both the new and the
    previous secret for 24 hours."""
    secret = await service.rotate_secret(webhook_id, actor=user)
    return Envelope(message="Webhook secret rotated", data=WebhookSecret(secret=secret))


@router.post(
    "/webhooks/{webhook_id}/test",
    status_code=status.HTTP_202_ACCEPTED,
    responses=errors(409),
)
async def test_webhook(
    webhook_id: UUID, user: CurrentUser, service: WebhookServiceDep
) -> Envelope[DeliveryRead]:
    """Send a `webhook.test` event to this webhook alone; the answer is its delivery, to follow
    in the delivery log. 409 when the webhook is disabled."""
    delivery = await service.send_test(webhook_id, actor=user)
    return Envelope(message="Test event queued", data=DeliveryRead.model_validate(delivery))


@router.get("/webhooks/{webhook_id}/deliveries", responses=errors(400))
async def list_webhook_deliveries(
    webhook_id: UUID,
    user: CurrentUser,
    page: PageDep,
    resources: ResourcesDep,
    service: WebhookServiceDep,
    delivery_status: Annotated[
        DeliveryStatusName | None, Query(alias="status", description="Only deliveries in it")
    ] = None,
) -> Envelope[Page[DeliveryRead]]:
    """List a webhook's deliveries, newest first."""
    scope = list_scope("webhook-deliveries", webhook_id, delivery_status)
    after = resources.cursors.decode_id(page.cursor, scope=scope)
    rows = await service.list_deliveries(
        webhook_id, viewer=user, status=delivery_status, limit=page.limit + 1, after=after
    )
    next_cursor = (
        resources.cursors.encode_id(rows[page.limit - 1].id, scope=scope)
        if len(rows) > page.limit
        else None
    )
    items = [DeliveryRead.model_validate(row) for row in rows[: page.limit]]
    return Envelope(message="Deliveries", data=Page(items=items, next_cursor=next_cursor))


@router.post(
    "/webhooks/{webhook_id}/deliveries/{delivery_id}/retry",
    status_code=status.HTTP_202_ACCEPTED,
    responses=errors(409),
)
async def retry_webhook_delivery(
    webhook_id: UUID, delivery_id: UUID, user: CurrentUser, service: WebhookServiceDep
) -> Envelope[DeliveryRead]:
    """Attempt a delivery again now, whatever its status; if that attempt fails, its retries
    continue while the schedule has any left. 409 when the webhook is disabled."""
    delivery = await service.retry(webhook_id, delivery_id, actor=user)
    return Envelope(message="Delivery queued", data=DeliveryRead.model_validate(delivery))
