"""Events jobs: the periodic purge of events past EVENT_RETENTION (and of spent tickets)."""

from parley.events.service import purge_expired
from parley.jobs import JobContext, Payload, every_purge_interval, periodic


@periodic("events.purge_expired", every=every_purge_interval)
async def purge_expired_events(ctx: JobContext, _payload: Payload) -> None:
    """Delete events older than the retention; a second run finds nothing more."""
    await purge_expired(ctx.database, retention=ctx.settings.event_retention)
