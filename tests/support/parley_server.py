"""A real `parley serve` in a subprocess, on a spare port, for tests that need the whole
service: signals, sockets, several workers, a server under faults."""

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.support.servers import spare_port

PARLEY = Path(sys.executable).parent / "parley"
JWT_SECRET = "serve-test-" + "s" * 40

# Tests that start processes on SQLite files of their own do the same work whatever database
# the pass is for: once per CI run, in the SQLite pass, is enough.
SQLITE_PASS_ONLY = pytest.mark.skipif(
    bool(os.environ.get("PARLEY_TEST_DATABASE_URL")),
    reason="runs its own processes on SQLite: in the SQLite pass only",
)


@dataclass
class ParleyServer:
    process: subprocess.Popen[bytes]
    port: int
    log_path: Path

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def wait_until_serving(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.process.poll() is None, f"the server exited during start-up:\n{self.log}"
            try:
                if httpx.get(f"{self.base}/health/live", timeout=1).status_code == 200:
                    return
            except httpx.TransportError:
                time.sleep(0.1)
        raise TimeoutError(f"the server did not start:\n{self.log}")

    def terminate(self, timeout: float = 60) -> int:
        """Send SIGTERM and return the exit status."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout=timeout)

    def kill(self) -> None:
        """SIGKILL the server and its workers: killed alone, the supervisor would leave its
        workers serving on the inherited socket (the server runs in a process group of its
        own for this)."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=30)


def start_parley(
    workdir: Path,
    *,
    database_url: str | None = None,
    workers: int = 1,
    graceful_timeout: int = 15,
    env: dict[str, str] | None = None,
    port: int | None = None,
    prefix: Sequence[str] = (),
) -> ParleyServer:
    """Start `parley serve` in workdir (SQLite there unless database_url names another), under
    the `prefix` command when given (e.g. `setpriv` to serve without some of root's powers)."""
    port = port or spare_port()
    environment = {
        **os.environ,
        "ENVIRONMENT": "staging",
        "DATABASE_URL": database_url or f"sqlite:///{workdir / 'serve.db'}",
        "JWT_SECRET": JWT_SECRET,
        "BCRYPT_ROUNDS": "4",
        "MEDIA_DIR": str(workdir / "media"),
        "LOG_FORMAT": "json",
        "LOG_LEVEL": "INFO",
        **(env or {}),
    }
    if "PROMETHEUS_MULTIPROC_DIR" not in (env or {}):
        environment.pop("PROMETHEUS_MULTIPROC_DIR", None)
    log_path = workdir / f"serve-{port}.log"
    command = [
        str(PARLEY),
        "serve",
        "--port",
        str(port),
        "--workers",
        str(workers),
        "--graceful-timeout",
        str(graceful_timeout),
    ]
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [*prefix, *command],
            cwd=workdir,
            env=environment,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    return ParleyServer(process, port, log_path)


@contextmanager
def running_parley(workdir: Path, **options: object) -> Iterator[ParleyServer]:
    """Start `parley serve`, wait until it answers, and make sure it is gone afterwards."""
    server = start_parley(workdir, **options)  # type: ignore[arg-type]
    try:
        server.wait_until_serving()
        yield server
    finally:
        server.kill()


async def ask_for_reset_mail(server: ParleyServer, *, prefix: str, password: str) -> str:
    """Register an account on a running server and ask for its reset mail; return the
    address (the mail itself goes out as a job)."""
    email = f"{prefix}-{os.urandom(6).hex()}@example.com"
    async with httpx.AsyncClient(base_url=server.base, timeout=30) as http:
        registered = await http.post(
            "/api/v1/auth/register", json={"email": email, "password": password}
        )
        assert registered.status_code == 201, registered.text
        asked = await http.post("/api/v1/auth/password/forgot", json={"email": email})
        assert asked.status_code == 202, asked.text
    return email
