"""CORS for exactly the configured origins, on Starlette's pure ASGI middleware.

An allowed origin gets itself back with `Vary: Origin`; any other origin gets no
Access-Control-Allow-Origin at all, and a refused preflight is a 400 in the envelope.
"""

import structlog
from starlette.datastructures import Headers
from starlette.middleware.cors import CORSMiddleware
from starlette.responses import Response
from starlette.types import ASGIApp

from parley.api.errors import error_response
from parley.core.errors import BadRequest

log = structlog.get_logger("parley.cors")

ALLOWED_METHODS = ("GET", "POST", "PATCH", "PUT", "DELETE", "OPTIONS")
ALLOWED_HEADERS = ("Authorization", "Content-Type", "X-Request-ID")
EXPOSED_HEADERS = (
    "X-Request-ID",
    "Retry-After",
    "RateLimit-Limit",
    "RateLimit-Remaining",
    "RateLimit-Reset",
    "Content-Disposition",
)
PREFLIGHT_MAX_AGE_S = 600


class ExactOriginCORSMiddleware(CORSMiddleware):
    def __init__(self, app: ASGIApp, *, origins: list[str]) -> None:
        exact = [origin.rstrip("/") for origin in origins if origin.strip() != "*"]
        if len(exact) != len(origins):
            # Credentials travel in a header, but "any origin" is still never what is meant here.
            log.warning("cors_wildcard_ignored", hint="list each allowed origin in CORS_ORIGINS")
        super().__init__(
            app,
            allow_origins=exact,
            allow_methods=ALLOWED_METHODS,
            allow_headers=ALLOWED_HEADERS,
            expose_headers=EXPOSED_HEADERS,
            allow_credentials=False,
            max_age=PREFLIGHT_MAX_AGE_S,
        )

    def preflight_response(self, request_headers: Headers) -> Response:
        response = super().preflight_response(request_headers)
        if response.status_code < 400:
            return response
        refused = error_response(BadRequest("CORS preflight refused"))
        for name, value in response.headers.items():
            if name.lower().startswith("access-control-") or name.lower() == "vary":
                refused.headers[name] = value
        return refused
