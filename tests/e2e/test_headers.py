"""Security headers, request ids, client addresses and compression, seen from a client."""

from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from fastapi.responses import JSONResponse, Response, StreamingResponse

from tests.conftest import Account, make_client, sign_up

API_CSP = "default-src 'none'; frame-ancestors 'none'"


def assert_security_headers(response: httpx.Response) -> None:
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["x-frame-options"] == "DENY"
    assert response.headers["referrer-policy"] == "no-referrer"
    assert "server" not in response.headers
    assert "x-powered-by" not in response.headers
    assert "x-request-id" in response.headers


async def test_a_success_response_carries_every_security_header(
    client: httpx.AsyncClient,
) -> None:
    response = await client.get("/health/live")

    assert response.status_code == 200
    assert_security_headers(response)
    assert response.headers["content-security-policy"] == API_CSP
    assert "strict-transport-security" not in response.headers


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [
        ("GET", "/api/v1/no-such-thing", 404),
        ("PUT", "/health/live", 405),
        ("GET", "/api/v1/users/me", 401),
        ("POST", "/api/v1/auth/login", 422),
    ],
)
async def test_error_responses_carry_every_security_header(
    client: httpx.AsyncClient, method: str, path: str, status: int
) -> None:
    response = await client.request(method, path, json={} if method == "POST" else None)

    assert response.status_code == status
    assert response.json()["status"] == "error"
    assert_security_headers(response)
    assert response.headers["content-security-policy"] == API_CSP


async def test_hsts_is_sent_only_in_production(app_factory: Callable[..., Any]) -> None:
    production: FastAPI = await app_factory(environment="production")
    staging: FastAPI = await app_factory(environment="staging")

    async with make_client(production) as http:
        hardened = await http.get("/api/v1/no-such-thing")
    async with make_client(staging) as http:
        plain = await http.get("/health/live")

    assert hardened.headers["strict-transport-security"].startswith("max-age=")
    assert_security_headers(hardened)
    assert "strict-transport-security" not in plain.headers


async def test_token_and_user_responses_are_not_stored(
    client: httpx.AsyncClient, alice: Account
) -> None:
    login = await client.post(
        "/api/v1/auth/login", json={"email": alice.email, "password": alice.password}
    )
    me = await client.get("/api/v1/users/me", headers=alice.headers)
    anonymous = await client.get("/api/v1/users/me")
    health = await client.get("/health/live")

    for response in (login, me, anonymous):
        assert response.headers["cache-control"] == "no-store", response.request.url
    assert "no-store" not in health.headers.get("cache-control", "")


async def test_a_sane_request_id_is_echoed(client: httpx.AsyncClient) -> None:
    response = await client.get("/health/live", headers={"X-Request-ID": "abc-123_x.y"})

    assert response.headers["x-request-id"] == "abc-123_x.y"


@pytest.mark.parametrize(
    "hostile",
    ["a" * 129, "abc\x01def", "abc def", "abc;rm -rf", "ünïcode", ""],
    ids=["too-long", "control-char", "space", "punctuation", "non-ascii", "empty"],
)
async def test_a_hostile_request_id_is_replaced(client: httpx.AsyncClient, hostile: str) -> None:
    response = await client.get(
        "/health/live", headers=[(b"X-Request-ID", hostile.encode("utf-8"))]
    )

    echoed = response.headers["x-request-id"]
    assert echoed != hostile
    assert 0 < len(echoed) <= 128 and echoed.isalnum()


async def test_every_request_gets_its_own_generated_id(client: httpx.AsyncClient) -> None:
    first = await client.get("/health/live")
    second = await client.get("/health/live")

    assert first.headers["x-request-id"] != second.headers["x-request-id"]


async def _session_ip(http: httpx.AsyncClient, **headers: str) -> str:
    account = await sign_up(http)
    login = await http.post(
        "/api/v1/auth/login",
        json={"email": account.email, "password": account.password},
        headers=headers,
    )
    assert login.status_code == 200, login.text
    token = login.json()["data"]["access_token"]
    sessions = await http.get("/api/v1/auth/sessions", headers={"Authorization": f"Bearer {token}"})
    current = [s for s in sessions.json()["data"]["items"] if s["current"]]
    return str(current[0]["ip_address"])


async def test_a_spoofed_forwarded_for_is_ignored_when_no_proxy_is_trusted(
    app: FastAPI,
) -> None:
    async with make_client(app, peer=("127.0.0.1", 4000)) as http:
        recorded = await _session_ip(http, **{"X-Forwarded-For": "198.51.100.9"})

    assert recorded == "127.0.0.1"  # loopback is not trusted by default either


async def test_a_spoofed_forwarded_for_is_ignored_from_an_untrusted_peer(
    app_factory: Callable[..., Any],
) -> None:
    application: FastAPI = await app_factory(forwarded_allow_ips="10.0.0.0/8")
    async with make_client(application, peer=("203.0.113.7", 4000)) as http:
        recorded = await _session_ip(http, **{"X-Forwarded-For": "198.51.100.9"})

    assert recorded == "203.0.113.7"


async def test_the_forwarded_client_is_used_behind_a_trusted_proxy(
    app_factory: Callable[..., Any],
) -> None:
    application: FastAPI = await app_factory(forwarded_allow_ips="10.0.0.0/8,192.0.2.1")
    async with make_client(application, peer=("10.1.2.3", 4000)) as http:
        # The client may prepend anything; the address the trusted proxy appended counts.
        recorded = await _session_ip(http, **{"X-Forwarded-For": "1.2.3.4, 198.51.100.9"})

    assert recorded == "198.51.100.9"


async def test_responses_over_one_kib_are_gzipped_when_the_client_accepts_it(
    client: httpx.AsyncClient,
) -> None:
    large = await client.get("/openapi.json", headers={"Accept-Encoding": "gzip"})
    small = await client.get("/health/live", headers={"Accept-Encoding": "gzip"})
    identity = await client.get("/openapi.json", headers={"Accept-Encoding": "identity"})

    assert large.headers["content-encoding"] == "gzip"
    assert large.json()["openapi"].startswith("3.")
    assert "content-encoding" not in small.headers
    assert "content-encoding" not in identity.headers


async def test_an_escaped_error_carries_every_header_a_served_response_does(
    app_factory: Callable[..., Any],
) -> None:
    application: FastAPI = await app_factory(
        cors_origins="https://shop.example", rate_limit_max=5, rate_limit_window="1m"
    )

    async def explode() -> None:
        raise RuntimeError("escaped every handler")

    application.add_api_route("/api/v1/explode", explode)
    async with make_client(application) as http:
        response = await http.get(
            "/api/v1/explode", headers={"Origin": "https://shop.example", "X-Request-ID": "e-1"}
        )

    assert response.status_code == 500
    assert response.json()["error"]["code"] == "internal_error"
    assert_security_headers(response)
    assert response.headers["x-request-id"] == "e-1"
    assert response.headers["content-security-policy"] == API_CSP
    assert response.headers["ratelimit-remaining"] == "4"
    assert response.headers["access-control-allow-origin"] == "https://shop.example"
    assert "Origin" in response.headers["vary"]


async def test_a_gzipped_response_varies_on_both_encoding_and_origin(
    client: httpx.AsyncClient,
) -> None:
    response = await client.get("/openapi.json", headers={"Accept-Encoding": "gzip"})

    assert response.headers["content-encoding"] == "gzip"
    assert response.headers["vary"] == "Accept-Encoding, Origin"
    assert_security_headers(response)


async def test_an_app_header_of_the_contract_is_replaced_not_doubled(
    app_factory: Callable[..., Any],
) -> None:
    application: FastAPI = await app_factory()

    async def own_headers() -> JSONResponse:
        return JSONResponse(
            {"ok": True},
            headers={"X-Frame-Options": "SAMEORIGIN", "Server": "leaky/1.0", "X-Request-ID": "x"},
        )

    application.add_api_route("/api/v1/own-headers", own_headers)
    async with make_client(application) as http:
        response = await http.get("/api/v1/own-headers", headers={"X-Request-ID": "mine-1"})

    assert response.headers.get_list("x-frame-options") == ["DENY"]
    assert response.headers.get_list("x-request-id") == ["mine-1"]
    assert "server" not in response.headers


async def test_large_streams_are_gzipped_and_media_types_are_not(
    app_factory: Callable[..., Any],
) -> None:
    application: FastAPI = await app_factory()
    chunk = b"0123456789abcdef" * 256  # 4 KiB, compressible

    async def stream() -> StreamingResponse:
        async def chunks() -> AsyncIterator[bytes]:
            for _ in range(3):
                yield chunk

        return StreamingResponse(chunks(), media_type="text/plain")

    async def media() -> Response:
        return Response(chunk, media_type="application/octet-stream")

    application.add_api_route("/api/v1/stream", stream)
    application.add_api_route("/api/v1/media-like", media)
    gzip = {"Accept-Encoding": "gzip"}
    async with make_client(application) as http:
        streamed = await http.get("/api/v1/stream", headers=gzip)
        binary = await http.get("/api/v1/media-like", headers=gzip)
        identity = await http.get("/api/v1/stream", headers={"Accept-Encoding": "identity"})

    assert streamed.headers["content-encoding"] == "gzip"
    assert streamed.content == chunk * 3  # httpx inflates it
    assert streamed.headers["vary"] == "Accept-Encoding, Origin"
    assert "content-encoding" not in binary.headers and binary.content == chunk
    assert "content-encoding" not in identity.headers and identity.content == chunk * 3
    for response in (streamed, binary, identity):
        assert_security_headers(response)
