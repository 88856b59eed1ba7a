"""Hostile and broken clients against a real `parley serve`: endless or countless headers,
connections that send nothing or stop half-way, more connections than a worker takes, and a
crowd of slowloris clients beside a normal one. Timeouts are set short; every wait below is a
generous hang bound, never a speed expectation."""

import json
import select
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support.parley_server import ParleyServer, running_parley

pytestmark = pytest.mark.slow

HEADER_TIMEOUT_S = 2
BODY_TIMEOUT_S = 2
KEEPALIVE_TIMEOUT_S = 2
MAX_HEADER_BYTES = 8192
MAX_HEADERS = 50
# Longest wait for the server to close a connection: several times the configured timeout.
HANG_BOUND_S = 20.0
# What a worker may grow by while refusing the attacks below (they would cost it hundreds).
RSS_GROWTH_BOUND_MB = 24

EDGE = {
    "HEADER_TIMEOUT": str(HEADER_TIMEOUT_S),
    "BODY_TIMEOUT": str(BODY_TIMEOUT_S),
    "KEEPALIVE_TIMEOUT": str(KEEPALIVE_TIMEOUT_S),
    "MAX_HEADER_BYTES": str(MAX_HEADER_BYTES),
    "MAX_HEADERS": str(MAX_HEADERS),
}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ParleyServer]:
    # One worker: the `parley serve` process is the worker whose memory is read.
    with running_parley(tmp_path_factory.mktemp("edge"), env=EDGE) as running:
        yield running


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS")


def connect(server: ParleyServer) -> socket.socket:
    return socket.create_connection(("127.0.0.1", server.port), timeout=HANG_BOUND_S)


def closed_by_server(sock: socket.socket) -> bool:
    """Read until the server closes the connection (True) or the hang bound passes (False)."""
    deadline = time.monotonic() + HANG_BOUND_S
    while time.monotonic() < deadline:
        readable, _, _ = select.select([sock], [], [], deadline - time.monotonic())
        if not readable:
            return False
        try:
            if sock.recv(65536) == b"":
                return True
        except ConnectionResetError:
            return True
    return False


def read_response(sock: socket.socket) -> tuple[int, dict[str, str], bytes]:
    """One HTTP/1.1 response with a Content-Length body."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        assert chunk, f"connection closed before a response: {data!r}"
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    status_line, *lines = head.decode("latin-1").split("\r\n")
    headers = {
        name.strip().lower(): value.strip()
        for name, value in (line.split(":", 1) for line in lines)
    }
    while len(body) < int(headers.get("content-length", "0")):
        chunk = sock.recv(65536)
        assert chunk, "connection closed inside the body"
        body += chunk
    return int(status_line.split()[1]), headers, body


def send_endless_header(server: ParleyServer, total_bytes: int) -> socket.socket:
    """Stream one header of up to total_bytes, stopping as soon as the server answers."""
    sock = connect(server)
    sock.sendall(b"GET /health/live HTTP/1.1\r\nHost: parley\r\nX-Endless: ")
    chunk = b"a" * 65536
    sent = 0
    while sent < total_bytes:
        readable, writable, _ = select.select([sock], [sock], [], HANG_BOUND_S)
        if readable or not writable:
            break  # the server has answered (or stopped reading)
        try:
            sent += sock.send(chunk)
        except OSError:
            break
    return sock


def assert_envelope(body: bytes, code: str) -> None:
    document = json.loads(body)
    assert document["status"] == "error"
    assert document["error"]["code"] == code


def test_an_endless_header_is_431_and_costs_the_worker_no_memory(server: ParleyServer) -> None:
    before = rss_mb(server.process.pid)
    # Eight clients each start a 16 MB header and leave it unfinished.
    attackers = [send_endless_header(server, 16 * 1024 * 1024) for _ in range(8)]
    grown = rss_mb(server.process.pid) - before

    for sock in attackers:
        status, headers, body = read_response(sock)
        assert status == 431
        assert headers["connection"] == "close"
        assert headers["x-content-type-options"] == "nosniff"
        assert "x-request-id" in headers
        assert_envelope(body, "header_fields_too_large")
        sock.close()
    assert grown < RSS_GROWTH_BOUND_MB, f"the worker grew by {grown:.0f} MB"
    assert httpx.get(f"{server.base}/health/live", timeout=HANG_BOUND_S).status_code == 200


def test_too_many_headers_is_431(server: ParleyServer) -> None:
    many = {f"x-extra-{n}": "1" for n in range(MAX_HEADERS + 1)}

    response = httpx.get(f"{server.base}/health/live", headers=many, timeout=HANG_BOUND_S)

    assert response.status_code == 431
    assert response.json()["error"]["code"] == "header_fields_too_large"


def test_headers_within_the_limits_are_served(server: ParleyServer) -> None:
    near = {f"x-extra-{n}": "v" * 100 for n in range(MAX_HEADERS - 10)}

    response = httpx.get(f"{server.base}/health/live", headers=near, timeout=HANG_BOUND_S)

    assert response.status_code == 200


def test_a_connection_that_sends_nothing_is_closed(server: ParleyServer) -> None:
    with connect(server) as sock:
        assert closed_by_server(sock)


def test_a_header_dripped_a_line_at_a_time_is_cut_off(server: ParleyServer) -> None:
    with connect(server) as sock:
        sock.sendall(b"GET /health/live HTTP/1.1\r\nHost: parley\r\n")
        deadline = time.monotonic() + HANG_BOUND_S
        cut = False
        while time.monotonic() < deadline and not cut:
            # Each line comes well within the timeout: only a deadline for the whole
            # header block stops this.
            readable, _, _ = select.select([sock], [], [], HEADER_TIMEOUT_S / 4)
            if readable:
                cut = sock.recv(4096) == b""
                continue
            try:
                sock.sendall(b"X-Drip: 1\r\n")
            except OSError:
                cut = True
        assert cut


def test_a_half_sent_body_is_cut_off(server: ParleyServer) -> None:
    with connect(server) as sock:
        sock.sendall(
            b"POST /api/v1/auth/register HTTP/1.1\r\nHost: parley\r\n"
            b"Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{"
        )
        assert closed_by_server(sock)
    assert "Traceback" not in server.log


def test_an_idle_keep_alive_connection_is_closed(server: ParleyServer) -> None:
    with connect(server) as sock:
        sock.sendall(b"GET /health/live HTTP/1.1\r\nHost: parley\r\n\r\n")
        status, headers, _ = read_response(sock)
        assert status == 200
        assert headers.get("connection") != "close"  # kept alive, then closed when idle
        assert closed_by_server(sock)


def test_connections_past_the_limit_get_503_with_retry_after(tmp_path: Path) -> None:
    limit = 3
    env = {"MAX_CONNECTIONS": str(limit), "HEADER_TIMEOUT": "60"}
    with running_parley(tmp_path, env=env) as server:
        idle = [connect(server) for _ in range(limit)]
        try:
            with connect(server) as extra:
                extra.sendall(b"GET /health/live HTTP/1.1\r\nHost: parley\r\n\r\n")
                status, headers, body = read_response(extra)
        finally:
            for sock in idle:
                sock.close()
        assert status == 503
        assert headers["retry-after"].isdigit()
        assert headers["connection"] == "close"
        assert_envelope(body, "unavailable")
        # Once the idle connections are gone, there is room again.
        deadline = time.monotonic() + HANG_BOUND_S
        while httpx.get(f"{server.base}/health/live", timeout=HANG_BOUND_S).status_code != 200:
            assert time.monotonic() < deadline, "the limit never freed up"
            time.sleep(0.1)


def test_a_normal_client_is_served_beside_a_slowloris_crowd(server: ParleyServer) -> None:
    crowd = 100
    before = rss_mb(server.process.pid)
    cut = threading.Semaphore(0)
    stop = threading.Event()

    def slowloris() -> None:
        with connect(server) as sock:
            try:
                sock.sendall(b"GET /health/live HTTP/1.1\r\nHost: parley\r\n")
                while not stop.wait(HEADER_TIMEOUT_S / 4):
                    sock.sendall(b"X-Slow: 1\r\n")
            except OSError:
                cut.release()  # the server closed it

    threads = [threading.Thread(target=slowloris) for _ in range(crowd)]
    for thread in threads:
        thread.start()
    statuses = []
    try:
        # Served throughout, and until every slow client has been cut off.
        deadline = time.monotonic() + HANG_BOUND_S * 2
        remaining = crowd
        while remaining and time.monotonic() < deadline:
            response = httpx.get(f"{server.base}/health/live", timeout=HANG_BOUND_S)
            statuses.append(response.status_code)
            while remaining and cut.acquire(timeout=0.05):
                remaining -= 1
        grown = rss_mb(server.process.pid) - before
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=HANG_BOUND_S)
    assert remaining == 0, f"{remaining} slow clients were never cut off"
    assert statuses and set(statuses) == {200}
    assert grown < RSS_GROWTH_BOUND_MB


def answered_or_paused(sock: socket.socket, server: ParleyServer) -> bool:
    """Wait for the connection's answer (True), or for the worker to say it stopped accepting
    because it ran out of file descriptors (False)."""
    deadline = time.monotonic() + HANG_BOUND_S
    while time.monotonic() < deadline:
        readable, _, _ = select.select([sock], [], [], 0.05)
        if readable:
            return True
        if "accept_paused" in server.log:
            return False
    raise AssertionError("neither answered nor refused by the worker")


def test_a_worker_out_of_file_descriptors_serves_the_waiting_connection_once_one_frees(
    tmp_path: Path,
) -> None:
    # Few descriptors, and no connection limit of the app's own in the way.
    prefix = ["prlimit", "--nofile=96:96", "--"]
    env = {"MAX_CONNECTIONS": "1000", "KEEPALIVE_TIMEOUT": "60", "HEADER_TIMEOUT": "60"}
    request = b"GET /health/live HTTP/1.1\r\nHost: parley\r\n\r\n"
    with running_parley(tmp_path, env=env, prefix=prefix) as server:
        held: list[socket.socket] = []
        try:
            while True:
                assert len(held) < 96, "a worker limited to 96 descriptors accepted 96 connections"
                sock = connect(server)
                sock.sendall(request)
                held.append(sock)
                if not answered_or_paused(sock, server):
                    break
                assert read_response(sock)[0] == 200
            waiting = held[-1]  # queued in the kernel, not accepted, not lost
            for sock in held[:4]:
                sock.close()
            status, _, body = read_response(waiting)
            assert status == 200, body
            assert server.process.poll() is None
            with connect(server) as fresh:
                fresh.sendall(request)
                assert read_response(fresh)[0] == 200
        finally:
            for sock in held:
                sock.close()
