"""Which process holds a loopback TCP connection, and who listens on a port, read from /proc
(Linux), and a copy of the server's side of a connection to read its options. Shared by the
serving tests and the event-stream benchmark."""

import ctypes
import os
import socket
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


def server_side(pids: list[int], server_port: int, client_port: int) -> tuple[int, int] | None:
    """The process among pids holding the server side of the connection from client_port, and
    the descriptor it holds it by."""
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
                    return pid, int(fd.name)
            except OSError:
                continue
    return None


def owner(pids: list[int], server_port: int, client_port: int) -> int | None:
    """The process among pids holding the server side of the connection from client_port."""
    held = server_side(pids, server_port, client_port)
    return held[0] if held else None


_PIDFD_GETFD = 438  # the syscall's number, the same on every Linux architecture


def copied(pid: int, fd: int) -> socket.socket:
    """A copy of another process's socket (pidfd_getfd, Linux 5.6; needs the right to trace
    that process), to read the options its owner set."""
    pidfd = os.pidfd_open(pid)
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        copy = libc.syscall(_PIDFD_GETFD, pidfd, fd, 0)
        if copy < 0:
            raise OSError(ctypes.get_errno(), "pidfd_getfd")
    finally:
        os.close(pidfd)
    return socket.socket(fileno=copy)
