"""uvicorn's httptools protocol with the limits it lacks: a bounded header block, a deadline
for the header block, a gap limit between body reads and a connection limit per worker.

uvicorn bounds only the keep-alive idle time. Without the rest, a client could hold a worker's
memory with an endless header (httptools buffers a header until it ends) or hold connections
open forever by sending nothing, or a byte now and then."""

import asyncio
import gc
from dataclasses import dataclass
from typing import Any

import httptools
from uvicorn.config import Config
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol, RequestResponseCycle
from uvicorn.server import ServerState

from parley.core.config import Settings
from parley.server.cycle import OneWriteCycle
from parley.server.refusals import AtCapacity, HeaderFieldsTooLarge, Refusal, RefusalWriter

# After a refusal, how long the rest of the client's request is read and dropped, so the
# kernel does not answer it with a reset that would destroy the refusal before it is read.
LINGER_S = 2.0
# Net allocations between the garbage collector's young collections in a worker (Python: 700).
YOUNG_COLLECTION_AFTER = 10_000


@dataclass(frozen=True, slots=True)
class EdgeLimits:
    max_header_bytes: int
    max_headers: int
    header_timeout: float
    body_timeout: float
    max_connections: int
    hsts: bool

    @classmethod
    def from_settings(cls, settings: Settings) -> "EdgeLimits":
        return cls(
            max_header_bytes=settings.max_header_bytes,
            max_headers=settings.max_headers,
            header_timeout=settings.header_timeout,
            body_timeout=settings.body_timeout,
            max_connections=settings.max_connections,
            hsts=settings.is_production,
        )


class EdgeConfig(Config):
    """uvicorn's Config carrying the edge limits to every worker (it is pickled to them)."""

    def __init__(self, app: str, *, limits: EdgeLimits, **options: Any) -> None:
        super().__init__(app, http=BoundedHttpToolsProtocol, **options)
        self.limits = limits

    def load(self) -> None:
        """Load the app in the worker, then tune the garbage collector for serving.

        What the loaded app built lives as long as the worker: frozen, it is out of the
        collector's sight (a full collection walked all of it, ~100 ms with every request in
        flight waiting). Young collections run after 10,000 net allocations instead of 700:
        a request makes hundreds, and each collection promoted some of them to be walked again
        by the next full collection, a stall of 10-20 ms about once a second (decision 186).
        """
        super().load()
        gc.collect()
        gc.freeze()
        gc.set_threshold(YOUNG_COLLECTION_AFTER, *gc.get_threshold()[1:])


class BoundedHttpToolsProtocol(HttpToolsProtocol):
    def __init__(
        self,
        config: Config,
        server_state: ServerState,
        app_state: dict[str, Any],
        _loop: asyncio.AbstractEventLoop | None = None,
    ) -> None:
        super().__init__(config, server_state, app_state, _loop)
        assert isinstance(config, EdgeConfig), "serve with parley.server.serve"
        self.limits = config.limits
        self.refusals = RefusalWriter(hsts=config.limits.hsts)
        self.awaiting_head = True  # between requests, or inside a header block
        self.head_bytes = 0  # raw bytes received of the current header block
        self.header_count = 0
        self.over_capacity = False
        self.lingering = False
        self.head_timer: asyncio.TimerHandle | None = None
        self.body_timer: asyncio.TimerHandle | None = None

    # Connection events

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        # Decided on arrival, answered once its request head is read: 503, then close.
        self.over_capacity = len(self.connections) > self.limits.max_connections
        self._arm_head_timer()  # a connection that never sends a byte is closed too

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel_timers()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self.lingering:
            return  # the tail of a refused request: dropped unread
        if self.awaiting_head:
            self.head_bytes += len(data)
            self._arm_head_timer()
        self._unset_keepalive_if_required()
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserCallbackError as error:
            if isinstance(error.__context__, Refusal):
                self._refuse(error.__context__)
                return
            self._bad_request()
            return
        except httptools.HttpParserUpgrade:
            if self._should_upgrade():
                self.handle_websocket_upgrade()
            else:
                self._unsupported_upgrade_warning()
            return
        except httptools.HttpParserError:
            self._bad_request()
            return
        if self.awaiting_head and self.head_bytes > self.limits.max_header_bytes:
            # A header still unfinished: httptools holds it whole until it ends.
            self._refuse(Refusal(HeaderFieldsTooLarge()))

    # Parser callbacks

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self.header_count = 0

    def on_header(self, name: bytes, value: bytes) -> None:
        self.header_count += 1
        if self.header_count > self.limits.max_headers:
            raise Refusal(HeaderFieldsTooLarge())
        super().on_header(name, value)

    def on_headers_complete(self) -> None:
        self._cancel_head_timer()
        self.awaiting_head = False
        # The exact size is summed only when the raw byte count says it may be over.
        if self.head_bytes > self.limits.max_header_bytes and (
            self._head_size() > self.limits.max_header_bytes
        ):
            raise Refusal(HeaderFieldsTooLarge())
        if self.over_capacity:
            raise Refusal(AtCapacity())
        super().on_headers_complete()
        if type(self.cycle) is RequestResponseCycle:
            # uvicorn builds its cycle inline; its task has not run yet, so the cycle's
            # `send` is still free to be ours.
            self.cycle.__class__ = OneWriteCycle
        if not (self.parser.should_upgrade() and self._should_upgrade()):
            self._arm_body_timer()

    def on_body(self, body: bytes) -> None:
        self._arm_body_timer()
        super().on_body(body)

    def on_message_complete(self) -> None:
        self._cancel_body_timer()
        self.awaiting_head = True
        self.head_bytes = 0
        super().on_message_complete()

    # Refusals

    def _head_size(self) -> int:
        """The header block's size as parsed (a chunk may also hold the start of the body)."""
        return len(self.url) + sum(len(name) + len(value) + 4 for name, value in self.headers)

    def _refuse(self, refusal: Refusal) -> None:
        self._cancel_timers()
        if self.cycle is not None and not self.cycle.response_complete:
            self.transport.close()  # a response is on its way: nothing else may be written
            return
        response = self.refusals.render(refusal.error, self.server_state.default_headers)
        self.transport.write(response)
        if self.transport.can_write_eof():
            self.transport.write_eof()
        self.lingering = True
        self.loop.call_later(LINGER_S, self.transport.close)

    def _bad_request(self) -> None:
        msg = "Invalid HTTP request received."
        self.logger.warning(msg)
        self.send_400_response(msg)

    # Timers

    def _arm_head_timer(self) -> None:
        if self.head_timer is None:
            self.head_timer = self.loop.call_later(self.limits.header_timeout, self._head_late)

    def _cancel_head_timer(self) -> None:
        if self.head_timer is not None:
            self.head_timer.cancel()
            self.head_timer = None

    def _head_late(self) -> None:
        self.head_timer = None
        if self.flow.read_paused:  # an earlier response is still being sent: not the client
            self._arm_head_timer()
            return
        self.transport.close()

    def _arm_body_timer(self) -> None:
        self._cancel_body_timer()
        self.body_timer = self.loop.call_later(self.limits.body_timeout, self._body_late)

    def _cancel_body_timer(self) -> None:
        if self.body_timer is not None:
            self.body_timer.cancel()
            self.body_timer = None

    def _body_late(self) -> None:
        self.body_timer = None
        # Waiting on the app, not on the client: it has not taken what was sent, or not yet
        # asked for the body a client sending `Expect: 100-continue` holds back.
        if self.flow.read_paused or self.cycle.waiting_for_100_continue:
            self._arm_body_timer()
            return
        self.transport.close()

    def _cancel_timers(self) -> None:
        self._cancel_head_timer()
        self._cancel_body_timer()
