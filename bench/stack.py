"""Start Parley the way production runs it (`parley serve --workers N`) and the baseline app
under the same server and flags, both pinned to the same CPUs."""

import os
import secrets
import socket
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from bench.procs import Registry, Server, free_port, pinned, wait_ready
from bench.seed import vacuum_postgres

REPO = Path(__file__).resolve().parent.parent
PARLEY = str(Path(sys.executable).parent / "parley")
KEPT_ENV = ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR", "VIRTUAL_ENV")


def new_secret() -> str:
    return secrets.token_urlsafe(48)


# A database number of its own, so the bench's keys never meet a test suite's.
BENCH_REDIS_URL = "redis://127.0.0.1:6379/15"


def redis_answers(host: str = "127.0.0.1", port: int = 6379) -> bool:
    """Whether a Redis server answers PING on the loopback."""
    try:
        with socket.create_connection((host, port), timeout=1) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(16).startswith(b"+PONG")
    except OSError:
        return False


def production_extras(workdir: Path, *, redis: bool) -> dict[str, str]:
    """What the production image and compose file add: shared metrics, and Redis if asked."""
    metrics = workdir / "metrics"
    metrics.mkdir(parents=True, exist_ok=True)
    extras = {"PROMETHEUS_MULTIPROC_DIR": str(metrics)}
    if redis:
        extras["REDIS_URL"] = BENCH_REDIS_URL
    return extras


def parley_env(
    database_url: str, workdir: Path, secret: str, extras: Mapping[str, str]
) -> dict[str, str]:
    """Production settings; limits high enough that the rate limiter never interferes."""
    env = {name: os.environ[name] for name in KEPT_ENV if name in os.environ}
    env.update(extras)
    env.update(
        ENVIRONMENT="production",
        DATABASE_URL=database_url,
        JWT_SECRET=secret,
        JWT_EXPIRES_IN="1h",  # outlives any run, so set-up tokens stay valid
        LOG_LEVEL="WARNING",
        BCRYPT_ROUNDS="12",  # the default, stated so a stray environment cannot lower it
        RATE_LIMIT_MAX="1000000000",
        RATE_LIMIT_WINDOW="60",
        LOGIN_RATE_LIMIT="1000000000/15m",
        MEDIA_DIR=str(workdir / "media"),
        PUBLIC_BASE_URL="http://127.0.0.1",
    )
    return env


@dataclass
class Stack:
    parley: Server
    baseline: Server
    database: str
    workers: int
    cpus: str | None
    database_url: str

    def tidy(self) -> None:
        """Between two measurements: the database's own upkeep, on time (seed.vacuum_postgres)."""
        if self.database == "postgresql":
            vacuum_postgres(self.database_url)


def start_parley(
    registry: Registry,
    *,
    database_url: str,
    workers: int,
    cpus: str | None,
    workdir: Path,
    secret: str,
    extras: Mapping[str, str],
) -> Server:
    port = free_port()
    workdir.mkdir(parents=True, exist_ok=True)
    log_path = workdir / f"parley-{port}.log"
    argv = [PARLEY, "serve", "--host", "127.0.0.1", "--port", str(port), "--workers", str(workers)]
    with log_path.open("wb") as log:
        proc = registry.spawn(
            pinned(cpus, argv),
            cwd=workdir,
            stdout=log,
            stderr=log,
            env=parley_env(database_url, workdir, secret, extras),
        )
    return Server("parley", proc, port, workers, cpus, log_path)


def start_baseline(registry: Registry, *, workers: int, cpus: str | None, workdir: Path) -> Server:
    port = free_port()
    workdir.mkdir(parents=True, exist_ok=True)
    log_path = workdir / f"baseline-{port}.log"
    # The flags `parley serve` gives uvicorn.run: no proxy headers, no Server header, no access log.
    argv = [
        sys.executable,
        "-m",
        "uvicorn",
        "bench.baseline_app:app",
        "--app-dir",
        str(REPO),
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--workers",
        str(workers),
        "--no-proxy-headers",
        "--no-server-header",
        "--no-access-log",
        "--log-level",
        "warning",
    ]
    env = {name: os.environ[name] for name in KEPT_ENV if name in os.environ}
    with log_path.open("wb") as log:
        proc = registry.spawn(pinned(cpus, argv), cwd=workdir, stdout=log, stderr=log, env=env)
    return Server("baseline", proc, port, workers, cpus, log_path)


@contextmanager
def running_stack(
    registry: Registry,
    *,
    database: str,
    database_url: str,
    workers: int,
    cpus: str | None,
    workdir: Path,
    secret: str,
    extras: Mapping[str, str],
) -> Iterator[Stack]:
    """Both servers up for the duration of the block, stopped afterwards whatever happens."""
    parley = start_parley(
        registry,
        database_url=database_url,
        workers=workers,
        cpus=cpus,
        workdir=workdir,
        secret=secret,
        extras=extras,
    )
    baseline = start_baseline(registry, workers=workers, cpus=cpus, workdir=workdir)
    try:
        wait_ready(parley)
        wait_ready(baseline)
        yield Stack(parley, baseline, database, workers, cpus, database_url)
    finally:
        registry.stop(parley.proc)
        registry.stop(baseline.proc)
