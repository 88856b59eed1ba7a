"""The one per-request layer: every concern the contract puts around a request, in one pass.

In order: the trusted proxy fixes the client address; the request gets its id (bound to every
log line below); a CORS preflight is answered before it spends rate budget; the rate limit
refuses before any body is read; a declared body over the limit is refused unread, a chunked
one as the app reads past it; a POST with an Idempotency-Key goes through
parley.idempotency.edge (replayed, refused or run and stored); JSON reads carry an `ETag` (304
when it matches); the app's responses over 1 KiB are gzipped for clients that accept it; an
exception that escapes the app becomes the 500 (or 503) envelope. Every response, whoever
produced it, passes one `send` that adds the RateLimit-*, CORS, security and request-id
headers, and is then logged and counted (see parley.middleware.stack).
"""

import time
from typing import Protocol

import structlog
from starlette.requests import ClientDisconnect
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from parley.core.errors import PayloadTooLarge, RateLimited
from parley.core.ratelimit import Limiter
from parley.core.request_context import RequestContext, enter_request, leave_request
from parley.core.tokens import TokenCodec
from parley.http.errors import error_response, internal_error_response
from parley.idempotency.edge import HEADER as IDEMPOTENCY_KEY
from parley.idempotency.edge import IdempotentRequests
from parley.middleware.access_log import record
from parley.middleware.body_limit import BodyTooLarge, declared_length, limited
from parley.middleware.compression import Gzip
from parley.middleware.conditional import Conditional
from parley.middleware.cors import CorsPolicy
from parley.middleware.proxy import ForwardedClient
from parley.middleware.rate_limit import (
    KeyOwner,
    RequestBudget,
    bearer_token,
    budget_headers,
    is_exempt,
)
from parley.middleware.request_id import HEADER as REQUEST_ID
from parley.middleware.request_id import request_id
from parley.middleware.security_headers import SecurityHeaders, is_no_store
from parley.ops.metrics import RATE_LIMITED

Headers = list[tuple[bytes, bytes]]


class Lane(Protocol):
    """Answers a hot route's common case past the framework, or tells False (parley.api.lane)."""

    async def __call__(
        self,
        scope: Scope,
        receive: Receive,
        send: Send,
        *,
        authorization: bytes | None,
        content_type: bytes | None,
    ) -> bool: ...


_CONDITIONAL_METHODS = frozenset({"GET", "HEAD"})


class RequestHeaders:
    """The few request headers the edge reads, found in one pass (the first of each name)."""

    __slots__ = (
        "api_key",
        "authorization",
        "content_length",
        "content_type",
        "first_authorization",
        "gzip",
        "idempotency_key",
        "if_none_match",
        "multipart",
        "no_cache",
        "origin",
        "preflight",
        "request_id",
        "user_agent",
    )

    def __init__(self, raw: Headers) -> None:
        self.authorization: bytes | None = None
        self.first_authorization: bytes | None = None  # of any scheme, as the app reads it
        self.content_type: bytes | None = None
        self.api_key: bytes | None = None
        self.content_length: bytes | None = None
        self.origin: bytes | None = None
        self.request_id: bytes | None = None
        self.if_none_match: bytes | None = None
        self.user_agent: bytes | None = None
        self.idempotency_key: bytes | None = None
        self.multipart = False
        self.no_cache = False
        self.preflight = False
        gzip: bool | None = None
        for name, value in raw:
            if name == b"authorization":
                if self.first_authorization is None:
                    self.first_authorization = value
                if self.authorization is None and value[:7].lower() == b"bearer ":
                    self.authorization = value
            elif name == b"content-length":
                self.content_length = self.content_length or value
            elif name == b"content-type" and self.content_type is None:
                self.content_type = value
                self.multipart = value.lower().startswith(b"multipart/form-data")
            elif name == b"origin":
                self.origin = self.origin or value
            elif name == REQUEST_ID:
                self.request_id = self.request_id or value
            elif name == b"if-none-match":
                self.if_none_match = self.if_none_match or value
            elif name == b"x-api-key":
                self.api_key = self.api_key or value.strip()
            elif name == b"user-agent":
                self.user_agent = self.user_agent or value
            elif name == b"access-control-request-method":
                self.preflight = True
            elif name == b"accept-encoding" and gzip is None:
                gzip = b"gzip" in value
            elif name == IDEMPOTENCY_KEY and self.idempotency_key is None:
                self.idempotency_key = value
            elif name == b"cache-control":
                self.no_cache = self.no_cache or b"no-cache" in value.lower()
        self.gzip = bool(gzip)


class Exchange:
    """One request's response side: the status for the log and the headers every response
    gets."""

    __slots__ = ("_send", "budget", "edge", "origin", "path", "request_id", "started", "status")

    def __init__(self, edge: "EdgeMiddleware", send: Send, *, path: str, origin: bytes | None):
        self.edge = edge
        self._send = send
        self.path = path
        self.origin = origin
        self.request_id = b""
        self.budget: Headers = []
        # What the server answers if the app raises before responding.
        self.status = 500
        self.started = False

    async def send(self, message: Message) -> None:
        if message["type"] == "http.response.start":
            self.status = message["status"]
            self.started = True
            headers = [*message.get("headers", ()), *self.budget]
            self.edge.cors.apply(headers, self.origin)
            message["headers"] = self.edge.security.apply(
                headers, no_store=is_no_store(self.path), request_id=self.request_id
            )
        await self._send(message)


class EdgeMiddleware:
    def __init__(
        self,
        app: ASGIApp,
        *,
        trusted_proxies: list[str],
        hsts: bool,
        cors_origins: list[str],
        limiter: Limiter,
        tokens: TokenCodec,
        key_owner: KeyOwner | None = None,
        max_body_bytes: int,
        max_multipart_bytes: int,
        development: bool,
        idempotency: IdempotentRequests | None = None,
        lane: Lane | None = None,
    ) -> None:
        self.app = app
        self.idempotency = idempotency
        self.lane = lane
        self.forwarded = ForwardedClient(trusted_proxies) if trusted_proxies else None
        self.security = SecurityHeaders(hsts=hsts)
        self.cors = CorsPolicy(cors_origins)
        self.budget = RequestBudget(limiter=limiter, tokens=tokens, key_owner=key_owner)
        self.max_body_bytes = max_body_bytes
        self.max_multipart_bytes = max_multipart_bytes
        self.development = development  # the app's own settings, not the process environment

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if self.forwarded is not None:
            await self.forwarded.apply(scope, receive, send)
        request = RequestHeaders(scope["headers"])
        rid = request_id(request.request_id)
        state = scope.setdefault("state", {})
        state["request_id"] = rid
        if request.no_cache:
            # The client wants the database's word, not a page this worker kept (decision 202).
            state["no_cache"] = True
        exchange = Exchange(self, send, path=scope["path"], origin=request.origin)
        exchange.request_id = rid.encode()
        root_path = scope.get("root_path", "")
        bound = structlog.contextvars.bind_contextvars(request_id=rid)
        client = scope.get("client")
        user_agent = request.user_agent.decode("latin-1") if request.user_agent else None
        entered = enter_request(
            RequestContext(rid, client[0] if client else None, user_agent and user_agent[:512])
        )
        started = time.perf_counter()
        try:
            await self._serve(scope, receive, exchange, request)
        finally:
            elapsed = time.perf_counter() - started
            record(scope, scope["method"], exchange.status, elapsed, root_path)
            structlog.contextvars.reset_contextvars(**bound)
            leave_request(entered)

    async def _serve(
        self, scope: Scope, receive: Receive, exchange: Exchange, request: RequestHeaders
    ) -> None:
        respond = exchange.send
        if request.origin is not None and request.preflight and scope["method"] == "OPTIONS":
            await self.cors.preflight_response(scope)(scope, receive, respond)
            return
        if not is_exempt(scope["path"]):
            credential = bearer_token(request.authorization)
            if credential is None and request.api_key:
                credential = request.api_key.decode("latin-1")
            verdict = await self.budget.check(credential, scope.get("client"))
            if verdict is not None:
                exchange.budget = budget_headers(verdict)
                if not verdict.allowed:
                    RATE_LIMITED.labels(limiter="request").inc()
                    refusal = error_response(RateLimited(retry_after=verdict.reset_after))
                    await refusal(scope, receive, respond)
                    return
        limit = self.max_multipart_bytes if request.multipart else self.max_body_bytes
        declared = declared_length(request.content_length)
        if declared is not None and declared > limit:
            # Refused before a byte of it is read.
            await error_response(PayloadTooLarge())(scope, receive, respond)
            return
        app_send = Gzip(respond).send if request.gzip else respond
        if scope["method"] in _CONDITIONAL_METHODS:
            app_send = Conditional(app_send, request.if_none_match).send
        bounded = limited(receive, limit)
        try:
            if request.idempotency_key is not None and self.idempotency is not None:
                await self.idempotency(
                    self.app,
                    scope,
                    bounded,
                    app_send,
                    key=request.idempotency_key,
                    authorization=request.authorization,
                    api_key=request.api_key,
                )
            elif self.lane is None or not await self.lane(
                scope,
                bounded,
                app_send,
                authorization=request.first_authorization,
                content_type=request.content_type,
            ):
                await self.app(scope, bounded, app_send)
        except ClientDisconnect:
            return  # the client left mid-request: nobody is there to answer, and it is no bug
        except Exception as exc:
            if exchange.started:
                raise  # too late for an error body; the server closes the connection
            await self._error_response(exc)(scope, receive, respond)

    def _error_response(self, exc: Exception) -> Response:
        if isinstance(exc, BodyTooLarge):
            return error_response(PayloadTooLarge())
        return internal_error_response(exc, development=self.development)
