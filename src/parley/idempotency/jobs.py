"""The periodic purge of idempotency records past IDEMPOTENCY_TTL."""

from parley.core.clock import utcnow
from parley.db.uow import UnitOfWork
from parley.idempotency.repository import IdempotencyRepository
from parley.jobs import JobContext, Payload, every_purge_interval, periodic


@periodic("idempotency.purge_expired", every=every_purge_interval)
async def purge_expired(ctx: JobContext, _payload: Payload) -> None:
    """Delete stored answers whose time to live has passed."""
    async with ctx.database.sessions() as session, UnitOfWork(session) as uow:
        await IdempotencyRepository(session).purge(now=utcnow())
        await uow.commit()
