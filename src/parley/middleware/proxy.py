"""Take the client address from X-Forwarded-For only when the TCP peer is a trusted proxy.

FORWARDED_ALLOW_IPS lists the proxies (addresses or CIDR networks); empty trusts nobody, not even
loopback, so a client cannot spoof its address by sending the header itself. The walk through the
header is uvicorn's: the client is the nearest address that is not itself a trusted proxy.
"""

from typing import Any, cast

from starlette.types import Receive, Scope, Send
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware


async def _done(scope: Scope, receive: Receive, send: Send) -> None:
    """The end of uvicorn's middleware here: it has rewritten the scope, nothing else to do."""


class ForwardedClient:
    def __init__(self, trusted: list[str]) -> None:
        self._rewrite = ProxyHeadersMiddleware(cast(Any, _done), trusted_hosts=list(trusted))

    async def apply(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Set the scope's client (and scheme) from the forwarded headers of a trusted peer."""
        await self._rewrite(cast(Any, scope), cast(Any, receive), cast(Any, send))
