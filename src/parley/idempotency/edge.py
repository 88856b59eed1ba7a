"""The Idempotency-Key of a POST, at the ASGI level: the edge layer hands over only requests
that carry the header (it is one more name in the edge's single pass over the headers), so a
request without it costs nothing here.

With a key: check it, find the caller (a verified bearer token, or the holder of a live API
key; otherwise the request runs as usual and its 401 is not stored), read the body, claim the
key, run the app while keeping a copy of its answer, and store that answer (status < 500) for
replay; a 5xx releases the claim.
"""

import hashlib
import re
from collections.abc import Awaitable, Callable
from uuid import UUID

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from parley.core.errors import FieldError, ParleyError
from parley.core.tokens import InvalidToken, TokenCodec
from parley.http.errors import error_response
from parley.idempotency.errors import InvalidIdempotencyKey
from parley.idempotency.service import Claim, IdempotencyService, StoredAnswer

API_PREFIX = "/api/v1/"
EXEMPT_PREFIX = "/api/v1/auth/"
HEADER = b"idempotency-key"
REPLAYED = (b"idempotent-replayed", b"true")
# The answer headers worth replaying; the edge adds the rest (request id, security, CORS).
KEPT_HEADERS = frozenset({b"content-type", b"location"})
_KEY = re.compile(rb"[\x20-\x7e]{1,255}")
_BOUNDARY = re.compile(rb"boundary=\"?([^\";]+)\"?", re.IGNORECASE)
_API_KEY_MARK = "pk_"

# The user holding a live API key, or None: the application wires in the API keys' check.
KeyUser = Callable[[str], Awaitable[UUID | None]]


def applies(scope: Scope) -> bool:
    """Every POST under /api/v1 except /auth/*."""
    path: str = scope["path"]
    return (
        scope["method"] == "POST"
        and path.startswith(API_PREFIX)
        and not path.startswith(EXEMPT_PREFIX)
    )


class IdempotentRequests:
    def __init__(
        self, service: IdempotencyService, tokens: TokenCodec, key_holder: KeyUser | None = None
    ) -> None:
        self.service = service
        self.tokens = tokens
        self.key_holder = key_holder

    async def __call__(
        self,
        app: ASGIApp,
        scope: Scope,
        receive: Receive,
        send: Send,
        *,
        key: bytes,
        authorization: bytes | None,
        api_key: bytes | None = None,
    ) -> None:
        if not applies(scope):
            await app(scope, receive, send)
            return
        if not _KEY.fullmatch(key) or key != key.strip():
            refusal = InvalidIdempotencyKey(
                details=[FieldError("header.Idempotency-Key", "must be 1-255 printable ASCII")]
            )
            await error_response(refusal)(scope, receive, send)
            return
        user_id = await self._caller(authorization, api_key)
        if user_id is None:  # not authenticated: the app answers 401, which is not stored
            await app(scope, receive, send)
            return
        body = await _read_body(receive)
        fingerprint = _fingerprint(scope, body)
        try:
            outcome = await self.service.begin(user_id, key.decode(), fingerprint=fingerprint)
        except ParleyError as refusal:
            await error_response(refusal)(scope, receive, send)
            return
        if isinstance(outcome, StoredAnswer):
            await _replay(outcome, send)
            return
        await self._run_first(app, scope, body, send, outcome)

    async def _caller(self, authorization: bytes | None, api_key: bytes | None) -> UUID | None:
        credential = authorization[7:].decode("latin-1").strip() if authorization else None
        if credential is None and api_key:
            credential = api_key.decode("latin-1")
        if credential is None:
            return None
        if credential.startswith(_API_KEY_MARK):
            return await self.key_holder(credential) if self.key_holder else None
        try:
            return self.tokens.decode(credential).user_id
        except (InvalidToken, ValueError):
            return None

    async def _run_first(
        self, app: ASGIApp, scope: Scope, body: bytes, send: Send, claim: Claim
    ) -> None:
        status = 500
        headers: list[tuple[str, str]] = []
        chunks: list[bytes] = []

        async def keep(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                for name, value in message.get("headers", ()):
                    if name.lower() in KEPT_HEADERS:
                        headers.append((name.decode("latin-1"), value.decode("latin-1")))
            elif message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))
            await send(message)

        try:
            await app(scope, _replayed_body(body), keep)
        except BaseException:
            await self.service.release(claim)
            raise
        # 401: the token's session was not live; no user to keep the answer for.
        if status >= 500 or status == 401:
            await self.service.release(claim)
        else:
            await self.service.complete(claim, StoredAnswer(status, headers, b"".join(chunks)))


async def _read_body(receive: Receive) -> bytes:
    parts: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break
        parts.append(message.get("body", b""))
        if not message.get("more_body", False):
            break
    return b"".join(parts)


def _replayed_body(body: bytes) -> Receive:
    sent = False

    async def receive() -> Message:
        nonlocal sent
        if sent:
            return {"type": "http.disconnect"}
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    return receive


def _fingerprint(scope: Scope, body: bytes) -> str:
    """SHA-256 of the method, path, query and body. A multipart body is taken without its
    boundary, which clients draw at random for each attempt of the same upload."""
    content_type = b""
    for name, value in scope["headers"]:
        if name == b"content-type":
            content_type = value
            break
    boundary = (
        _BOUNDARY.search(content_type) if content_type.lower().startswith(b"multipart/") else None
    )
    if boundary is not None:
        body = body.replace(boundary.group(1), b"")
    digest = hashlib.sha256()
    for part in (scope["method"].encode(), scope["path"].encode(), scope.get("query_string", b"")):
        digest.update(part + b"\0")
    digest.update(body)
    return digest.hexdigest()


async def _replay(answer: StoredAnswer, send: Send) -> None:
    headers = [(name.encode("latin-1"), value.encode("latin-1")) for name, value in answer.headers]
    headers += [(b"content-length", str(len(answer.body)).encode()), REPLAYED]
    await send({"type": "http.response.start", "status": answer.status, "headers": headers})
    await send({"type": "http.response.body", "body": answer.body, "more_body": False})
