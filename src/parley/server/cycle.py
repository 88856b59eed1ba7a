"""uvicorn's request-response cycle, sending a response's head with its body.

uvicorn writes the head as soon as the app starts the response, and the body when it comes:
with Nagle's algorithm off (decision 196), two TCP segments for every response, and a client
that wakes twice to read one answer. Here the head of a response with a known length waits for
its first body message, and both leave in one write. A streamed response (an event stream,
chunked) and the head of a HEAD request are written at once, as before."""

from typing import Any

from uvicorn.protocols.http.httptools_impl import RequestResponseCycle


class _Capture:
    """Stands in for the transport while uvicorn renders one message: keeps what it writes."""

    __slots__ = ("closing", "data")

    def __init__(self) -> None:
        self.data: list[bytes] = []
        self.closing = False

    def write(self, data: bytes) -> None:
        self.data.append(data)

    def close(self) -> None:
        self.closing = True


class OneWriteCycle(RequestResponseCycle):
    held: bytes | None = None  # the rendered head, waiting for its body

    async def send(self, message: Any) -> None:
        if self.held is None and self.response_started:
            await super().send(message)  # a streamed response's later messages, as uvicorn's
            return
        transport, capture = self.transport, _Capture()
        self.transport = capture  # type: ignore[assignment]
        try:
            await super().send(message)  # uvicorn's checks and rendering, into the capture
        finally:
            self.transport = transport
        if message["type"] == "http.response.start" and self._body_follows():
            self.held = b"".join(capture.data)
            return
        if self.held is not None:
            capture.data.insert(0, self.held)
            self.held = None
        if capture.data:
            transport.write(b"".join(capture.data))
        if capture.closing:
            transport.close()

    def _body_follows(self) -> bool:
        """A body of known length comes next (a HEAD answer's head is all there is)."""
        return self.chunked_encoding is False and self.scope["method"] != "HEAD"
