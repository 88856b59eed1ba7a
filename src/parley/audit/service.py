"""Reading the audit log, and purging it past AUDIT_RETENTION."""

from dataclasses import dataclass
from datetime import datetime, timedelta
from uuid import UUID

from parley.audit.repository import AuditRepository
from parley.core.clock import utcnow
from parley.core.config import Settings
from parley.db.engine import Database
from parley.db.uow import UnitOfWork
from parley.models.accounts import AuditEntry


@dataclass(frozen=True, slots=True)
class AuditFilters:
    actor_id: UUID | None = None
    action: str | None = None
    since: datetime | None = None
    until: datetime | None = None


class AuditService:
    def __init__(self, uow: UnitOfWork, *, entries: AuditRepository | None = None) -> None:
        self.uow = uow
        self.entries = entries or AuditRepository(uow.session)

    async def list_for_user(
        self, user_id: UUID, *, limit: int, before: UUID | None
    ) -> list[AuditEntry]:
        """The user's own security history: what it did, and what was done to its account."""
        async with self.uow:
            return await self.entries.list_page(limit=limit, before=before, concerning=user_id)

    async def list_all(
        self, filters: AuditFilters, *, limit: int, before: UUID | None
    ) -> list[AuditEntry]:
        async with self.uow:
            return await self.entries.list_page(
                limit=limit,
                before=before,
                actor_id=filters.actor_id,
                action=filters.action,
                since=filters.since,
                until=filters.until,
            )


async def purge_expired_audit_entries(database: Database, settings: Settings) -> int:
    """Delete audit entries older than AUDIT_RETENTION; return how many went.

    The periodic job system calls this; it is safe to run from several processes at once.
    """
    cutoff = utcnow() - timedelta(seconds=settings.audit_retention)
    async with database.sessions() as db, UnitOfWork(db) as uow:
        purged = await AuditRepository(db).delete_older_than(cutoff)
        await uow.commit()
    return purged
