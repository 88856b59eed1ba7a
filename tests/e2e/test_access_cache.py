"""The access cache: authenticated requests skip the database, and every change that must
end or alter access takes effect at once, also across workers sharing Redis."""

import asyncio
import socket
import time
from collections.abc import Callable
from typing import Any

import httpx
import jwt
import pytest
from fastapi import FastAPI

from parley.main import create_app
from tests.conftest import (
    PASSWORD,
    Account,
    assert_error,
    count_queries,
    log_in,
    make_client,
    sign_up,
)

API = "/api/v1"
REDIS_URL = "redis://127.0.0.1:6379/0"


def _redis_up() -> bool:
    try:
        socket.create_connection(("127.0.0.1", 6379), timeout=0.5).close()
    except OSError:
        return False
    return True


async def test_a_repeated_authenticated_request_needs_no_query(
    app: FastAPI, client: httpx.AsyncClient, alice: Account
) -> None:
    await client.get(f"{API}/users/me", headers=alice.headers)
    with count_queries(app) as statements:
        response = await client.get(f"{API}/users/me", headers=alice.headers)
    assert response.status_code == 200
    assert statements == []


async def test_requests_that_miss_the_cache_at_once_share_one_read(
    app: FastAPI, client: httpx.AsyncClient, alice: Account
) -> None:
    # A change to the account drops its remembered sessions: the next requests all miss.
    await client.get(f"{API}/users/me", headers=alice.headers)
    await client.patch(f"{API}/users/me", json={"username": "renamed"}, headers=alice.headers)
    with count_queries(app) as statements:
        answers = await asyncio.gather(
            *(client.get(f"{API}/users/me", headers=alice.headers) for _ in range(8))
        )
    assert [a.status_code for a in answers] == [200] * 8
    assert {a.json()["data"]["username"] for a in answers} == {"renamed"}
    assert len([s for s in statements if "login_sessions" in s]) == 1, statements


async def test_a_revoked_session_is_refused_to_every_request_sharing_its_read(
    client: httpx.AsyncClient, alice: Account
) -> None:
    other = await log_in(client, email=alice.email, password=PASSWORD)
    headers = {"Authorization": f"Bearer {other['access_token']}"}
    assert (await client.post(f"{API}/auth/logout", headers=headers)).status_code == 200
    answers = await asyncio.gather(
        *(client.get(f"{API}/users/me", headers=headers) for _ in range(8))
    )
    for answer in answers:
        assert_error(answer, 401, "unauthorized")


async def test_profile_changes_show_at_once_despite_the_cache(
    client: httpx.AsyncClient, alice: Account
) -> None:
    await client.get(f"{API}/users/me", headers=alice.headers)
    await client.patch(f"{API}/users/me", json={"username": "fresh_name"}, headers=alice.headers)
    me = await client.get(f"{API}/users/me", headers=alice.headers)
    assert me.json()["data"]["username"] == "fresh_name"


async def test_without_a_single_worker_or_redis_the_cache_stays_off(
    app_factory: Callable[..., Any],
) -> None:
    app = create_app((await app_factory()).state.resources.settings, single_worker=False)
    assert app.state.resources.access_cache.active is False


@pytest.mark.redis
@pytest.mark.skipif(not _redis_up(), reason="needs Redis on 127.0.0.1:6379")
async def test_revocation_in_one_worker_reaches_the_other_through_redis(
    app_factory: Callable[..., Any],
) -> None:
    worker_a: FastAPI = await app_factory(redis_url=REDIS_URL)
    worker_b: FastAPI = await app_factory(redis_url=REDIS_URL)
    for worker in (worker_a, worker_b):
        await _wait_active(worker)
    async with make_client(worker_a) as a, make_client(worker_b) as b:
        account = await sign_up(a)
        other = await log_in(a, email=account.email, password=PASSWORD)
        headers = {"Authorization": f"Bearer {other['access_token']}"}
        assert (await b.get(f"{API}/users/me", headers=headers)).status_code == 200  # cached in B
        assert (await a.post(f"{API}/auth/logout", headers=headers)).status_code == 200
        await _eventually_401(b, headers)


async def _wait_active(app: FastAPI) -> None:
    import asyncio

    # Trusted once a heartbeat of its own came back through Redis (every 0.5 s); a generous bound.
    for _ in range(1000):
        if app.state.resources.access_cache.active:
            return
        await asyncio.sleep(0.01)
    raise AssertionError("no heartbeat of the access cache came back through Redis")


async def _eventually_401(http: httpx.AsyncClient, headers: dict[str, str]) -> None:
    import asyncio

    # Publication is asynchronous; it must land within moments, never after the cache TTL.
    for _ in range(100):
        response = await http.get(f"{API}/users/me", headers=headers)
        if response.status_code == 401:
            assert_error(response, 401, "unauthorized")
            return
        await asyncio.sleep(0.01)
    raise AssertionError("the revoked session still worked in the other worker")


async def test_a_remembered_token_is_refused_once_it_expires(
    app_factory: Callable[..., Any],
) -> None:
    # Long enough that the token is still good for the first requests, however the issuing
    # second falls (expiry is in whole seconds).
    application: FastAPI = await app_factory(jwt_expires_in=3)
    async with make_client(application) as http:
        account = await sign_up(http)
        for _ in range(2):  # the second is served by the remembered token
            assert (await http.get(f"{API}/users/me", headers=account.headers)).status_code == 200
        claims = jwt.decode(account.access_token, options={"verify_signature": False})
        await asyncio.sleep(max(0.0, claims["exp"] - time.time()) + 1.1)  # past its expiry
        expired = await http.get(f"{API}/users/me", headers=account.headers)

    assert_error(expired, 401, "unauthorized")
