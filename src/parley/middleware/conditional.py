"""Conditional GETs: an `ETag` on every JSON read, and 304 when the client already has it.

The tag is a digest of the JSON body as the app rendered it, before compression, so it is the
same for every encoding (hence weak, `W/"…"`, as RFC 9110 asks of a tag shared by
representations that differ in bytes). The reply to a matching `If-None-Match` is a 304 with
the headers a 200 would carry and no body: it saves the transfer, not the read, which stays a
single indexed statement (decision 160 says why no cache sits in front of it yet).

Only a complete JSON body sent in one message is tagged; streams, files and anything else pass
through untouched.
"""

from hashlib import blake2b

from starlette.types import Message, Send

_JSON = b"application/json"
_DROPPED_ON_304 = frozenset({b"content-length", b"content-type"})


# hashlib lets go of the GIL for an input this long or longer, and on SQLite getting it back
# meant waiting for the database threads (decision 187): the body is fed in shorter pieces.
_GIL_KEPT_BELOW = 2048


def entity_tag(body: bytes) -> bytes:
    digest = blake2b(digest_size=16)
    with memoryview(body) as view:
        for start in range(0, len(body), _GIL_KEPT_BELOW - 1):
            digest.update(view[start : start + _GIL_KEPT_BELOW - 1])
    return b'W/"' + digest.hexdigest().encode() + b'"'


def matches(if_none_match: bytes, tag: bytes) -> bool:
    """Weak comparison (RFC 9110 §13.1.2): `*`, or any listed tag equal once `W/` is set
    aside."""
    if if_none_match.strip() == b"*":
        return True
    opaque = tag.removeprefix(b"W/")
    return any(
        candidate.strip().removeprefix(b"W/") == opaque for candidate in if_none_match.split(b",")
    )


class Conditional:
    """One GET's response: `send` for the app, forwarding to `downstream`."""

    __slots__ = ("_downstream", "_if_none_match", "_start")

    def __init__(self, downstream: Send, if_none_match: bytes | None) -> None:
        self._downstream = downstream
        self._if_none_match = if_none_match
        self._start: Message | None = None

    async def send(self, message: Message) -> None:
        start = self._start
        if start is None:
            if message["type"] == "http.response.start" and message["status"] == 200:
                self._start = message  # held until the body shows whether it can be tagged
                return
            await self._downstream(message)
            return
        self._start = None
        body = message.get("body", b"")
        headers = start.get("headers", [])
        if message.get("more_body", False) or not _is_json(headers):
            await self._downstream(start)
            await self._downstream(message)
            return
        tag = entity_tag(body)
        if self._if_none_match is not None and matches(self._if_none_match, tag):
            kept = [(name, value) for name, value in headers if name not in _DROPPED_ON_304]
            await self._downstream({**start, "status": 304, "headers": [*kept, (b"etag", tag)]})
            await self._downstream({"type": "http.response.body", "body": b""})
            return
        await self._downstream({**start, "headers": [*headers, (b"etag", tag)]})
        await self._downstream(message)


def _is_json(headers: list[tuple[bytes, bytes]]) -> bool:
    return any(name == b"content-type" and value.startswith(_JSON) for name, value in headers)
