"""The one vocabulary of injectables: DbSession, CurrentUser, AdminUser, PageParams, ..."""

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Query, Request
from fastapi.security import OAuth2PasswordBearer
from fastapi.security.utils import get_authorization_scheme_param
from sqlalchemy.ext.asyncio import AsyncSession

from parley.api.openapi import answers
from parley.api.resources import Resources
from parley.apikeys.errors import InsufficientScope
from parley.apikeys.keys import is_api_key
from parley.apikeys.service import KeyHolder, authenticate_api_key, remembered_key
from parley.auth.service import Principal, authenticate_access
from parley.core.clock import utcnow
from parley.core.errors import Forbidden, Unauthorized
from parley.core.logging import security_event
from parley.core.tokens import InvalidToken
from parley.models.user import Role, User


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

TOKEN_URL = "/api/v1/auth/token"  # noqa: S105 - a route, not a secret
# Set in the request state when an API key authenticated the request: its scope.
API_KEY_SCOPE = "api_key_scope"
_CREDENTIAL_PATHS = ("/api/v1/auth/", "/api/v1/api-keys")
_ME = "/api/v1/users/me"
_STREAM_TICKET = "/api/v1/events/ticket"


def _credential(request: Request) -> tuple[str, bool] | None:
    """The bearer token as OAuth2PasswordBearer reads it (the first Authorization header), or
    else an `X-API-Key` header; and whether it came from `X-API-Key`."""
    api_key = None
    for name, value in request.scope["headers"]:
        if name == b"authorization":
            scheme, token = get_authorization_scheme_param(value.decode("latin-1"))
            return (token, False) if scheme.lower() == "bearer" and token else None
        if name == b"x-api-key" and api_key is None:
            api_key = value.decode("latin-1").strip() or None
    return (api_key, True) if api_key is not None else None


def _bearer_token(request: Request) -> str | None:
    credential = _credential(request)
    return credential[0] if credential is not None else None


def _remembered(request: Request) -> Principal | None:
    """The hot path: a remembered token whose login session is cached live, no await."""
    token = _bearer_token(request)
    if token is None:
        return None
    resources: Resources = request.app.state.resources
    if is_api_key(token):
        holder = remembered_key(resources.access_cache, token)
        return _key_holder(request, holder) if holder is not None else None
    found = resources.access_cache.get_by_token(token)
    if found is None:
        return None
    request.scope.setdefault("state", {})["user_id"] = found[0].id
    return Principal(user=found[0], login_session_id=found[1])


def _key_holder(request: Request, holder: KeyHolder) -> Principal:
    """Let a key through only where its scope reaches (403 `insufficient_scope` elsewhere)."""
    state = request.scope.setdefault("state", {})
    state["user_id"] = holder.user.id
    state[API_KEY_SCOPE] = holder.scope
    method, path = request.scope["method"], request.scope["path"]
    if path.startswith(_CREDENTIAL_PATHS) or (path == _ME and method in {"PATCH", "DELETE"}):
        raise InsufficientScope("API keys cannot manage credentials or the account")
    if path == _STREAM_TICKET:  # a ticket is a credential too (decision 164)
        raise InsufficientScope("API keys open the event stream directly, without a ticket")
    if holder.scope != "write" and method not in {"GET", "HEAD"}:
        raise InsufficientScope("This API key may only read (GET and HEAD)")
    return Principal(user=holder.user, login_session_id=holder.api_key_id, api_key=True)


async def _authenticate(request: Request) -> Principal:
    """Verify the token and check its login session live (then remember the token)."""
    token = _bearer_token(request)
    if not token:
        raise Unauthorized("Not authenticated")
    resources: Resources = request.app.state.resources
    if is_api_key(token):
        holder = await authenticate_api_key(
            token, database=resources.database, cache=resources.access_cache
        )
        return _key_holder(request, holder)
    principal = await authenticate_access(
        token, tokens=resources.tokens, database=resources.database, cache=resources.access_cache
    )
    try:
        expires_at = resources.tokens.decode(token).expires_at  # verified above: remembered
    except InvalidToken:
        pass  # expired this very moment: accepted once, not remembered
    else:
        expires_in = (expires_at - utcnow()).total_seconds()
        resources.access_cache.remember_token(
            token, principal.login_session_id, expires_in=expires_in
        )
    request.scope.setdefault("state", {})["user_id"] = principal.user.id
    return principal


class _Bearer(OAuth2PasswordBearer):
    """The OAuth2 bearer scheme of the OpenAPI that resolves the token itself, so an
    authenticated route resolves one dependency rather than a chain. auto_error=False: a
    missing token is our own 401 in the envelope, not the framework's."""

    def __init__(self) -> None:
        super().__init__(tokenUrl=TOKEN_URL, scheme_name="OAuth2PasswordBearer", auto_error=False)


class _PrincipalOfToken(_Bearer):
    async def __call__(self, request: Request) -> Principal:  # type: ignore[override]
        return _remembered(request) or await _authenticate(request)


class _UserOfToken(_Bearer):
    async def __call__(self, request: Request) -> User:  # type: ignore[override]
        return (_remembered(request) or await _authenticate(request)).user


# A live login session of an active user, from the bearer token; or an API key, which
# answers 403 `insufficient_scope` where its scope does not reach.
current_principal = answers(401, 403, 503)(_PrincipalOfToken())
current_user = answers(401, 403, 503)(_UserOfToken())

CurrentPrincipal = Annotated[Principal, Depends(current_principal)]
CurrentUser = Annotated[User, Depends(current_user)]


@answers(403)
async def admin_user(user: CurrentUser, request: Request) -> User:
    if API_KEY_SCOPE in request.scope.get("state", {}):
        raise InsufficientScope("API keys cannot use administration routes")
    if user.role != Role.ADMIN:
        security_event("forbidden", user_id=str(user.id), reason="admin route")
        raise Forbidden("Administrator role required")
    return user


AdminUser = Annotated[User, Depends(admin_user)]


def presented_api_key(request: Request) -> str | None:
    """The API key the request authenticates with, read as the auth check reads it: a
    `Bearer pk_...` Authorization header, or else `X-API-Key` (whatever it holds)."""
    credential = _credential(request)
    if credential is None:
        return None
    value, from_x_api_key = credential
    return value if from_x_api_key or is_api_key(value) else None


async def refuse_api_key(request: Request) -> None:
    """Refuse a request that presents an API key: 403 `insufficient_scope` for a live key, 401
    for any other (decision 166). An access token, or no credential, passes untouched."""
    key = presented_api_key(request)
    if key is None:
        return
    resources: Resources = request.app.state.resources
    holder = remembered_key(resources.access_cache, key) or await authenticate_api_key(
        key, database=resources.database, cache=resources.access_cache
    )
    request.scope.setdefault("state", {})["user_id"] = holder.user.id
    raise InsufficientScope("API keys cannot manage credentials or the account")


@answers(401, 403, 503)
async def no_api_key(request: Request) -> None:
    """Every /auth/* route: no API key may manage credentials. The OAuth2 token route makes the
    same check itself, to answer in its RFC 6749 shape."""
    if request.scope["path"] != TOKEN_URL:
        await refuse_api_key(request)


NoApiKey = Depends(no_api_key)


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
