"""FastAPI dependency factories of the audit log."""

from typing import Annotated

from fastapi import Depends

from parley.api.deps import DbSession
from parley.audit.service import AuditService
from parley.db.uow import UnitOfWork


async def get_audit_service(db: DbSession) -> AuditService:
    return AuditService(UnitOfWork(db))


AuditServiceDep = Annotated[AuditService, Depends(get_audit_service)]
