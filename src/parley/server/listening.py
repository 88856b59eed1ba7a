"""The listening sockets of several workers: on Linux each worker listens on a socket of its
own on the same port (SO_REUSEPORT), and the kernel spreads new connections over them.

With one socket shared by every worker, the worker that wakes first accepts every connection
waiting, so a burst of keep-alive connections (a load balancer's, a benchmark's) can all land
on one worker while the others idle (decision 194).
"""

import socket
import sys
from typing import Any


def spreads_connections() -> bool:
    """Whether the kernel balances connections over sockets sharing a port (Linux does)."""
    return sys.platform.startswith("linux") and hasattr(socket, "SO_REUSEPORT")


def _bound(family: int, address: Any) -> socket.socket:
    sock = socket.socket(family=family)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind(address)
    return sock


class SocketPerWorker:
    """The port, held by the supervisor (bound, never listening, so it takes no connection)
    and handed to each worker as a socket of its own, bound as it reaches the worker."""

    def __init__(self, family: int, address: Any) -> None:
        self._held = _bound(family, address)
        self.family = family
        self.address = self._held.getsockname()

    def __reduce__(self) -> tuple[Any, ...]:
        return (_bound, (self.family, self.address))

    def close(self) -> None:
        self._held.close()
