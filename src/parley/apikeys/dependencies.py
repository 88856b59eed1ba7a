"""FastAPI dependency factories of API keys."""

from typing import Annotated

from fastapi import Depends

from parley.api.deps import DbSession, ResourcesDep
from parley.apikeys.service import ApiKeyService
from parley.db.uow import UnitOfWork


async def get_api_key_service(db: DbSession, resources: ResourcesDep) -> ApiKeyService:
    return ApiKeyService(UnitOfWork(db), cache=resources.access_cache)


ApiKeyServiceDep = Annotated[ApiKeyService, Depends(get_api_key_service)]
