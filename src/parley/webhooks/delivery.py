"""Delivery attempts: each is a job that claims its delivery, POSTs it, records the outcome
and schedules the next attempt, in that order (decision 153).

A job carries the number of the attempt it makes. It runs only if the delivery still waits
for that attempt, so a job run twice (at-least-once), a manual retry racing a scheduled one,
or a job of a deleted webhook do nothing. A manual retry while an attempt is in flight is
kept: when the attempt in flight ends, the retry's attempt follows at once. An attempt marks
its delivery in flight for its timeout and a minute more: a job run again after a crash
mid-attempt waits until then, and takes the attempt over if it has not ended.
Each transaction locks one row (the delivery, or the webhook), never two.
"""

import random
from dataclasses import dataclass
from datetime import datetime, timedelta
from uuid import UUID

import structlog

from parley.core.clock import utcnow
from parley.core.config import Settings
from parley.db.engine import Database
from parley.db.uow import UnitOfWork
from parley.models.webhook import DeliveryStatus, Webhook, WebhookDelivery
from parley.webhooks import scheduling, sender
from parley.webhooks.repository import DeliveryRepository, WebhookRepository
from parley.webhooks.secrets import SecretUnreadable, secret_box_for
from parley.webhooks.service import DISABLED_ERROR
from parley.webhooks.signing import signed_headers

log = structlog.get_logger("parley.webhooks")

IN_FLIGHT_MARGIN = timedelta(seconds=60)
FAILING_LIMIT = timedelta(days=5)
JITTER = 0.1  # each delay is stretched or shrunk by up to 10 %
GONE_REASON = "The endpoint answered 410 Gone"
FAILING_REASON = "Every delivery failed for 5 days"
_WAITING = (DeliveryStatus.PENDING.value, DeliveryStatus.RETRYING.value)


def retry_delay(settings: Settings, attempt: int) -> timedelta | None:
    """The wait after failed attempt `attempt` (1-based), jittered; None when none is left."""
    schedule = settings.webhook_retry_schedule
    if attempt > len(schedule):
        return None
    spread = 1 + random.uniform(-JITTER, JITTER)  # noqa: S311 - jitter, not a secret
    return timedelta(seconds=schedule[attempt - 1] * spread)


@dataclass(frozen=True, slots=True)
class _Claim:
    delivery_id: UUID
    webhook_id: UUID
    attempt: int
    url: str
    event_id: str
    body: str
    secrets: list[str]


class InFlightElsewhere(Exception):
    """This attempt is in flight in another run of its job, which may have died: run again
    once that flight must have ended (`until`), to take the attempt over if it has not."""

    def __init__(self, until: datetime) -> None:
        super().__init__("the attempt is in flight elsewhere")
        self.until = until


async def attempt_delivery(
    database: Database, settings: Settings, *, delivery_id: UUID, attempt: int
) -> None:
    """Make attempt number `attempt` of a delivery, if it still waits for it; raise
    InFlightElsewhere while another run of the same attempt may still be making it."""
    claim = await _claim(database, settings, delivery_id, attempt)
    if claim is None:
        return
    headers = signed_headers(claim.secrets, message_id=claim.event_id, at=utcnow(), body=claim.body)
    outcome = await sender.post(
        claim.url,
        headers=headers,
        body=claim.body,
        within=settings.webhook_timeout,
        allow_private=settings.webhooks_may_reach_private_addresses,
    )
    await _record(database, settings, claim, outcome)


async def _claim(
    database: Database, settings: Settings, delivery_id: UUID, attempt: int
) -> _Claim | None:
    async with database.sessions() as db:
        uow = UnitOfWork(db)
        async with uow:
            deliveries = DeliveryRepository(db)
            delivery = await deliveries.get_locked(delivery_id)
            now = utcnow()
            if delivery is None:
                return None
            if _in_flight(delivery, attempt, now):
                assert delivery.in_flight_until is not None
                raise InFlightElsewhere(delivery.in_flight_until)
            if not _waits_for(delivery, attempt, now):
                return None
            webhook = await WebhookRepository(db).get(delivery.webhook_id)
            if webhook is None:
                return None
            if not webhook.is_active:
                _finish(delivery, DeliveryStatus.FAILED, error=DISABLED_ERROR)
                await uow.commit()
                return None
            try:
                secrets = _signing_secrets(settings, webhook)
            except SecretUnreadable:
                _finish(delivery, DeliveryStatus.FAILED, error="The signing secret is unreadable")
                await uow.commit()
                log.error("webhook_secret_unreadable", webhook_id=str(webhook.id))
                return None
            delivery.attempts = attempt
            delivery.next_attempt_at = None  # set again only by a manual retry while in flight
            delivery.in_flight_until = (
                now + timedelta(seconds=settings.webhook_timeout) + IN_FLIGHT_MARGIN
            )
            claim = _Claim(
                delivery.id, webhook.id, attempt, webhook.url, delivery.event_id,
                delivery.payload, secrets,
            )  # fmt: skip
            await uow.commit()
    return claim


def _in_flight(delivery: WebhookDelivery, attempt: int, now: datetime) -> bool:
    """Attempt `attempt` is being made by a holder that may still be alive."""
    return (
        delivery.status in _WAITING
        and delivery.attempts == attempt
        and delivery.in_flight_until is not None
        and delivery.in_flight_until >= now
    )


def _waits_for(delivery: WebhookDelivery, attempt: int, now: datetime) -> bool:
    if delivery.status not in _WAITING:
        return False
    if delivery.in_flight_until is None:
        return delivery.attempts == attempt - 1
    # An attempt in flight: taken over only once its holder must have died.
    return delivery.attempts == attempt and delivery.in_flight_until < now


def _signing_secrets(settings: Settings, webhook: Webhook) -> list[str]:
    """The current secret, and the previous one while it still overlaps."""
    box = secret_box_for(settings)
    current = box.open(webhook.secret, webhook_id=webhook.id)
    previous, until = webhook.previous_secret, webhook.previous_secret_expires_at
    if previous is None or until is None or until <= utcnow():
        return [current]
    return [current, box.open(previous, webhook_id=webhook.id)]


def _finish(delivery: WebhookDelivery, status: DeliveryStatus, *, error: str | None) -> None:
    delivery.status = status.value
    delivery.last_error = error
    delivery.next_attempt_at = None
    delivery.in_flight_until = None


def _retry_now(
    uow: UnitOfWork, delivery: WebhookDelivery, attempt: int, *, error: str | None
) -> None:
    delivery.status = DeliveryStatus.RETRYING.value
    delivery.last_error = error
    delivery.next_attempt_at = utcnow()
    scheduling.schedule_attempt(uow, delivery.id, attempt=attempt + 1, delay=None)


async def _record(
    database: Database, settings: Settings, claim: _Claim, outcome: sender.Outcome
) -> None:
    disable_reason: str | None = None
    async with database.sessions() as db:
        uow = UnitOfWork(db)
        async with uow:
            delivery = await DeliveryRepository(db).get_locked(claim.delivery_id)
            if delivery is None or delivery.attempts != claim.attempt:
                return  # deleted, or taken over by a later attempt
            now = utcnow()
            delivery.last_status_code = outcome.status_code
            delivery.in_flight_until = None
            # A manual retry that came while this attempt was in flight found nothing to do
            # then; its attempt is made now, whatever this one's outcome (a 410 aside).
            retry_asked = delivery.next_attempt_at is not None
            if outcome.succeeded and retry_asked:
                delivery.delivered_at = now
                _retry_now(uow, delivery, claim.attempt, error=None)
            elif outcome.succeeded:
                _finish(delivery, DeliveryStatus.SUCCEEDED, error=None)
                delivery.delivered_at = now
            elif outcome.gone:
                _finish(delivery, DeliveryStatus.FAILED, error=outcome.error)
                disable_reason = GONE_REASON
            else:
                webhook = await WebhookRepository(db).get(claim.webhook_id)
                failing_since = webhook.failing_since if webhook else None
                delay = retry_delay(settings, claim.attempt)
                if failing_since is not None and now - failing_since >= FAILING_LIMIT:
                    _finish(delivery, DeliveryStatus.FAILED, error=outcome.error)
                    disable_reason = FAILING_REASON
                elif retry_asked:
                    _retry_now(uow, delivery, claim.attempt, error=outcome.error)
                elif delay is None:
                    _finish(delivery, DeliveryStatus.FAILED, error=outcome.error)
                else:
                    delivery.status = DeliveryStatus.RETRYING.value
                    delivery.last_error = outcome.error
                    delivery.next_attempt_at = now + delay
                    scheduling.schedule_attempt(
                        uow, delivery.id, attempt=claim.attempt + 1, delay=delay
                    )
            await uow.commit()
    await _update_webhook(database, claim.webhook_id, outcome, disable_reason)


async def _update_webhook(
    database: Database, webhook_id: UUID, outcome: sender.Outcome, disable_reason: str | None
) -> None:
    """Keep the webhook's failing streak; disable it for a 410 or five days of failures."""
    async with database.sessions() as db:
        uow = UnitOfWork(db)
        async with uow:
            webhooks = WebhookRepository(db)
            if outcome.succeeded:
                await webhooks.mark_succeeding(webhook_id)
            else:
                await webhooks.mark_failing(webhook_id, since=utcnow())
            if disable_reason is not None:
                await webhooks.disable(webhook_id, reason=disable_reason)
            await uow.commit()
    if disable_reason is not None:
        log.warning("webhook_disabled", webhook_id=str(webhook_id), reason=disable_reason)
        await fail_waiting_deliveries(database, webhook_id)


async def fail_waiting_deliveries(database: Database, webhook_id: UUID) -> None:
    """Mark a disabled webhook's waiting deliveries failed (those in flight finish first)."""
    async with database.sessions() as db:
        uow = UnitOfWork(db)
        async with uow:
            await DeliveryRepository(db).fail_unfinished(webhook_id, reason=DISABLED_ERROR)
            await uow.commit()
