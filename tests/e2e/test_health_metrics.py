"""Liveness, readiness and Prometheus metrics, outside /api/v1."""

import re
import socket
import time
from collections.abc import Callable
from typing import Any

import httpx

from parley.core.config import Settings
from parley.main import create_app
from parley.ops.metrics import LOGIN_ATTEMPTS
from tests.conftest import TEST_SECRET, assert_error, make_client, sign_up


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def sample(text: str, name: str, **labels: str) -> float:
    """The value of one sample in a Prometheus text exposition (0 when absent)."""
    for line in text.splitlines():
        if not line.startswith(name + "{") and not line.startswith(name + " "):
            continue
        if all(f'{key}="{value}"' in line for key, value in labels.items()):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


async def test_live_answers_200(client: httpx.AsyncClient) -> None:
    response = await client.get("/health/live")

    assert response.status_code == 200
    assert response.json()["status"] == "success"


async def test_ready_answers_200_when_the_database_answers(client: httpx.AsyncClient) -> None:
    response = await client.get("/health/ready")

    assert response.status_code == 200
    assert response.json()["data"] == {
        "database": "ok",
        "redis": "not_configured",
        "queue": "embedded",
    }


async def test_ready_is_a_prompt_503_when_redis_is_configured_but_away(
    app_factory: Callable[..., Any],
) -> None:
    application = await app_factory(redis_url=f"redis://127.0.0.1:{closed_port()}/0")
    async with make_client(application) as http:
        started = time.monotonic()
        response = await http.get("/health/ready")

    assert time.monotonic() - started < 3
    body = assert_error(response, 503, "unavailable")
    assert "redis" in body["message"]
    assert response.headers["retry-after"].isdigit()


async def test_ready_is_a_prompt_503_when_the_database_is_away() -> None:
    settings = Settings(  # type: ignore[call-arg]
        _env_file=None,
        environment="staging",
        jwt_secret=TEST_SECRET,
        database_url=f"postgresql://nobody@127.0.0.1:{closed_port()}/none",
        log_level="WARNING",
    )
    application = create_app(settings)  # no lifespan: start-up would need the database
    async with make_client(application) as http:
        started = time.monotonic()
        ready = await http.get("/health/ready")
        live = await http.get("/health/live")
    await application.state.resources.database.dispose()

    assert time.monotonic() - started < 3
    body = assert_error(ready, 503, "unavailable")
    assert "database" in body["message"]
    assert "postgres" not in ready.text.lower() and "nobody" not in ready.text
    assert live.status_code == 200


async def test_metrics_are_in_the_prometheus_text_format_by_route_template(
    client: httpx.AsyncClient,
) -> None:
    before = (await client.get("/metrics")).text
    account = await sign_up(client)
    missing = "/api/v1/sessions/01a1f7a0-0000-7000-8000-000000000000"
    await client.get(missing, headers=account.headers)
    response = await client.get("/metrics")

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    text = response.text
    labels = {"method": "GET", "route": "/api/v1/sessions/{chat_session_id}", "status": "404"}
    grew = sample(text, "parley_http_requests_total", **labels) - sample(
        before, "parley_http_requests_total", **labels
    )
    assert grew == 1
    assert 'route="/api/v1/sessions/01a1f7a0' not in text  # never the raw path
    assert "parley_http_request_duration_seconds_bucket{" in text
    assert re.search(r"^parley_db_pool_connections_in_use \S+$", text, re.MULTILINE)
    assert "# TYPE parley_login_attempts_total counter" in text


async def test_rate_limit_rejections_are_counted(app_factory: Callable[..., Any]) -> None:
    application = await app_factory(rate_limit_max=1, rate_limit_window="1m")
    async with make_client(application) as http:
        before = sample((await http.get("/metrics")).text, "parley_rate_limited_total")
        await http.get("/api/v1/users/me")
        await http.get("/api/v1/users/me")
        after = sample((await http.get("/metrics")).text, "parley_rate_limited_total")

    assert after - before == 1


async def test_login_outcomes_are_exposed_with_their_label(client: httpx.AsyncClient) -> None:
    LOGIN_ATTEMPTS.labels(outcome="success").inc(0)

    text = (await client.get("/metrics")).text

    assert 'parley_login_attempts_total{outcome="success"}' in text


async def test_the_pool_gauge_returns_to_its_level_after_requests(
    client: httpx.AsyncClient,
) -> None:
    idle = sample((await client.get("/metrics")).text, "parley_db_pool_connections_in_use")
    await sign_up(client)
    await client.get("/health/ready")

    after = sample((await client.get("/metrics")).text, "parley_db_pool_connections_in_use")

    assert after == idle
