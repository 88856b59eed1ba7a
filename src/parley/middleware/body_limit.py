"""Bound every request body, declared or chunked.

MAX_BODY_BYTES governs JSON (and form) bodies. A multipart upload may be as large as
MEDIA_MAX_BYTES plus MAX_BODY_BYTES for its other fields and framing; the media service
applies the exact media limit to the file itself.
"""

from starlette.exceptions import HTTPException
from starlette.types import Message, Receive


class BodyTooLarge(HTTPException):
    """Raised from `receive`; FastAPI passes HTTPExceptions from body reading through untouched,
    so the app's handler renders it as the 413 envelope."""

    def __init__(self) -> None:
        super().__init__(status_code=413)


def declared_length(content_length: bytes | None) -> int | None:
    if content_length is None:
        return None
    try:
        return int(content_length)
    except ValueError:
        return None


def limited(receive: Receive, limit: int) -> Receive:
    """`receive` that raises BodyTooLarge once the bytes read pass `limit`."""
    received = 0

    async def limited_receive() -> Message:
        nonlocal received
        message = await receive()
        if message["type"] == "http.request":
            received += len(message.get("body", b""))
            if received > limit:
                raise BodyTooLarge
        return message

    return limited_receive
