"""Webhook jobs: one delivery attempt, the dispatcher's safety net, and the delivery-log purge."""

from datetime import timedelta
from uuid import UUID

import structlog

from parley.core.clock import utcnow
from parley.core.config import Settings
from parley.db.uow import UnitOfWork
from parley.jobs import JobContext, Payload, RetryJob, every_purge_interval, job, periodic
from parley.webhooks.delivery import InFlightElsewhere, attempt_delivery
from parley.webhooks.dispatch import dispatch_events
from parley.webhooks.repository import DeliveryRepository
from parley.webhooks.scheduling import DELIVER_JOB

log = structlog.get_logger("parley.jobs")

# The doorbell dispatches this process's events at once; this catches the rest (events other
# processes committed while their dispatcher was away) within seconds.
DISPATCH_INTERVAL_S = 5
# A job that found its attempt in flight elsewhere looks again this long after that flight's end.
IN_FLIGHT_RECHECK = timedelta(seconds=1)


def _every_dispatch_interval(_settings: Settings) -> int:
    return DISPATCH_INTERVAL_S


@job(DELIVER_JOB, max_attempts=20, backoff=timedelta(seconds=5))
async def deliver(ctx: JobContext, payload: Payload) -> None:
    """Make one attempt of a delivery; its outcome schedules the next (a rerun does nothing,
    unless it finds the attempt in flight in a run that may have died: then it runs again
    once that flight must have ended)."""
    try:
        await attempt_delivery(
            ctx.database,
            ctx.settings,
            delivery_id=UUID(str(payload["delivery_id"])),
            attempt=int(payload["attempt"]),
        )
    except InFlightElsewhere as busy:
        wait = busy.until - utcnow() + IN_FLIGHT_RECHECK
        raise RetryJob(max(wait, IN_FLIGHT_RECHECK), "attempt in flight elsewhere") from None


@periodic("webhooks.dispatch", every=_every_dispatch_interval)
async def dispatch(ctx: JobContext, _payload: Payload) -> None:
    """Turn events not dispatched yet into deliveries."""
    await dispatch_events(ctx.database)


@periodic("webhooks.purge_deliveries", every=every_purge_interval)
async def purge_deliveries(ctx: JobContext, _payload: Payload) -> None:
    """Delete finished deliveries older than WEBHOOK_DELIVERY_RETENTION, a batch at a time."""
    cutoff = utcnow() - timedelta(seconds=ctx.settings.webhook_delivery_retention)
    total = 0
    while True:
        async with ctx.database.sessions() as session, UnitOfWork(session) as uow:
            purged = await DeliveryRepository(session).purge_finished_before(cutoff)
            await uow.commit()
        total += purged
        if purged == 0:
            break
    log.info("webhook_deliveries_purged", count=total)
