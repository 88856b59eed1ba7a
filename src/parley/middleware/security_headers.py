"""Security headers on every response, errors included, and no server banner."""

from parley.middleware.request_id import HEADER as REQUEST_ID

Headers = list[tuple[bytes, bytes]]

API_CSP = b"default-src 'none'; frame-ancestors 'none'"
HSTS = b"max-age=63072000; includeSubDomains"
# Token responses and user data must not be kept by browsers or shared caches.
NO_STORE_PREFIXES = ("/api/v1/auth", "/api/v1/users")
_CSP = b"content-security-policy"
_ALWAYS: Headers = [
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
]
_DROPPED = frozenset({b"server", b"x-powered-by", REQUEST_ID, *(name for name, _ in _ALWAYS)})


def is_no_store(path: str) -> bool:
    return any(path == prefix or path.startswith(prefix + "/") for prefix in NO_STORE_PREFIXES)


class SecurityHeaders:
    """The contract's headers, encoded once. A response that sets its own
    Content-Security-Policy (the HTML docs pages) keeps it; every other response gets the strict
    API policy. The request id is appended last, replacing any the app set."""

    def __init__(self, *, hsts: bool) -> None:
        self._hsts: Headers = [(b"strict-transport-security", HSTS)] if hsts else []
        self._dropped = _DROPPED | {name for name, _ in self._hsts}
        self._dropped_no_store = self._dropped | {b"cache-control"}

    def apply(self, raw: Headers, *, no_store: bool, request_id: bytes) -> Headers:
        dropped = self._dropped_no_store if no_store else self._dropped
        headers = [(k, v) for k, v in raw if k.lower() not in dropped]
        has_csp = any(k.lower() == _CSP for k, _ in headers)
        headers += _ALWAYS
        if not has_csp:
            headers.append((_CSP, API_CSP))
        if no_store:
            headers.append((b"cache-control", b"no-store"))
        headers += self._hsts
        headers.append((REQUEST_ID, request_id))
        return headers
