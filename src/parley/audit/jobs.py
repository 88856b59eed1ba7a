"""Audit jobs: the periodic purge of entries past AUDIT_RETENTION."""

from parley.audit.service import purge_expired_audit_entries
from parley.jobs import JobContext, Payload, every_purge_interval, periodic


@periodic("audit.purge_expired", every=every_purge_interval)
async def purge_expired_entries(ctx: JobContext, _payload: Payload) -> None:
    """Delete audit entries older than the retention; a second run finds nothing more."""
    await purge_expired_audit_entries(ctx.database, ctx.settings)
