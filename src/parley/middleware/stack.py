"""The middleware stack, outermost first. Each layer is pure ASGI; the order is deliberate:

1. TrustedProxyMiddleware   fixes the client address first, so everything below sees the real one.
2. RequestIdMiddleware      binds the id to the logs of every layer below and echoes it.
3. AccessLogMiddleware      times and logs the final response, whoever produced it.
4. SecurityHeadersMiddleware  covers every response below it: 429, 413, 500, CORS refusals.
5. ExactOriginCORSMiddleware  answers preflights before they spend rate budget, and adds CORS
                            headers to 429s so browsers can read them.
6. RateLimitMiddleware      refuses before any body is read or any database work is done.
7. GZipMiddleware           compresses bodies over 1 KiB (never media, which is compressed already).
8. BodyLimitMiddleware      counts the bytes the app actually reads, chunked bodies included.
9. UnhandledErrorMiddleware turns an escaped exception into the 500 (or 503) envelope, inside
                            everything else so that response is logged, counted and headed too.
"""

from starlette.middleware import Middleware
from starlette.middleware.gzip import DEFAULT_EXCLUDED_CONTENT_TYPES, GZipMiddleware

from parley.core.config import Settings
from parley.core.ratelimit import Limiter
from parley.core.tokens import TokenCodec
from parley.middleware.access_log import AccessLogMiddleware
from parley.middleware.body_limit import BodyLimitMiddleware
from parley.middleware.cors import ExactOriginCORSMiddleware
from parley.middleware.errors import UnhandledErrorMiddleware
from parley.middleware.proxy import TrustedProxyMiddleware
from parley.middleware.rate_limit import RateLimitMiddleware
from parley.middleware.request_id import RequestIdMiddleware
from parley.middleware.security_headers import SecurityHeadersMiddleware

GZIP_MINIMUM_BYTES = 1024
# Level 6 is zlib's default: nearly all of level 9's gain for a fraction of its CPU.
GZIP_LEVEL = 6
_ALREADY_COMPRESSED = ("application/pdf", "application/octet-stream")


def middleware_stack(
    settings: Settings, *, tokens: TokenCodec, request_limiter: Limiter
) -> list[Middleware]:
    """Return the application's middleware, outermost first."""
    return [
        Middleware(TrustedProxyMiddleware, trusted=settings.forwarded_allow_ips),
        Middleware(RequestIdMiddleware),
        Middleware(AccessLogMiddleware),
        Middleware(SecurityHeadersMiddleware, hsts=settings.is_production),
        Middleware(ExactOriginCORSMiddleware, origins=settings.cors_origins),
        Middleware(RateLimitMiddleware, limiter=request_limiter, tokens=tokens),
        Middleware(
            GZipMiddleware,
            minimum_size=GZIP_MINIMUM_BYTES,
            compresslevel=GZIP_LEVEL,
            exclude_content_types=(*DEFAULT_EXCLUDED_CONTENT_TYPES, *_ALREADY_COMPRESSED),
        ),
        Middleware(
            BodyLimitMiddleware,
            max_body_bytes=settings.max_body_bytes,
            max_multipart_bytes=settings.media_max_bytes + settings.max_body_bytes,
        ),
        Middleware(UnhandledErrorMiddleware, development=settings.is_development),
    ]
