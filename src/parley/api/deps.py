"""The one vocabulary of injectables: DbSession, CurrentUser, AdminUser, PageParams, ..."""

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Query, Request
from fastapi.security import OAuth2PasswordBearer
from sqlalchemy.ext.asyncio import AsyncSession

from parley.api.openapi import answers
from parley.api.resources import Resources
from parley.auth.service import Principal, authenticate_access
from parley.core.errors import Forbidden, Unauthorized
from parley.core.logging import security_event
from parley.models.user import Role, User

# auto_error=False: a missing token is our own 401 in the envelope, not the framework's.
bearer = OAuth2PasswordBearer(tokenUrl="/api/v1/auth/token", auto_error=False)


async def get_resources(request: Request) -> Resources:
    resources: Resources = request.app.state.resources
    return resources


ResourcesDep = Annotated[Resources, Depends(get_resources)]


@answers(503)
async def get_db(resources: ResourcesDep) -> AsyncIterator[AsyncSession]:
    """Open the request's database session; services commit, this only closes."""
    async with resources.database.sessions() as db:
        yield db


DbSession = Annotated[AsyncSession, Depends(get_db)]


@answers(401, 503)
async def current_principal(
    request: Request,
    resources: ResourcesDep,
    token: Annotated[str | None, Depends(bearer)],
) -> Principal:
    """Resolve the bearer token to a live login session of an active user."""
    if not token:
        raise Unauthorized("Not authenticated")
    principal = await authenticate_access(
        token, tokens=resources.tokens, database=resources.database, cache=resources.access_cache
    )
    request.state.user_id = principal.user.id
    return principal


CurrentPrincipal = Annotated[Principal, Depends(current_principal)]


async def current_user(principal: CurrentPrincipal) -> User:
    return principal.user


CurrentUser = Annotated[User, Depends(current_user)]


@answers(403)
async def admin_user(user: CurrentUser) -> User:
    if user.role != Role.ADMIN:
        security_event("forbidden", user_id=str(user.id), reason="admin route")
        raise Forbidden("Administrator role required")
    return user


AdminUser = Annotated[User, Depends(admin_user)]


@dataclass(frozen=True, slots=True)
class PageParams:
    limit: int
    cursor: str | None


@answers(400)  # a tampered cursor, or one of another list
async def page_params(
    limit: Annotated[int, Query(ge=1, le=100, description="Items per page (1-100)")] = 20,
    cursor: Annotated[
        str | None, Query(max_length=1024, description="Opaque cursor from the previous page")
    ] = None,
) -> PageParams:
    return PageParams(limit=limit, cursor=cursor)


PageDep = Annotated[PageParams, Depends(page_params)]


def client_ip(request: Request) -> str | None:
    """The TCP peer, or the forwarded client when the peer is a trusted proxy (see middleware)."""
    return request.client.host if request.client else None
