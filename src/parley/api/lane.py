"""The lane: the hot routes' common case answered from the edge, past the framework's router.

FastAPI's route matching, dependency resolution and exception middleware cost about as much as
the whole work of `GET /users/me` (decision 182). A request to a hot route takes the lane when
nothing about it needs them: its method and path match the route, its first Authorization header
is a bearer access token this worker remembers as live, the ids in its path are canonical UUIDs,
and each query parameter is one the route takes, given once, that the lane reads exactly as the
route's validation would. Anything else (no token or one not remembered, an API key, a repeated,
empty or out-of-range parameter, an Idempotency-Key, HEAD, another content type) goes on to the
route itself, which answers it, errors included.

A lane handler calls the same use case as its route (the domains' `hot_paths`); a `ParleyError`
it raises is rendered by the same function as the app's handler, and anything else escapes to
the edge as from the app. Every lane route names the route it stands for, so the access log and
the metrics count it under the same template; a test keeps the two tables in step.
"""

import re
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl
from uuid import UUID

from pydantic import TypeAdapter, ValidationError
from starlette.requests import ClientDisconnect
from starlette.types import Receive, Scope, Send

from parley.api.resources import Resources
from parley.core.errors import ParleyError
from parley.core.schemas import SearchQuery
from parley.http.errors import error_response
from parley.models.user import User

_CANONICAL_UUID = re.compile("-".join(f"[0-9a-fA-F]{{{n}}}" for n in (8, 4, 4, 4, 12)))
_LIMIT = re.compile(r"[1-9][0-9]?|100")
_MAX_CURSOR = 1024  # the routes' Query(max_length=1024)
_SEARCH = TypeAdapter(SearchQuery)
_JSON_HEADERS = (b"content-type", b"application/json")


class Decline(Exception):
    """The request is not the lane's common case: the route answers it."""


def _limit(value: str) -> int:
    if not _LIMIT.fullmatch(value):
        raise Decline
    return int(value)


def _cursor(value: str) -> str:
    if len(value) > _MAX_CURSOR:
        raise Decline
    return value


def _search(value: str) -> str:
    try:
        return _SEARCH.validate_python(value)
    except ValidationError:
        raise Decline from None


def _order(value: str) -> str:
    if value not in ("asc", "desc"):
        raise Decline
    return value


# How the lane reads each query parameter the hot routes take, and its default: as the routes'
# own declarations (PageParams, SearchQuery, the message order) validate them.
_READERS: dict[str, Callable[[str], Any]] = {
    "limit": _limit,
    "cursor": _cursor,
    "q": _search,
    "order": _order,
}
_DEFAULTS: dict[str, Any] = {"limit": 20, "cursor": None, "q": None, "order": "asc"}
PAGE = ("limit", "cursor")


@dataclass(frozen=True, slots=True)
class LaneCall:
    """What a lane handler is given: the caller, the path's ids, the read query, the body."""

    user: User
    ids: tuple[UUID, ...]
    query: dict[str, Any]
    resources: Resources
    receive: Receive
    no_cache: bool  # the request said `Cache-Control: no-cache`


LaneHandler = Callable[[LaneCall], Awaitable[tuple[int, bytes]]]


@dataclass(frozen=True, slots=True)
class LaneRoute:
    method: str
    path_format: str  # the route's template under the API prefix; read by the access log
    handler: LaneHandler
    query: tuple[str, ...] = ()
    content_type: bytes | None = None  # a POST's only body type the lane takes

    def segments(self) -> tuple[str | None, ...]:
        """The template's segments, None where an id goes."""
        return tuple(
            None if part.startswith("{") else part for part in self.path_format.split("/")[1:]
        )


def lane_route(
    routes: list[LaneRoute],
    method: str,
    path_format: str,
    *,
    query: Sequence[str] = (),
    content_type: bytes | None = None,
) -> Callable[[LaneHandler], LaneHandler]:
    """Declare `handler` as the lane twin of the route at `method path_format`."""

    def register(handler: LaneHandler) -> LaneHandler:
        routes.append(LaneRoute(method, path_format, handler, tuple(query), content_type))
        return handler

    return register


class _Compiled:
    __slots__ = ("route", "segments")

    def __init__(self, route: LaneRoute, prefix: str) -> None:
        self.route = _Prefixed(route, prefix + route.path_format)
        self.segments = tuple(prefix.strip("/").split("/") if prefix else ()) + route.segments()


@dataclass(frozen=True, slots=True)
class _Prefixed:
    """The route as the access log sees it: `path_format` is the full template."""

    lane: LaneRoute
    path_format: str


class Lane:
    def __init__(self, resources: Resources, routes: Sequence[LaneRoute], prefix: str) -> None:
        self.resources = resources
        self._routes: dict[tuple[str, int], list[_Compiled]] = {}
        for route in routes:
            compiled = _Compiled(route, prefix)
            self._routes.setdefault((route.method, len(compiled.segments)), []).append(compiled)

    def _match(self, method: str, path: str) -> tuple[_Compiled, tuple[UUID, ...]] | None:
        parts = path.split("/")[1:]
        for candidate in self._routes.get((method, len(parts)), ()):
            ids: list[UUID] = []
            for part, literal in zip(parts, candidate.segments, strict=True):
                if literal is None:
                    if not _CANONICAL_UUID.fullmatch(part):
                        break
                    ids.append(UUID(part))
                elif part != literal:
                    break
            else:
                return candidate, tuple(ids)
        return None

    async def __call__(
        self,
        scope: Scope,
        receive: Receive,
        send: Send,
        *,
        authorization: bytes | None,
        content_type: bytes | None,
    ) -> bool:
        """Answer the request and tell True, or tell False for the route to answer it."""
        matched = self._match(scope["method"], scope["path"])
        if matched is None or authorization is None or authorization[:7].lower() != b"bearer ":
            return False
        compiled, ids = matched
        route = compiled.route.lane
        if route.content_type is not None and _media_type(content_type) != route.content_type:
            return False
        remembered = self.resources.access_cache.get_by_token(authorization[7:].decode("latin-1"))
        if remembered is None:
            return False
        try:
            query = _read_query(scope["query_string"], route.query)
        except Decline:
            return False
        user = remembered[0]
        state = scope["state"]
        state["user_id"] = user.id
        scope["route"] = compiled.route
        try:
            call = LaneCall(user, ids, query, self.resources, receive, "no_cache" in state)
            status, body = await route.handler(call)
        except ParleyError as error:
            await error_response(error)(scope, receive, send)
            return True
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [(b"content-length", str(len(body)).encode()), _JSON_HEADERS],
            }
        )
        await send({"type": "http.response.body", "body": body})
        return True


def _media_type(content_type: bytes | None) -> bytes | None:
    if content_type is None:
        return None
    return content_type.split(b";", 1)[0].strip().lower()


async def read_body(receive: Receive) -> bytes:
    """The request's whole body (the edge bounds its size: 413 past the limit)."""
    body = bytearray()
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise ClientDisconnect
        body += message.get("body", b"")
        if not message.get("more_body", False):
            return bytes(body)


def _read_query(raw: bytes, accepted: tuple[str, ...]) -> dict[str, Any]:
    """The query's parameters read as the route reads them; Decline for anything unusual."""
    query = {name: _DEFAULTS[name] for name in accepted}
    if not raw:
        return query
    seen: set[str] = set()
    # As Starlette parses it (QueryParams).
    for name, value in parse_qsl(raw.decode("latin-1"), keep_blank_values=True):
        if name not in query or name in seen or not value:
            raise Decline
        seen.add(name)
        query[name] = _READERS[name](value)
    return query
