"""The middleware stack: one pure ASGI layer, EdgeMiddleware (parley.middleware.edge).

It applies every per-request concern in one pass, in this order: trusted proxy (the real
client address first), request id (bound to every log line below, echoed), CORS preflight
(answered before it spends rate budget), rate limit (before any body is read or any database
work), body limit (declared sizes refused unread, the bytes the app reads counted), gzip of
the app's responses over 1 KiB (never media, which is compressed already), and the 500 (or
503) envelope for an exception that escaped the app. Every response it passes, 429/413/500
included, gets the RateLimit-*, CORS, security and request-id headers and is logged and
counted (decisions 040 and 090).

HEAD is handled around it by parley.api.methods (see parley.main).
"""

from starlette.middleware import Middleware

from parley.core.config import Settings
from parley.core.ratelimit import Limiter
from parley.core.tokens import TokenCodec
from parley.idempotency.edge import IdempotentRequests
from parley.middleware.edge import EdgeMiddleware, Lane
from parley.middleware.rate_limit import KeyOwner


def middleware_stack(
    settings: Settings,
    *,
    tokens: TokenCodec,
    request_limiter: Limiter,
    key_owner: KeyOwner | None = None,
    idempotency: IdempotentRequests | None = None,
    lane: Lane | None = None,
) -> list[Middleware]:
    """Return the application's middleware, outermost first."""
    return [
        Middleware(
            EdgeMiddleware,
            trusted_proxies=settings.forwarded_allow_ips,
            hsts=settings.is_production,
            cors_origins=settings.cors_origins,
            limiter=request_limiter,
            tokens=tokens,
            key_owner=key_owner,
            max_body_bytes=settings.max_body_bytes,
            max_multipart_bytes=settings.media_max_bytes + settings.max_body_bytes,
            development=settings.is_development,
            idempotency=idempotency,
            lane=lane,
        )
    ]
