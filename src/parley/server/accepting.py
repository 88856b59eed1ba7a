"""uvloop's event loop, taking every waiting connection each time the listening socket is ready.

Under uvloop, libuv takes one connection from a listening socket each time the loop turns. On a
busy worker a turn lasts as long as serving the requests that are ready, so a burst of new
connections (a load balancer opening its pool, clients reconnecting after a deploy) was let in
one a turn: the last of 64 waited 270 ms before its first request was read (decision 196).
asyncio's own loop takes them all, but costs a quarter of the throughput; this loop keeps
uvloop and accepts as asyncio does.
"""

import asyncio
import errno
import socket
from collections.abc import Callable
from typing import Any

import structlog
import uvloop

log = structlog.get_logger("parley.server")

# Out of file descriptors: how long the listening socket rests before accepting again
# (asyncio's own delay); the waiting connections stay in the kernel's queue meanwhile.
RETRY_AFTER_EMFILE_S = 1.0
_OUT_OF_DESCRIPTORS = {errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM}


class EagerAcceptLoop(uvloop.Loop):
    """uvicorn's loop in each worker (`loop="parley.server.accepting:EagerAcceptLoop"`)."""

    async def create_server(  # type: ignore[override]
        self, protocol_factory: Callable[[], asyncio.Protocol], *args: Any, **options: Any
    ) -> Any:
        sock = options.get("sock")
        if (
            args
            or options.get("ssl") is not None
            or not isinstance(sock, socket.socket)
            or sock.family not in (socket.AF_INET, socket.AF_INET6)
        ):
            return await super().create_server(protocol_factory, *args, **options)
        listener = EagerListener(self, sock, protocol_factory)
        listener.start(options.get("backlog", 100))
        return listener


class EagerListener:
    """A listening socket served by the loop, in place of asyncio.Server: uvicorn, handed its
    sockets, only closes the servers it made and waits for them to be closed."""

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        sock: socket.socket,
        protocol_factory: Callable[[], asyncio.Protocol],
    ) -> None:
        self._loop = loop
        self._sock = sock
        self._protocol_factory = protocol_factory
        self._serving = False
        self._connecting: set[asyncio.Task[Any]] = set()

    def start(self, backlog: int) -> None:
        self._sock.setblocking(False)
        self._sock.listen(backlog)
        self._serving = True
        self._loop.add_reader(self._sock.fileno(), self._accept_waiting)

    def close(self) -> None:
        if not self._serving:
            return
        self._serving = False
        self._loop.remove_reader(self._sock.fileno())
        self._sock.close()

    async def wait_closed(self) -> None:
        return None  # closing is done by close(): nothing is left to wait for

    def _accept_waiting(self) -> None:
        while self._serving:
            try:
                conn, _ = self._sock.accept()
            except (BlockingIOError, InterruptedError):
                return
            except ConnectionAbortedError:
                continue  # the client gave up while queued
            except OSError as error:
                if error.errno not in _OUT_OF_DESCRIPTORS:
                    raise
                log.error(
                    "accept_paused", reason=error.strerror, retry_after_s=RETRY_AFTER_EMFILE_S
                )
                self._loop.remove_reader(self._sock.fileno())
                self._loop.call_later(RETRY_AFTER_EMFILE_S, self._resume)
                return
            conn.setblocking(False)
            task = self._loop.create_task(self._connect(conn))
            self._connecting.add(task)
            task.add_done_callback(self._connecting.discard)

    def _resume(self) -> None:
        if self._serving:
            self._loop.add_reader(self._sock.fileno(), self._accept_waiting)

    async def _connect(self, conn: socket.socket) -> None:
        try:
            await self._loop.connect_accepted_socket(self._protocol_factory, conn)
        except OSError:
            conn.close()  # reset before it was handed over: nothing to serve
