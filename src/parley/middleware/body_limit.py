"""Bound every request body, declared or chunked, and answer 413 in the envelope.

MAX_BODY_BYTES governs JSON (and form) bodies. A multipart upload may be as large as
MEDIA_MAX_BYTES plus MAX_BODY_BYTES for its other fields and framing; the media service
applies the exact media limit to the file itself.
"""

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from parley.api.errors import error_response
from parley.core.errors import PayloadTooLarge

_CONTENT_LENGTH = b"content-length"
_CONTENT_TYPE = b"content-type"


class BodyTooLarge(HTTPException):
    """Raised from `receive`; FastAPI passes HTTPExceptions from body reading through untouched,
    so the app's handler renders it as the 413 envelope."""

    def __init__(self) -> None:
        super().__init__(status_code=413)


class BodyLimitMiddleware:
    def __init__(self, app: ASGIApp, *, max_body_bytes: int, max_multipart_bytes: int) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.max_multipart_bytes = max_multipart_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self._limit_for(scope)
        declared = _content_length(scope)
        if declared is not None and declared > limit:
            # Refused before a byte of it is read.
            await error_response(PayloadTooLarge())(scope, receive, send)
            return
        received = 0
        started = False

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise BodyTooLarge
            return message

        async def track(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, limited_receive, track)
        except BodyTooLarge:
            if started:
                raise
            await error_response(PayloadTooLarge())(scope, receive, send)

    def _limit_for(self, scope: Scope) -> int:
        for name, value in scope["headers"]:
            if name == _CONTENT_TYPE and value.lower().startswith(b"multipart/form-data"):
                return self.max_multipart_bytes
        return self.max_body_bytes


def _content_length(scope: Scope) -> int | None:
    for name, value in scope["headers"]:
        if name == _CONTENT_LENGTH:
            try:
                return int(value)
            except ValueError:
                return None
    return None
