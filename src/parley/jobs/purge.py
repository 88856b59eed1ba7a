"""The outbox's own purge: jobs that gave up are kept a week for inspection, then deleted."""

from datetime import timedelta

from parley.core.clock import utcnow
from parley.db.uow import UnitOfWork
from parley.jobs.registry import JobContext, Payload, every_purge_interval, periodic
from parley.jobs.repository import JobRepository

FAILED_RETENTION = timedelta(days=7)


@periodic("jobs.purge_failed", every=every_purge_interval)
async def purge_failed(ctx: JobContext, _payload: Payload) -> None:
    """Delete jobs that gave up more than a week ago."""
    async with ctx.database.sessions() as session, UnitOfWork(session) as uow:
        await JobRepository(session).purge_failed(before=utcnow() - FAILED_RETENTION)
        await uow.commit()
