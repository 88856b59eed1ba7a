"""`parley serve` end to end: metrics over workers, and SIGTERM: new connections refused at
once, the request in flight finished, pools closed, exit status 0.

The request in flight is held by the test itself (it sends half of the body, then the rest
after SIGTERM), so nothing here depends on how fast the machine is."""

import json
import os
import signal
import socket
import struct
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.support.parley_server import PARLEY, SQLITE_PASS_ONLY, ParleyServer, running_parley
from tests.support.sockets import copied, listening, owner, server_side

pytestmark = [
    SQLITE_PASS_ONLY,
    pytest.mark.slow,
    pytest.mark.skipif(not PARLEY.exists(), reason="the parley command is not installed"),
]

# Longest wait for anything below: a hang bound, several times what it should take.
HANG_BOUND_S = 20.0
# Where Linux's struct tcp_info keeps tcpi_data_segs_in: the segments received with data.
TCPI_DATA_SEGS_IN = 152


def served(metrics: str, route: str) -> float:
    for line in metrics.splitlines():
        if line.startswith("parley_http_requests_total{") and f'route="{route}"' in line:
            return float(line.rsplit(" ", 1)[1])
    return 0.0


def test_metrics_sum_over_every_worker_in_multiprocess_mode(tmp_path: Path) -> None:
    stale = tmp_path / "metrics" / "counter_999999.db"
    stale.parent.mkdir()
    stale.write_bytes(b"left by a worker of an earlier run")
    env = {"PROMETHEUS_MULTIPROC_DIR": str(tmp_path / "metrics")}
    with running_parley(tmp_path, workers=2, env=env) as server:
        for _ in range(9):
            # A new connection each time, so both workers get their share.
            assert httpx.get(f"{server.base}/health/live", timeout=5).status_code == 200
        metrics = httpx.get(f"{server.base}/metrics", timeout=5).text
        assert server.terminate() == 0

    assert not stale.exists()
    assert served(metrics, "/health/live") == 10  # the start-up probe and nine more


def start_registration(server: ParleyServer, body: bytes) -> socket.socket:
    """Open a sign-up whose body the test holds back; return once the app is reading it.

    `Expect: 100-continue` makes the server say when the app asks for the body, so the
    request is known to be in the app's hands, not merely in a socket buffer."""
    sock = socket.create_connection(("127.0.0.1", server.port), timeout=HANG_BOUND_S)
    sock.sendall(
        b"POST /api/v1/auth/register HTTP/1.1\r\nHost: parley\r\n"
        b"Content-Type: application/json\r\nExpect: 100-continue\r\n"
        b"Content-Length: %d\r\n\r\n" % len(body)
    )
    assert sock.recv(4096).startswith(b"HTTP/1.1 100 Continue"), server.log
    sock.sendall(body[: len(body) // 2])
    return sock


def refused_promptly(port: int) -> bool:
    """True once a new connection is refused; a server that still accepts keeps it False."""
    deadline = time.monotonic() + HANG_BOUND_S
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                pass  # accepted: the workers have not all stopped listening yet
        except ConnectionRefusedError:
            return True
        except OSError:
            pass  # accepted, then reset or timed out: a draining server still listening
        time.sleep(0.05)
    return False


def read_status(sock: socket.socket) -> int:
    data = b""
    while b"\r\n" not in data:
        chunk = sock.recv(4096)
        if not chunk:
            break
        data += chunk
    return int(data.split(b" ", 2)[1]) if data else 0


@pytest.mark.parametrize("workers", [1, 2])
def test_sigterm_refuses_new_connections_and_finishes_the_request_in_flight(
    tmp_path: Path, workers: int
) -> None:
    body = json.dumps({"email": "drain@example.com", "password": "a fine long passphrase"})
    with running_parley(tmp_path, workers=workers, graceful_timeout=30) as server:
        with start_registration(server, body.encode()) as in_flight:
            server.process.send_signal(signal.SIGTERM)

            refused = refused_promptly(server.port)
            in_flight.sendall(body.encode()[len(body) // 2 :])
            status = read_status(in_flight)
        exit_code = server.process.wait(timeout=HANG_BOUND_S)
        log = server.log

    assert refused, "new connections were still accepted while draining"
    assert status == 201, log
    assert exit_code == 0, log
    assert log.count("Application shutdown complete") == workers  # lifespan ran: pools closed
    assert "died" not in log  # no worker was lost and restarted on the way


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the kernel spreads on Linux")
def test_connections_opened_together_are_spread_over_the_workers(tmp_path: Path) -> None:
    with running_parley(tmp_path, workers=2) as server:
        children = Path(f"/proc/{server.process.pid}/task/{server.process.pid}/children")
        processes = [int(pid) for pid in children.read_text().split()]  # workers and helpers
        deadline = time.monotonic() + HANG_BOUND_S
        while listening(server.port) < 2 and time.monotonic() < deadline:
            time.sleep(0.05)  # the second worker is still starting
        # A burst of keep-alive connections, as a load balancer opens them, all waiting to be
        # accepted at once: the workers are stopped while the kernel completes the handshakes.
        for pid in processes:
            os.kill(pid, signal.SIGSTOP)
        try:
            connections = [
                socket.create_connection(("127.0.0.1", server.port), timeout=HANG_BOUND_S)
                for _ in range(16)
            ]
        finally:
            for pid in processes:
                os.kill(pid, signal.SIGCONT)
        try:
            for sock in connections:
                sock.sendall(b"GET /health/live HTTP/1.1\r\nHost: parley\r\n\r\n")
            assert all(read_status(sock) == 200 for sock in connections)
            holders = set()
            for sock in connections:
                holders.add(owner(processes, server.port, sock.getsockname()[1]))
        finally:
            for sock in connections:
                sock.close()

    # With one shared socket the first worker to wake took them all; spread by the kernel, all
    # sixteen on one worker would be one chance in 2^15.
    assert len(holders) == 2 and None not in holders


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads another process's socket")
@pytest.mark.parametrize("workers", [1, 2])
def test_every_connection_sends_its_writes_at_once(tmp_path: Path, workers: int) -> None:
    """Nagle's algorithm is off on every accepted connection (TCP_NODELAY): with it on, a
    response's body, written after its head, waited for the client's delayed ACK, 40 ms."""
    with running_parley(tmp_path, workers=workers) as server:
        children = Path(f"/proc/{server.process.pid}/task/{server.process.pid}/children")
        processes = [server.process.pid, *(int(pid) for pid in children.read_text().split())]
        with socket.create_connection(("127.0.0.1", server.port), timeout=HANG_BOUND_S) as sock:
            sock.sendall(b"GET /health/live HTTP/1.1\r\nHost: parley\r\n\r\n")
            assert read_status(sock) == 200
            held = server_side(processes, server.port, sock.getsockname()[1])
            assert held is not None
            try:
                copy = copied(*held)
            except PermissionError:
                pytest.skip("this user may not read another process's sockets")
            with copy:
                assert copy.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) == 1


def data_segments_in(sock: socket.socket) -> int:
    info = sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 256)
    count: int = struct.unpack_from("I", info, TCPI_DATA_SEGS_IN)[0]
    return count


def read_head(sock: socket.socket) -> bytes:
    """What arrives up to the end of a response's head (and any of its body that came too)."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        assert chunk, "the connection closed mid-response"
        data += chunk
    return data


def read_response(sock: socket.socket) -> tuple[bytes, bytes]:
    """One response's head and its body (as long as its content-length says)."""
    head, _, body = read_head(sock).partition(b"\r\n\r\n")
    fields = dict(line.split(b": ", 1) for line in head.split(b"\r\n")[1:])
    length = int(fields[b"content-length"])
    while len(body) < length:
        chunk = sock.recv(65536)
        assert chunk, "the connection closed mid-body"
        body += chunk
    return head, body


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads Linux's TCP_INFO")
def test_a_response_leaves_in_one_segment(tmp_path: Path) -> None:
    """A response's head and body go out in one write, so one TCP segment each (the head used
    to leave on its own as soon as the app started the response); a HEAD answer is its head."""
    get = b"GET /health/live HTTP/1.1\r\nHost: parley\r\n\r\n"
    with (
        running_parley(tmp_path) as server,
        socket.create_connection(("127.0.0.1", server.port), timeout=HANG_BOUND_S) as sock,
    ):
        before = data_segments_in(sock)
        for _ in range(10):
            sock.sendall(get)
            head, body = read_response(sock)
            assert head.startswith(b"HTTP/1.1 200 ") and json.loads(body)
        assert data_segments_in(sock) - before == 10

        sock.sendall(b"HEAD /health/live HTTP/1.1\r\nHost: parley\r\n\r\n")
        data = read_head(sock)
        assert data.startswith(b"HTTP/1.1 200 ") and data.endswith(b"\r\n\r\n")
        sock.sendall(get)  # read whole: nothing of a body was left after the HEAD's head
        head, body = read_response(sock)
        assert head.startswith(b"HTTP/1.1 200 ") and json.loads(body)
