"""Response bodies of the audit log."""

from datetime import datetime
from typing import Any
from uuid import UUID

from parley.core.schemas import ReadModel


class AuditEntryRead(ReadModel):
    id: UUID
    created_at: datetime
    action: str
    actor_id: UUID | None
    target_type: str | None
    target_id: UUID | None
    ip_address: str | None
    user_agent: str | None
    request_id: str | None
    details: dict[str, Any] | None
