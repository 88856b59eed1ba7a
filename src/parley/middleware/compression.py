"""Gzip for responses over 1 KiB (never media, which is compressed already), inside the edge.

Most responses are small: those pass straight through, with no per-request set-up. A response
that may need compressing (a large body, a stream, a file sent by path) is handed to Starlette's
own GZipResponder, start message first, so its rules (Vary, 206, excluded types, streaming)
apply unchanged.
"""

from starlette.middleware.gzip import DEFAULT_EXCLUDED_CONTENT_TYPES, GZipResponder
from starlette.types import Message, Send

GZIP_MINIMUM_BYTES = 1024
# Level 6 is zlib's default: nearly all of level 9's gain for a fraction of its CPU.
GZIP_LEVEL = 6
EXCLUDED_CONTENT_TYPES = (
    *DEFAULT_EXCLUDED_CONTENT_TYPES,
    "application/pdf",
    "application/octet-stream",
)


async def _unused_app(*_: object) -> None:
    raise AssertionError("the responder only compresses what it is sent")


class Gzip:
    """One response's compression: `send` for the app, forwarding to `downstream`."""

    __slots__ = ("_downstream", "_responder", "_start", "_streaming")

    def __init__(self, downstream: Send) -> None:
        self._downstream = downstream
        self._start: Message | None = None
        self._responder: GZipResponder | None = None
        self._streaming = False

    async def send(self, message: Message) -> None:
        if self._streaming:
            await self._downstream(message)
        elif message["type"] == "http.response.start" and _is_event_stream(message):
            # Server-Sent Events: never compressed, and the head goes out at once rather
            # than with the first event, which may be a while coming.
            self._streaming = True
            await self._downstream(message)
        elif self._responder is not None:
            await self._responder.send_with_compression(message)
        elif message["type"] == "http.response.start":
            self._start = message
        elif self._start is None:
            await self._downstream(message)
        elif (
            message["type"] == "http.response.body"
            and not message.get("more_body", False)
            and len(message.get("body", b"")) < GZIP_MINIMUM_BYTES
        ):
            start, self._start = self._start, None
            await self._downstream(start)
            await self._downstream(message)
        else:
            self._responder = GZipResponder(
                _unused_app,
                GZIP_MINIMUM_BYTES,
                compresslevel=GZIP_LEVEL,
                exclude_content_types=EXCLUDED_CONTENT_TYPES,
            )
            self._responder.send = self._downstream
            start, self._start = self._start, None
            await self._responder.send_with_compression(start)
            await self._responder.send_with_compression(message)


def _is_event_stream(start: Message) -> bool:
    for name, value in start.get("headers", ()):
        if name.lower() == b"content-type":
            return bool(value.startswith(b"text/event-stream"))
    return False
