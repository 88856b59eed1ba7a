"""Per-client request budget with RateLimit-* headers and a 429 envelope past it.

The client is the user when the request carries a validly signed access token (checked by
signature only: no database round trip before the budget is known), else the client IP, with
IPv6 clients grouped by /64 since one host usually owns a whole /64.
"""

import ipaddress

import structlog
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from parley.api.errors import error_response
from parley.core.errors import RateLimited
from parley.core.ratelimit import Limiter, Verdict
from parley.core.tokens import InvalidToken, TokenCodec
from parley.ops.metrics import RATE_LIMITED

log = structlog.get_logger("parley.ratelimit")

# The docs pages and their assets live under /docs.
EXEMPT_PREFIXES = ("/health/", "/metrics", "/docs", "/redoc", "/openapi.json")
_AUTHORIZATION = b"authorization"
_BEARER = b"bearer "


def is_exempt(path: str) -> bool:
    return path.startswith(EXEMPT_PREFIXES)


class RateLimitMiddleware:
    def __init__(self, app: ASGIApp, *, limiter: Limiter, tokens: TokenCodec) -> None:
        self.app = app
        self.limiter = limiter
        self.tokens = tokens

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or is_exempt(scope["path"]):
            await self.app(scope, receive, send)
            return
        try:
            verdict = await self.limiter.hit(self.client_key(scope))
        except Exception as exc:  # a broken limiter must never cost the request
            log.warning("rate_limit_check_failed", error=type(exc).__name__)
            await self.app(scope, receive, send)
            return
        headers = _headers(verdict)
        if not verdict.allowed:
            RATE_LIMITED.labels(limiter="request").inc()
            response = error_response(RateLimited(retry_after=verdict.reset_after))
            response.raw_headers.extend(headers)
            await response(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), *headers]
            await send(message)

        await self.app(scope, receive, send_with_headers)

    def client_key(self, scope: Scope) -> str:
        """`user:<id>` for a validly signed access token, else `ip:<address or /64>`."""
        token = _bearer_token(scope)
        if token is not None:
            try:
                return f"user:{self.tokens.decode(token).user_id}"
            except InvalidToken:
                pass
        client = scope.get("client")
        return f"ip:{_ip_key(client[0]) if client else 'unknown'}"


def _bearer_token(scope: Scope) -> str | None:
    for name, value in scope["headers"]:
        if name == _AUTHORIZATION and value[:7].lower() == _BEARER:
            token: bytes = value[7:].strip()
            return token.decode("latin-1")
    return None


def _ip_key(host: str) -> str:
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return host
    if address.version == 6:
        return str(ipaddress.IPv6Network((address, 64), strict=False))
    return str(address)


def _headers(verdict: Verdict) -> list[tuple[bytes, bytes]]:
    return [
        (b"ratelimit-limit", str(verdict.limit).encode()),
        (b"ratelimit-remaining", str(verdict.remaining).encode()),
        (b"ratelimit-reset", str(verdict.reset_after).encode()),
    ]
