"""`parley serve` end to end: SIGTERM lets in-flight requests finish, closes pools, exits 0."""

import asyncio
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.servers import spare_port

PARLEY = Path(sys.executable).parent / "parley"
# bcrypt at cost 14 takes about two seconds here: a real request that is slow on its own.
SLOW_BCRYPT_ROUNDS = "14"

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not PARLEY.exists(), reason="the parley command is not installed"),
]


def prepare_schema(database_url: str) -> None:
    """Before migrations exist, build the tables from the models as `parley serve` cannot."""
    from alembic.script import ScriptDirectory

    from parley.db.migrate import alembic_config

    if ScriptDirectory.from_config(alembic_config(database_url)).get_current_head():
        return  # `parley serve` migrates the new database itself

    import parley.models  # noqa: F401
    from parley.db.base import Base
    from parley.db.engine import create_database

    async def create() -> None:
        database = create_database(database_url)
        async with database.engine.begin() as connection:
            await connection.run_sync(Base.metadata.create_all)
        await database.dispose()

    asyncio.run(create())


def start_server(
    tmp_path: Path, port: int, workers: int, *, metrics_dir: Path | None = None
) -> subprocess.Popen[bytes]:
    database_url = f"sqlite:///{tmp_path / 'serve.db'}"
    prepare_schema(database_url)
    env = {
        **os.environ,
        "ENVIRONMENT": "staging",
        "DATABASE_URL": database_url,
        "JWT_SECRET": "serve-test-" + "s" * 40,
        "BCRYPT_ROUNDS": SLOW_BCRYPT_ROUNDS,
        "MEDIA_DIR": str(tmp_path / "media"),
        "LOG_FORMAT": "json",
        "LOG_LEVEL": "INFO",
    }
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    if metrics_dir is not None:
        env["PROMETHEUS_MULTIPROC_DIR"] = str(metrics_dir)
    command = [str(PARLEY), "serve", "--port", str(port), "--workers", str(workers)]
    with (tmp_path / "serve.log").open("wb") as log:
        return subprocess.Popen(
            [*command, "--graceful-timeout", "15"],
            cwd=tmp_path,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )


def wait_until_serving(base: str, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        assert process.poll() is None, "the server exited during start-up"
        try:
            if httpx.get(f"{base}/health/live", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            time.sleep(0.1)
    raise TimeoutError("the server did not start")


def served(metrics: str, route: str) -> float:
    for line in metrics.splitlines():
        if line.startswith("parley_http_requests_total{") and f'route="{route}"' in line:
            return float(line.rsplit(" ", 1)[1])
    return 0.0


def test_metrics_sum_over_every_worker_in_multiprocess_mode(tmp_path: Path) -> None:
    port = spare_port()
    base = f"http://127.0.0.1:{port}"
    stale = tmp_path / "metrics" / "counter_999999.db"
    stale.parent.mkdir()
    stale.write_bytes(b"left by a worker of an earlier run")
    process = start_server(tmp_path, port, 2, metrics_dir=tmp_path / "metrics")
    try:
        wait_until_serving(base, process)
        for _ in range(9):
            # A new connection each time, so both workers get their share.
            assert httpx.get(f"{base}/health/live", timeout=5).status_code == 200
        metrics = httpx.get(f"{base}/metrics", timeout=5).text
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=30)

    assert not stale.exists()
    assert served(metrics, "/health/live") == 10  # the start-up probe and nine more


@pytest.mark.parametrize("workers", [1, 2])
def test_sigterm_drains_in_flight_requests_and_exits_zero(tmp_path: Path, workers: int) -> None:
    port = spare_port()
    base = f"http://127.0.0.1:{port}"
    process = start_server(tmp_path, port, workers)
    try:
        wait_until_serving(base, process)
        result: dict[str, Any] = {}

        def slow_request() -> None:
            body = {"email": "slow@example.com", "password": "a fine long passphrase"}
            started = time.monotonic()
            response = httpx.post(f"{base}/api/v1/auth/register", json=body, timeout=30)
            result.update(status=response.status_code, seconds=time.monotonic() - started)

        in_flight = threading.Thread(target=slow_request)
        in_flight.start()
        time.sleep(0.7)  # the request is hashing the password now
        terminated_at = time.monotonic()
        process.send_signal(signal.SIGTERM)
        in_flight.join(timeout=30)
        exit_code = process.wait(timeout=30)
        exited_after = time.monotonic() - terminated_at
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()

    log = (tmp_path / "serve.log").read_text()
    assert result.get("status") == 201, log
    assert result["seconds"] > 1.0  # it really was in flight when SIGTERM came
    assert exit_code == 0, log
    assert exited_after < 15
    assert log.count("Application shutdown complete") == workers  # lifespan ran: pools closed
    assert "died" not in log  # no worker was lost and restarted on the way
    with pytest.raises(httpx.TransportError):
        httpx.get(f"{base}/health/live", timeout=1)
