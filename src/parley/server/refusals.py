"""The responses the edge writes itself, before a request reaches the app: the contract's
envelope and headers, then `Connection: close`."""

import json
import uuid
from typing import ClassVar

from uvicorn.protocols.http.httptools_impl import STATUS_LINE

from parley.core.errors import ParleyError, Unavailable
from parley.http.errors import envelope
from parley.middleware.security_headers import API_CSP, HSTS

# A client turned away for capacity may come back this soon.
CAPACITY_RETRY_AFTER_S = 1


class HeaderFieldsTooLarge(ParleyError):
    status, code, message = 431, "header_fields_too_large", "Request header fields are too large"


class AtCapacity(Unavailable):
    message = "The server is at its connection limit"

    def __init__(self) -> None:
        super().__init__(retry_after=CAPACITY_RETRY_AFTER_S)


class Refusal(Exception):
    """Raised from a parser callback to stop parsing and answer `error` instead."""

    def __init__(self, error: ParleyError) -> None:
        super().__init__(error.message)
        self.error = error


class RefusalWriter:
    """Render a refusal as raw HTTP/1.1 bytes, with what every response of ours carries."""

    _FIXED: ClassVar[list[tuple[bytes, bytes]]] = [
        (b"content-type", b"application/json"),
        (b"connection", b"close"),
        (b"x-content-type-options", b"nosniff"),
        (b"x-frame-options", b"DENY"),
        (b"referrer-policy", b"no-referrer"),
        (b"content-security-policy", API_CSP),
    ]

    def __init__(self, *, hsts: bool) -> None:
        self.fixed = [*self._FIXED, *([(b"strict-transport-security", HSTS)] if hsts else [])]

    def render(self, error: ParleyError, default_headers: list[tuple[bytes, bytes]]) -> bytes:
        body = json.dumps(envelope(error.status, error.code, error.message)).encode()
        headers = [
            *default_headers,  # Date, as on the app's responses
            *self.fixed,
            (b"x-request-id", uuid.uuid4().hex.encode()),
            (b"content-length", str(len(body)).encode()),
        ]
        if error.retry_after is not None:
            headers.append((b"retry-after", str(error.retry_after).encode()))
        head = b"".join(name + b": " + value + b"\r\n" for name, value in headers)
        return STATUS_LINE[error.status] + head + b"\r\n" + body
