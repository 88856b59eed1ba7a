"""FastAPI dependency factories of the users domain."""

from typing import Annotated

from fastapi import Depends

from parley.api.deps import DbSession, ResourcesDep
from parley.db.uow import UnitOfWork
from parley.users.service import UserService


async def get_user_service(db: DbSession, resources: ResourcesDep) -> UserService:
    return UserService(
        UnitOfWork(db),
        settings=resources.settings,
        cache=resources.access_cache,
        mail_verification=True,
    )


UserServiceDep = Annotated[UserService, Depends(get_user_service)]
