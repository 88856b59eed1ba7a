"""One access line and the request metrics per request, written when the response is done
(see parley.middleware.edge)."""

import structlog
from prometheus_client import Counter, Histogram
from starlette.types import Scope

from parley.ops.metrics import REQUEST_LATENCY, REQUESTS

log = structlog.get_logger("parley.access")

# Requests that matched no route share one label, so scanners cannot blow up the metrics.
UNMATCHED_ROUTE = "<unmatched>"
MAX_LOGGED_PATH = 256
MAX_CACHED_LABELS = 4096
_children: dict[tuple[str, str, int], tuple[Counter, Histogram]] = {}
_plain_templates: dict[object, object | None] = {}


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
    if endpoint not in _plain_templates:  # the app's routes are fixed once it serves
        _plain_templates[endpoint] = next(
            (r for r in router.routes if getattr(r, "endpoint", None) is endpoint), None
        )
    return _plain_templates[endpoint]


def record(scope: Scope, method: str, status: int, seconds: float, root_path: str) -> None:
    """Count, time and log one answered request under its route template."""
    route = route_template(scope, root_path)
    requests, latency = _metrics(method, route, status)
    requests.inc()
    latency.observe(seconds)
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


def _metrics(method: str, route: str, status: int) -> tuple[Counter, Histogram]:
    # The labelled children, found once per (method, route, status); the methods a client
    # may invent bound how many are kept, not how many are counted.
    key = (method, route, status)
    found = _children.get(key)
    if found is None:
        found = (
            REQUESTS.labels(method=method, route=route, status=str(status)),
            REQUEST_LATENCY.labels(method=method, route=route),
        )
        if len(_children) < MAX_CACHED_LABELS:
            _children[key] = found
    return found
