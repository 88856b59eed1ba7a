"""HTTP routes of the audit log: the caller's own history, and everyone's for admins."""

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Query
from pydantic import AwareDatetime

from parley.api.deps import AdminUser, CurrentUser, PageDep, ResourcesDep
from parley.audit.dependencies import AuditServiceDep
from parley.audit.schemas import AuditEntryRead
from parley.audit.service import AuditFilters
from parley.core.cursors import CursorCodec, list_scope
from parley.core.schemas import Envelope, Page
from parley.models.accounts import AuditEntry

router = APIRouter()


def _page(
    rows: list[AuditEntry], *, limit: int, cursors: CursorCodec, scope: str
) -> Page[AuditEntryRead]:
    next_cursor = cursors.encode_id(rows[limit - 1].id, scope=scope) if len(rows) > limit else None
    items = [AuditEntryRead.model_validate(row) for row in rows[:limit]]
    return Page(items=items, next_cursor=next_cursor)


@router.get("/users/me/audit")
async def my_audit(
    user: CurrentUser, audit: AuditServiceDep, page: PageDep, resources: ResourcesDep
) -> Envelope[Page[AuditEntryRead]]:
    """The caller's own security history, newest first."""
    scope = list_scope("audit-of-user", user.id)
    before = resources.cursors.decode_id(page.cursor, scope=scope)
    rows = await audit.list_for_user(user.id, limit=page.limit + 1, before=before)
    data = _page(rows, limit=page.limit, cursors=resources.cursors, scope=scope)
    return Envelope(message="Audit log", data=data)


@router.get("/audit")
async def all_audit(
    _admin: AdminUser,
    audit: AuditServiceDep,
    page: PageDep,
    resources: ResourcesDep,
    actor_id: Annotated[UUID | None, Query(description="Only entries by this user")] = None,
    action: Annotated[
        str | None, Query(min_length=1, max_length=64, description="e.g. auth.login")
    ] = None,
    since: Annotated[
        AwareDatetime | None, Query(description="From this time (ISO 8601 with a zone)")
    ] = None,
    until: Annotated[
        AwareDatetime | None, Query(description="Before this time (ISO 8601 with a zone)")
    ] = None,
) -> Envelope[Page[AuditEntryRead]]:
    """Everyone's audit log, newest first (admin)."""
    filters = AuditFilters(actor_id=actor_id, action=action, since=since, until=until)
    # A cursor belongs to one filtered list: another filter's page position means nothing.
    scope = list_scope(
        "audit",
        actor_id,
        action,
        since.isoformat() if since else None,
        until.isoformat() if until else None,
    )
    before = resources.cursors.decode_id(page.cursor, scope=scope)
    rows = await audit.list_all(filters, limit=page.limit + 1, before=before)
    data = _page(rows, limit=page.limit, cursors=resources.cursors, scope=scope)
    return Envelope(message="Audit log", data=data)
