"""FastAPI dependency factories of the accounts domain."""

from typing import Annotated

from fastapi import Depends

from parley.accounts.service import AccountsService
from parley.api.deps import DbSession, ResourcesDep
from parley.db.uow import UnitOfWork


async def get_accounts_service(db: DbSession, resources: ResourcesDep) -> AccountsService:
    return AccountsService(
        UnitOfWork(db),
        settings=resources.settings,
        login_failures=resources.login_failures,
        cache=resources.access_cache,
    )


AccountsServiceDep = Annotated[AccountsService, Depends(get_accounts_service)]
