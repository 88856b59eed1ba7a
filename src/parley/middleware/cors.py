"""CORS for exactly the configured origins.

An allowed origin gets itself back; any other origin gets no Access-Control-Allow-Origin at all,
and every response says `Vary: Origin`. Preflights are answered by Starlette's CORS rules, and a
refused preflight is a 400 in the envelope.
"""

import structlog
from starlette.datastructures import Headers
from starlette.middleware.cors import CORSMiddleware
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from parley.core.errors import BadRequest
from parley.http.errors import error_response

log = structlog.get_logger("parley.cors")

ALLOWED_METHODS = ("GET", "POST", "PATCH", "PUT", "DELETE", "OPTIONS")
ALLOWED_HEADERS = ("Authorization", "Content-Type", "X-API-Key", "X-Request-ID")
EXPOSED_HEADERS = (
    "X-Request-ID",
    "Retry-After",
    "RateLimit-Limit",
    "RateLimit-Remaining",
    "RateLimit-Reset",
    "Content-Disposition",
)
PREFLIGHT_MAX_AGE_S = 600
_EXPOSE = b"access-control-expose-headers"
_ALLOW_ORIGIN = b"access-control-allow-origin"
_VARY = b"vary"


async def _never_called(scope: Scope, receive: Receive, send: Send) -> None:
    raise AssertionError("only the preflight rules of the CORS middleware are used")


class CorsPolicy:
    def __init__(self, origins: list[str]) -> None:
        exact = [origin.rstrip("/") for origin in origins if origin.strip() != "*"]
        if len(exact) != len(origins):
            # Credentials travel in a header, but "any origin" is still never what is meant here.
            log.warning("cors_wildcard_ignored", hint="list each allowed origin in CORS_ORIGINS")
        self._origins = frozenset(exact)
        self._expose = ", ".join(EXPOSED_HEADERS).encode("latin-1")
        self._preflight = CORSMiddleware(
            _never_called,
            allow_origins=exact,
            allow_methods=ALLOWED_METHODS,
            allow_headers=ALLOWED_HEADERS,
            expose_headers=EXPOSED_HEADERS,
            allow_credentials=False,
            max_age=PREFLIGHT_MAX_AGE_S,
        )

    def preflight_response(self, scope: Scope) -> Response:
        response = self._preflight.preflight_response(Headers(scope=scope))
        if response.status_code < 400:
            return response
        refused = error_response(BadRequest("CORS preflight refused"))
        for name, value in response.headers.items():
            if name.lower().startswith("access-control-") or name.lower() == "vary":
                refused.headers[name] = value
        return refused

    def apply(self, headers: list[tuple[bytes, bytes]], origin: bytes | None) -> None:
        """Add the simple-response headers in place, as Starlette's CORS middleware does."""
        if origin is not None:
            _set(headers, _EXPOSE, self._expose)
            if origin.decode("latin-1") in self._origins:
                _set(headers, _ALLOW_ORIGIN, origin)
        vary = [v for k, v in headers if k == _VARY]
        _set(headers, _VARY, b", ".join([*vary, b"Origin"]))


def _set(headers: list[tuple[bytes, bytes]], name: bytes, value: bytes) -> None:
    """Replace the first header of this name and drop the others, or append it."""
    found = [i for i, (k, _) in enumerate(headers) if k == name]
    if not found:
        headers.append((name, value))
        return
    headers[found[0]] = (name, value)
    for index in reversed(found[1:]):
        del headers[index]
