"""FastAPI dependency factories of the auth domain: its service, the sign-up's user service,
and the refresh route's lean use case."""

from typing import Annotated

from fastapi import Depends, Request

from parley.api.deps import DbSession, ResourcesDep
from parley.api.resources import Resources
from parley.auth.hot_paths import AuthHotPaths
from parley.auth.service import AuthService
from parley.db.uow import UnitOfWork
from parley.users.service import UserService


async def get_auth_service(db: DbSession, resources: ResourcesDep) -> AuthService:
    return AuthService(
        UnitOfWork(db),
        settings=resources.settings,
        tokens=resources.tokens,
        login_failures=resources.login_failures,
        cache=resources.access_cache,
        database=resources.database,
    )


AuthServiceDep = Annotated[AuthService, Depends(get_auth_service)]


async def get_registration_service(db: DbSession, resources: ResourcesDep) -> UserService:
    return UserService(UnitOfWork(db), settings=resources.settings, mail_verification=True)


RegistrationServiceDep = Annotated[UserService, Depends(get_registration_service)]


def hot_paths(request: Request) -> AuthHotPaths:
    """The refresh's lean use case, called from the route itself: no dependency resolution
    on every request, and it opens the database only when it needs it."""
    resources: Resources = request.app.state.resources
    return AuthHotPaths(
        resources.database,
        tokens=resources.tokens,
        cache=resources.access_cache,
        refresh_expires_in=resources.settings.refresh_token_expires_in,
    )
