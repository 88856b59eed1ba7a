"""The service under a failing database or Redis: 503 with Retry-After, never a 500, never a
hang, and recovery without a restart. Each test runs servers of its own on spare ports."""

import asyncio
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

import parley.models  # noqa: F401 - registers the tables
from parley.core.config import Settings
from parley.db.base import Base
from parley.db.engine import create_database
from parley.main import create_app
from tests.conftest import TEST_SECRET, RecordingMailer, assert_unavailable, make_client, sign_up
from tests.support.servers import Postgres, Redis, own_postgres, own_redis, postgres_bin

# A request against a dead dependency must be answered within this many seconds.
BOUND_S = 8.0

pytestmark = pytest.mark.slow


def settings(tmp_path: Any, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "environment": "staging",
        "jwt_secret": TEST_SECRET,
        "bcrypt_rounds": 4,
        "media_dir": tmp_path / "media",
        "log_level": "CRITICAL",
        "database_url": f"sqlite:///{tmp_path / 'faults.db'}",
        **overrides,
    }
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


async def running_app(config: Settings) -> AsyncIterator[FastAPI]:
    database = create_database(config.database_url)
    async with database.engine.begin() as connection:
        await connection.run_sync(Base.metadata.create_all)
    await database.dispose()
    application = create_app(config, mailer=RecordingMailer())
    async with application.router.lifespan_context(application):
        yield application


async def timed(http: httpx.AsyncClient, method: str, path: str, **kwargs: Any) -> httpx.Response:
    started = time.monotonic()
    response = await http.request(method, path, **kwargs)
    assert time.monotonic() - started < BOUND_S, f"{method} {path} took too long"
    return response


@pytest.fixture(scope="module")
def postgres() -> Iterator[Postgres]:
    if postgres_bin() is None:
        pytest.skip("PostgreSQL server binaries are not installed")
    with own_postgres() as server:
        yield server


@pytest.fixture
def redis_server() -> Iterator[Redis]:
    try:
        with own_redis() as server:
            yield server
    except FileNotFoundError:
        pytest.skip("redis-server is not installed")


@pytest.mark.postgres
async def test_a_database_outage_is_503_and_the_service_recovers_without_restart(
    postgres: Postgres, tmp_path: Any
) -> None:
    async for application in running_app(settings(tmp_path, database_url=postgres.url)):
        async with make_client(application) as http:
            account = await sign_up(http)
            assert (await http.get("/api/v1/users/me", headers=account.headers)).status_code == 200

            postgres.stop()
            for method, path, body in [
                ("GET", "/api/v1/users/me", None),
                ("GET", "/api/v1/sessions", None),
                ("POST", "/api/v1/sessions", {"title": "while down"}),
                ("POST", "/api/v1/auth/login", {"email": account.email, "password": "x" * 10}),
            ]:
                response = await timed(http, method, path, json=body, headers=account.headers)
                assert_unavailable(response)
            assert_unavailable(await timed(http, "GET", "/health/ready"))
            assert (await http.get("/health/live")).status_code == 200

            postgres.start()
            recovered = await timed(http, "GET", "/api/v1/users/me", headers=account.headers)
            assert recovered.status_code == 200, recovered.text
            assert (await http.get("/health/ready")).status_code == 200


@pytest.mark.postgres
async def test_a_database_that_stops_answering_is_503_within_a_bound(
    postgres: Postgres, tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    import os
    import signal

    import parley.db.engine

    monkeypatch.setattr(parley.db.engine, "COMMAND_TIMEOUT_S", 2)  # 15 s in service
    async for application in running_app(settings(tmp_path, database_url=postgres.url)):
        async with make_client(application) as http:
            account = await sign_up(http)
            pid = int((postgres.data / "postmaster.pid").read_text().split()[0])
            group = _postgres_processes(pid)
            for process in group:
                os.kill(process, signal.SIGSTOP)
            try:
                response = await timed(http, "GET", "/api/v1/users/me", headers=account.headers)
                assert_unavailable(response)
            finally:
                for process in group:
                    os.kill(process, signal.SIGCONT)
            await asyncio.sleep(0.2)
            recovered = await timed(http, "GET", "/api/v1/users/me", headers=account.headers)
            assert recovered.status_code == 200, recovered.text


def _postgres_processes(postmaster: int) -> list[int]:
    import subprocess

    children = subprocess.run(
        ["pgrep", "-P", str(postmaster)], capture_output=True, text=True, check=False
    ).stdout.split()
    return [postmaster, *map(int, children)]


@pytest.mark.redis
async def test_redis_down_never_gives_a_500_nor_lets_a_revoked_session_back_in(
    redis_server: Redis, tmp_path: Any
) -> None:
    config = settings(tmp_path, redis_url=redis_server.url, login_rate_limit="3/15m")
    async for application in running_app(config):
        async with make_client(application) as http:
            revoked = await sign_up(http)
            assert (
                await http.post("/api/v1/auth/logout", headers=revoked.headers)
            ).status_code == 200
            still_in = await sign_up(http)

            redis_server.stop()
            gone = await timed(http, "GET", "/api/v1/users/me", headers=revoked.headers)
            assert gone.status_code == 401
            served = await timed(http, "GET", "/api/v1/users/me", headers=still_in.headers)
            assert served.status_code == 200
            out = await timed(http, "POST", "/api/v1/auth/logout", headers=still_in.headers)
            assert out.status_code == 200
            assert (await http.get("/api/v1/users/me", headers=still_in.headers)).status_code == 401

            wrong = {"email": still_in.email, "password": "not the password"}
            statuses = [
                (await timed(http, "POST", "/api/v1/auth/login", json=wrong)).status_code
                for _ in range(4)
            ]
            assert statuses == [401, 401, 401, 429]  # the login limit holds, per process
            assert_unavailable(await timed(http, "GET", "/health/ready"))

            redis_server.start()
            assert (await http.get("/health/ready")).status_code == 200
