"""Auth jobs: the periodic purge of expired login sessions, refresh and reset tokens."""

from datetime import timedelta

import structlog

from parley.auth.retention import ExpiredAuthRows
from parley.core.clock import utcnow
from parley.db.uow import UnitOfWork
from parley.jobs import JobContext, Payload, every_purge_interval, periodic

log = structlog.get_logger("parley.jobs")

# Kept a day past their end, so a late refresh still meets its revoked session (a 401 that
# says why) rather than nothing.
GRACE = timedelta(days=1)


@periodic("auth.purge_expired", every=every_purge_interval)
async def purge_expired(ctx: JobContext, _payload: Payload) -> None:
    """Delete login sessions and tokens a day past their end (a second run finds nothing)."""
    async with ctx.database.sessions() as session, UnitOfWork(session) as uow:
        counts = await ExpiredAuthRows(session).purge(before=utcnow() - GRACE)
        await uow.commit()
    log.info("auth_purged", **counts)
