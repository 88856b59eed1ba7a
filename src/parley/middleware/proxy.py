"""Take the client address from X-Forwarded-For only when the TCP peer is a trusted proxy.

FORWARDED_ALLOW_IPS lists the proxies (addresses or CIDR networks); empty trusts nobody, not even
loopback, so a client cannot spoof its address by sending the header itself. The walk through the
header is uvicorn's: the client is the nearest address that is not itself a trusted proxy.
"""

from typing import Any, cast

from starlette.types import ASGIApp, Receive, Scope, Send
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware


class TrustedProxyMiddleware:
    def __init__(self, app: ASGIApp, *, trusted: list[str]) -> None:
        self.app = app
        self._proxy_aware: ASGIApp | None = (
            cast(ASGIApp, ProxyHeadersMiddleware(cast(Any, app), trusted_hosts=list(trusted)))
            if trusted
            else None
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self._proxy_aware is None or scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        await self._proxy_aware(scope, receive, send)
