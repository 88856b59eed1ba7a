"""Which process holds a loopback TCP connection, and who listens on a port, read from /proc
(Linux). Shared by the serving tests and the event-stream benchmark."""

import os
from pathlib import Path

_TABLES = ("/proc/net/tcp", "/proc/net/tcp6")
_LISTEN = "0A"  # the state column of a listening socket


def _rows() -> list[list[str]]:
    rows = []
    for table in _TABLES:
        try:
            rows += [line.split() for line in Path(table).read_text().splitlines()[1:]]
        except OSError:
            continue
    return rows


def _port(address: str) -> int:
    return int(address.rsplit(":", 1)[1], 16)


def listening(port: int) -> int:
    """How many sockets listen on the port."""
    return sum(_port(row[1]) == port and row[3] == _LISTEN for row in _rows())


def owner(pids: list[int], server_port: int, client_port: int) -> int | None:
    """The process among pids holding the server side of the connection from client_port."""
    inode = next(
        (row[9] for row in _rows() if (_port(row[1]), _port(row[2])) == (server_port, client_port)),
        None,
    )
    if inode is None:
        return None
    target = f"socket:[{inode}]"
    for pid in pids:
        for fd in Path(f"/proc/{pid}/fd").iterdir():
            try:
                if os.readlink(fd) == target:
                    return pid
            except OSError:
                continue
    return None
