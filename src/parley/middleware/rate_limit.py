"""Per-client request budget with RateLimit-* headers and a 429 envelope past it.

The client is the user when the request carries a validly signed access token (checked by
signature only: no database round trip before the budget is known) or an API key this process
has verified and still remembers, else the client IP, with IPv6 clients grouped by /64 since
one host usually owns a whole /64. A key not verified yet counts against the IP, so made-up keys
buy no budget of their own (decision 165).
"""

import functools
import ipaddress
from collections.abc import Callable
from uuid import UUID

import structlog

from parley.core.ratelimit import Limiter, Verdict
from parley.core.tokens import InvalidToken, TokenCodec

log = structlog.get_logger("parley.ratelimit")

# The docs pages and their assets live under /docs.
EXEMPT_PREFIXES = ("/health/", "/metrics", "/docs", "/redoc", "/openapi.json")
_BEARER = b"bearer "


def is_exempt(path: str) -> bool:
    return path.startswith(EXEMPT_PREFIXES)


def bearer_token(authorization: bytes | None) -> str | None:
    if authorization is None or authorization[:7].lower() != _BEARER:
        return None
    token: bytes = authorization[7:].strip()
    return token.decode("latin-1")


# API keys are told from access tokens by their mark alone (see parley.apikeys.keys).
_API_KEY_MARK = "pk_"

KeyOwner = Callable[[str], UUID | None]


class RequestBudget:
    def __init__(
        self, *, limiter: Limiter, tokens: TokenCodec, key_owner: KeyOwner | None = None
    ) -> None:
        self.limiter = limiter
        self.tokens = tokens
        self.key_owner = key_owner

    async def check(self, token: str | None, client: tuple[str, int] | None) -> Verdict | None:
        """Spend one request of the client's budget; None when the limiter is broken, since a
        broken limiter must never cost the request."""
        try:
            return await self.limiter.hit(self.client_key(token, client))
        except Exception as exc:
            log.warning("rate_limit_check_failed", error=type(exc).__name__)
            return None

    def client_key(self, token: str | None, client: tuple[str, int] | None) -> str:
        """`user:<id>` for a validly signed access token or a remembered API key, else
        `ip:<address or /64>` (a key not verified yet, or no longer remembered, included)."""
        if token is not None and token.startswith(_API_KEY_MARK):
            owner = self.key_owner(token) if self.key_owner is not None else None
            if owner is not None:
                return f"user:{owner}"
        elif token is not None:
            try:
                return f"user:{self.tokens.decode(token).user_id}"
            except InvalidToken:
                pass
        return f"ip:{_ip_key(client[0]) if client else 'unknown'}"


@functools.lru_cache(maxsize=4096)  # parsing an address is a tenth of the edge's own work
def _ip_key(host: str) -> str:
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return host
    if address.version == 6:
        return str(ipaddress.IPv6Network((address, 64), strict=False))
    return str(address)


def budget_headers(verdict: Verdict) -> list[tuple[bytes, bytes]]:
    return [
        (b"ratelimit-limit", str(verdict.limit).encode()),
        (b"ratelimit-remaining", str(verdict.remaining).encode()),
        (b"ratelimit-reset", str(verdict.reset_after).encode()),
    ]
