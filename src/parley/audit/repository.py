"""All SQL of the audit log."""

from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import delete, or_, select

from parley.core.clock import utcnow
from parley.core.request_context import current_request
from parley.db.repository import Repository, rows_changed
from parley.models.accounts import AuditEntry


class AuditRepository(Repository[AuditEntry]):
    model = AuditEntry

    def record(
        self,
        action: str,
        *,
        actor_id: UUID | None,
        target_type: str | None = None,
        target_id: UUID | None = None,
        details: dict[str, Any] | None = None,
    ) -> AuditEntry:
        """Add an entry to the transaction, stamped with the request that caused it.

        `details` is for facts (what changed, a count, a reason), never for secrets.
        """
        request = current_request()
        return self.add(
            AuditEntry(
                created_at=utcnow(),
                action=action,
                actor_id=actor_id,
                target_type=target_type,
                target_id=target_id,
                ip_address=request.ip_address,
                user_agent=request.user_agent,
                request_id=request.request_id,
                details=details,
            )
        )

    async def list_page(
        self,
        *,
        limit: int,
        before: UUID | None,
        concerning: UUID | None = None,
        actor_id: UUID | None = None,
        action: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
    ) -> list[AuditEntry]:
        """Entries newest first after a keyset position; `concerning` is a user acting or
        acted upon."""
        query = select(AuditEntry).order_by(AuditEntry.id.desc()).limit(limit)
        if before is not None:
            query = query.where(AuditEntry.id < before)
        if concerning is not None:
            query = query.where(
                or_(AuditEntry.actor_id == concerning, AuditEntry.target_id == concerning)
            )
        if actor_id is not None:
            query = query.where(AuditEntry.actor_id == actor_id)
        if action is not None:
            query = query.where(AuditEntry.action == action)
        if since is not None:
            query = query.where(AuditEntry.created_at >= since)
        if until is not None:
            query = query.where(AuditEntry.created_at < until)
        return list(await self.session.scalars(query))

    async def delete_older_than(self, cutoff: datetime) -> int:
        result = await self.session.execute(
            delete(AuditEntry).where(AuditEntry.created_at < cutoff)
        )
        return rows_changed(result)
