"""Security headers on every response, errors included, and no server banner."""

from starlette.types import ASGIApp, Message, Receive, Scope, Send

API_CSP = b"default-src 'none'; frame-ancestors 'none'"
HSTS = b"max-age=63072000; includeSubDomains"
# Token responses and user data must not be kept by browsers or shared caches.
NO_STORE_PREFIXES = ("/api/v1/auth", "/api/v1/users")
_DROPPED = frozenset({b"server", b"x-powered-by"})
_CSP = b"content-security-policy"


def _is_under(path: str, prefix: str) -> bool:
    return path == prefix or path.startswith(prefix + "/")


class SecurityHeadersMiddleware:
    """Add the contract's headers. A response that sets its own Content-Security-Policy (the
    HTML docs pages) keeps it; every other response gets the strict API policy."""

    def __init__(self, app: ASGIApp, *, hsts: bool) -> None:
        self.app = app
        self.hsts = hsts

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        no_store = any(_is_under(scope["path"], prefix) for prefix in NO_STORE_PREFIXES)

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = self._headers(message.get("headers", []), no_store=no_store)
            await send(message)

        await self.app(scope, receive, send_with_headers)

    def _headers(
        self, raw: list[tuple[bytes, bytes]], *, no_store: bool
    ) -> list[tuple[bytes, bytes]]:
        replaced = {b"x-content-type-options", b"x-frame-options", b"referrer-policy"}
        if no_store:
            replaced.add(b"cache-control")
        if self.hsts:
            replaced.add(b"strict-transport-security")
        headers = [
            (k, v) for k, v in raw if k.lower() not in _DROPPED and k.lower() not in replaced
        ]
        headers += [
            (b"x-content-type-options", b"nosniff"),
            (b"x-frame-options", b"DENY"),
            (b"referrer-policy", b"no-referrer"),
        ]
        if not any(k.lower() == _CSP for k, _ in headers):
            headers.append((_CSP, API_CSP))
        if no_store:
            headers.append((b"cache-control", b"no-store"))
        if self.hsts:
            headers.append((b"strict-transport-security", HSTS))
        return headers
