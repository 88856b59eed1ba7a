"""Request bodies are bounded: declared or chunked, the answer is a 413 envelope."""

import json
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest

from tests.conftest import Account, assert_error, make_client, sign_up

LIMIT = 4096


@pytest.fixture
async def small_limit_client(app_factory: Callable[..., Any]) -> AsyncIterator[httpx.AsyncClient]:
    application = await app_factory(max_body_bytes=LIMIT, media_max_bytes=64 * 1024)
    async with make_client(application) as http:
        yield http


def body_of(size: int) -> bytes:
    """A JSON registration body of exactly `size` bytes."""
    skeleton = {"email": "someone@example.com", "password": ""}
    padding = size - len(json.dumps(skeleton).encode())
    return json.dumps({**skeleton, "password": "p" * padding}).encode()


async def test_a_declared_body_over_the_limit_is_413_in_the_envelope(
    small_limit_client: httpx.AsyncClient,
) -> None:
    response = await small_limit_client.post(
        "/api/v1/auth/register",
        content=body_of(LIMIT + 1),
        headers={"Content-Type": "application/json"},
    )

    body = assert_error(response, 413, "payload_too_large")
    assert "p" * 100 not in json.dumps(body)
    assert response.headers["x-content-type-options"] == "nosniff"


async def test_a_body_at_the_limit_is_read(small_limit_client: httpx.AsyncClient) -> None:
    response = await small_limit_client.post(
        "/api/v1/auth/register",
        content=body_of(LIMIT),
        headers={"Content-Type": "application/json"},
    )

    # Read and judged on its content: a password of ~4000 characters is too long.
    assert_error(response, 422, "validation_error")


async def test_a_chunked_body_without_length_is_cut_off_at_the_limit(
    small_limit_client: httpx.AsyncClient,
) -> None:
    sent: list[int] = []

    async def chunks() -> AsyncIterator[bytes]:
        for _ in range(64):
            sent.append(1024)
            yield b" " * 1024

    response = await small_limit_client.post(
        "/api/v1/auth/register", content=chunks(), headers={"Content-Type": "application/json"}
    )

    assert "content-length" not in response.request.headers
    assert_error(response, 413, "payload_too_large")
    assert len(sent) < 64, "the server stopped reading once past the limit"


async def test_an_oversized_body_to_an_unknown_path_is_still_an_envelope(
    small_limit_client: httpx.AsyncClient,
) -> None:
    response = await small_limit_client.post("/api/v1/nowhere", content=b"x" * (LIMIT + 1))

    assert_error(response, 413, "payload_too_large")


async def test_an_upload_may_exceed_the_json_limit_up_to_the_media_limit(
    app_factory: Callable[..., Any],
) -> None:
    application = await app_factory(max_body_bytes=LIMIT, media_max_bytes=64 * 1024)
    async with make_client(application) as http:
        account: Account = await sign_up(http)
        created = await http.post("/api/v1/sessions", json={}, headers=account.headers)
        assert created.status_code == 201, created.text
        url = f"/api/v1/sessions/{created.json()['data']['id']}/messages"
        png = b"\x89PNG\r\n\x1a\n" + b"\x00" * (LIMIT * 2)
        files = {"file": ("pic.png", png, "image/png")}

        within = await http.post(url, files=files, headers=account.headers)
        huge = {"file": ("pic.png", png + b"\x00" * 200 * 1024, "image/png")}
        beyond = await http.post(url, files=huge, headers=account.headers)

    assert within.status_code == 201, within.text
    assert_error(beyond, 413, "payload_too_large")


async def test_a_413_carries_the_budget_security_and_request_id_headers(
    app_factory: Callable[..., Any],
) -> None:
    application = await app_factory(max_body_bytes=LIMIT, rate_limit_max=5, rate_limit_window="1m")
    async with make_client(application) as http:
        response = await http.post(
            "/api/v1/auth/register",
            content=body_of(LIMIT + 1),
            headers={"Content-Type": "application/json", "X-Request-ID": "big-1"},
        )

    assert_error(response, 413, "payload_too_large")
    assert response.headers["ratelimit-remaining"] == "4"
    assert response.headers["x-request-id"] == "big-1"
    assert response.headers["content-security-policy"].startswith("default-src 'none'")
    assert response.headers["vary"] == "Origin"
