"""CORS allows exactly the configured origins."""

from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest

from tests.conftest import assert_error, make_client

ALLOWED = "https://shop.example"
OTHER = "https://evil.example"


@pytest.fixture
async def cors_client(app_factory: Callable[..., Any]) -> AsyncIterator[httpx.AsyncClient]:
    application = await app_factory(cors_origins=f"{ALLOWED},https://admin.example")
    async with make_client(application) as http:
        yield http


def vary(response: httpx.Response) -> set[str]:
    return {v.strip().lower() for v in response.headers.get("vary", "").split(",")}


async def test_an_allowed_origin_gets_exactly_itself_and_vary_origin(
    cors_client: httpx.AsyncClient,
) -> None:
    response = await cors_client.get("/health/live", headers={"Origin": ALLOWED})

    assert response.headers["access-control-allow-origin"] == ALLOWED
    assert "origin" in vary(response)
    assert "access-control-allow-credentials" not in response.headers


async def test_another_origin_gets_no_allow_origin_at_all(cors_client: httpx.AsyncClient) -> None:
    for origin in (OTHER, "null", ALLOWED + ".evil.example", "http://shop.example"):
        response = await cors_client.get("/health/live", headers={"Origin": origin})

        assert response.status_code == 200
        assert "access-control-allow-origin" not in response.headers, origin


async def test_a_preflight_from_an_allowed_origin_is_answered(
    cors_client: httpx.AsyncClient,
) -> None:
    response = await cors_client.options(
        "/api/v1/sessions",
        headers={
            "Origin": ALLOWED,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization, content-type",
        },
    )

    assert response.status_code == 200
    assert response.headers["access-control-allow-origin"] == ALLOWED
    assert "POST" in response.headers["access-control-allow-methods"]
    assert "authorization" in response.headers["access-control-allow-headers"].lower()
    assert "origin" in vary(response)


async def test_a_preflight_from_another_origin_is_refused_in_the_envelope(
    cors_client: httpx.AsyncClient,
) -> None:
    response = await cors_client.options(
        "/api/v1/sessions",
        headers={"Origin": OTHER, "Access-Control-Request-Method": "POST"},
    )

    assert_error(response, 400, "bad_request")
    assert "access-control-allow-origin" not in response.headers
    assert response.headers["x-content-type-options"] == "nosniff"


async def test_errors_to_an_allowed_origin_are_readable_by_the_browser(
    cors_client: httpx.AsyncClient,
) -> None:
    response = await cors_client.get("/api/v1/users/me", headers={"Origin": ALLOWED})

    assert_error(response, 401, "unauthorized")
    assert response.headers["access-control-allow-origin"] == ALLOWED
    assert "x-request-id" in response.headers["access-control-expose-headers"].lower()


async def test_no_origin_is_allowed_when_none_is_configured(client: httpx.AsyncClient) -> None:
    response = await client.get("/health/live", headers={"Origin": ALLOWED})

    assert "access-control-allow-origin" not in response.headers


async def test_a_wildcard_in_the_configuration_allows_no_one(
    app_factory: Callable[..., Any],
) -> None:
    application = await app_factory(cors_origins="*")
    async with make_client(application) as http:
        response = await http.get("/health/live", headers={"Origin": OTHER})

    assert "access-control-allow-origin" not in response.headers


async def test_a_preflight_spends_no_request_budget(app_factory: Callable[..., Any]) -> None:
    application = await app_factory(cors_origins=ALLOWED, rate_limit_max=1, rate_limit_window="1m")
    preflight = {"Origin": ALLOWED, "Access-Control-Request-Method": "GET"}
    async with make_client(application) as http:
        answered = [await http.options("/api/v1/users/me", headers=preflight) for _ in range(3)]
        served = await http.get("/api/v1/users/me", headers={"Origin": ALLOWED})

    assert [r.status_code for r in answered] == [200, 200, 200]
    assert all("ratelimit-limit" not in r.headers for r in answered)
    assert all(r.headers["x-content-type-options"] == "nosniff" for r in answered)
    assert all("x-request-id" in r.headers for r in answered)
    assert served.status_code == 401
    assert served.headers["ratelimit-remaining"] == "0"


async def test_a_refusal_past_the_budget_is_readable_by_an_allowed_origin(
    app_factory: Callable[..., Any],
) -> None:
    application = await app_factory(cors_origins=ALLOWED, rate_limit_max=1, rate_limit_window="1h")
    async with make_client(application) as http:
        await http.get("/api/v1/users/me", headers={"Origin": ALLOWED})
        refused = await http.get("/api/v1/users/me", headers={"Origin": ALLOWED})

    assert_error(refused, 429, "rate_limited")
    assert refused.headers["access-control-allow-origin"] == ALLOWED
    assert "retry-after" in refused.headers["access-control-expose-headers"].lower()
    assert "origin" in vary(refused)
