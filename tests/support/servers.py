"""Throw-away PostgreSQL and Redis servers of a test's own, on spare ports in temp dirs, so that
fault tests can stop and start them without touching the machine's shared services."""

import contextlib
import glob
import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path


def spare_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for_port(port: int, *, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise TimeoutError(f"nothing listens on port {port}")


def postgres_bin() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"))
    return Path(found[-1]).parent if found else None


@dataclass
class Postgres:
    bin: Path
    data: Path
    port: int
    user: str | None  # run as this system user (PostgreSQL refuses to run as root)

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def _run(self, *args: str) -> None:
        command = [str(self.bin / args[0]), *args[1:]]
        if self.user:
            command = ["runuser", "-u", self.user, "--", *command]
        subprocess.run(command, check=True, capture_output=True, timeout=60)

    def start(self) -> None:
        options = (
            f"-p {self.port} -k {self.data.parent} -c listen_addresses=127.0.0.1 "
            "-c fsync=off"  # an OS crash may lose data; a server crash may not
        )
        log = str(self.data.parent / "postgres.log")
        self._run("pg_ctl", "-D", str(self.data), "-o", options, "-l", log, "-w", "start")

    def stop(self, mode: str = "immediate") -> None:
        self._run("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "stop")

    def restart(self, mode: str = "fast") -> None:
        """Stop in `mode` and start again, as `pg_ctl restart -m fast` does."""
        self.stop(mode)
        self.start()


@contextmanager
def own_postgres() -> Iterator[Postgres]:
    """Initialise and start a PostgreSQL cluster of our own; remove it afterwards."""
    bin_dir = postgres_bin()
    if bin_dir is None:
        raise FileNotFoundError("PostgreSQL server binaries")
    root = Path(tempfile.mkdtemp(prefix="parley-pg-"))
    user = "postgres" if os.geteuid() == 0 else None
    if user:
        shutil.chown(root, user)
    server = Postgres(bin_dir, root / "data", spare_port(), user)
    server._run("initdb", "-D", str(server.data), "-U", "postgres", "-A", "trust", "--no-sync")
    server.start()
    try:
        yield server
    finally:
        with contextlib.suppress(subprocess.CalledProcessError):  # stopped by the test already
            server.stop()
        shutil.rmtree(root, ignore_errors=True)


@dataclass
class Redis:
    port: int
    process: subprocess.Popen[bytes] | None = None
    paused_until: float = 0.0  # monotonic time a CLIENT PAUSE ends

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        binary = shutil.which("redis-server")
        assert binary is not None
        self.process = subprocess.Popen(
            [
                binary,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_for_port(self.port)

    def stop(self) -> None:
        if self.process is not None:
            self.process.kill()
            self.process.wait(timeout=10)
            self.process = None

    def restart(self) -> None:
        """Kill the server and start a fresh one on the same port: everything it held is lost."""
        self.stop()
        self.start()

    def pause(self, mode: str = "ALL", seconds: float = 60.0) -> None:
        """Hang the server with CLIENT PAUSE, sent from a connection of our own: ALL holds every
        command, WRITE holds writes and PUBLISH."""
        self._command("CLIENT", "PAUSE", str(int(seconds * 1000)), mode)
        self.paused_until = time.monotonic() + seconds

    def resume(self) -> None:
        """CLIENT UNPAUSE. Redis 7.0 holds even this command while ALL commands are paused, so
        then it returns only when the pause ends: keep such pauses short."""
        self._command("CLIENT", "UNPAUSE", timeout=max(self.paused_until - time.monotonic(), 0) + 5)
        self.paused_until = 0.0

    def _command(self, *args: str, timeout: float = 5.0) -> None:
        import redis
        from redis.backoff import NoBackoff
        from redis.retry import Retry

        no_retry = Retry(NoBackoff(), 0)
        with redis.Redis(
            host="127.0.0.1", port=self.port, socket_timeout=timeout, retry=no_retry
        ) as connection:
            connection.execute_command(*args)


@contextmanager
def own_redis() -> Iterator[Redis]:
    if shutil.which("redis-server") is None:
        raise FileNotFoundError("redis-server")
    server = Redis(spare_port())
    server.start()
    try:
        yield server
    finally:
        server.stop()
