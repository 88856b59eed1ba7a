"""One access line and the request metrics per request, written when the response is done."""

import time

import structlog
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from parley.ops.metrics import REQUEST_LATENCY, REQUESTS

log = structlog.get_logger("parley.access")

# Requests that matched no route share one label, so scanners cannot blow up the metrics.
UNMATCHED_ROUTE = "<unmatched>"
MAX_LOGGED_PATH = 256


def route_template(scope: Scope, root_path: str = "") -> str:
    """The matched route's template (`/api/v1/sessions/{chat_session_id}`), never the raw path."""
    # FastAPI records the route as declared in its router (`/me`); the full template with the
    # include prefixes is on the effective route it keeps in the scope (a test pins this down).
    effective = (scope.get("fastapi") or {}).get("effective_route_context")
    route = scope.get("route") or _plain_route(scope)
    for candidate in (effective, route):
        template = getattr(candidate, "path_format", None)
        if template:
            return str(template)
    mounted_at = scope.get("root_path", "")[len(root_path) :]
    if mounted_at:  # a mounted app (the docs assets): its prefix stands for all of it
        return f"{mounted_at}/{{path}}"
    return UNMATCHED_ROUTE


def _plain_route(scope: Scope) -> object | None:
    # FastAPI records only its own API routes in the scope; a plain Starlette route such as
    # /openapi.json is found again through its endpoint.
    endpoint, router = scope.get("endpoint"), scope.get("router")
    if endpoint is None or router is None:
        return None
    return next((r for r in router.routes if getattr(r, "endpoint", None) is endpoint), None)


class AccessLogMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        root_path = scope.get("root_path", "")
        status = 500  # what the server answers if the app raises before responding

        async def record_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, record_status)
        finally:
            _record(scope, status, time.perf_counter() - started, root_path)


def _record(scope: Scope, status: int, seconds: float, root_path: str) -> None:
    route = route_template(scope, root_path)
    method = scope["method"]
    REQUESTS.labels(method=method, route=route, status=str(status)).inc()
    REQUEST_LATENCY.labels(method=method, route=route).observe(seconds)
    state = scope.get("state") or {}
    user_id = state.get("user_id")
    client = scope.get("client")
    log.info(
        "request",
        method=method,
        route=route,
        path=scope["path"][:MAX_LOGGED_PATH],
        status=status,
        duration_ms=round(seconds * 1000, 2),
        user_id=str(user_id) if user_id is not None else None,
        client_ip=client[0] if client else None,
    )
