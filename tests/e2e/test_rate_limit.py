"""The per-client request budget: headers, 429, exemptions, user vs IP keys, shared via Redis."""

import asyncio
import socket
import time
import uuid
from collections.abc import Callable
from typing import Any

import pytest
from fastapi import FastAPI

from tests.conftest import assert_error, make_client, sign_up

SHARED_REDIS_URL = "redis://127.0.0.1:6379/0"


def redis_reachable(host: str = "127.0.0.1", port: int = 6379) -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def random_peer() -> tuple[str, int]:
    """A client address of its own, so budgets kept in a shared Redis never collide."""
    raw = uuid.uuid4().bytes
    return (f"10.{raw[0]}.{raw[1]}.{raw[2]}", 5000)


async def test_responses_carry_the_budget_headers(app_factory: Callable[..., Any]) -> None:
    application = await app_factory(rate_limit_max=5, rate_limit_window="1m")
    async with make_client(application) as http:
        first = await http.get("/api/v1/users/me")
        second = await http.get("/api/v1/users/me")

    assert first.headers["ratelimit-limit"] == "5"
    assert first.headers["ratelimit-remaining"] == "4"
    assert second.headers["ratelimit-remaining"] == "3"
    assert 0 < int(first.headers["ratelimit-reset"]) <= 60


async def test_past_the_budget_the_answer_is_429_with_retry_after(
    app_factory: Callable[..., Any],
) -> None:
    application = await app_factory(rate_limit_max=3, rate_limit_window="1m")
    async with make_client(application) as http:
        for _ in range(3):
            assert (await http.get("/api/v1/users/me")).status_code == 401
        refused = await http.get("/api/v1/users/me")

    assert_error(refused, 429, "rate_limited")
    assert refused.headers["retry-after"].isdigit()
    assert 1 <= int(refused.headers["retry-after"]) <= 60
    assert refused.headers["ratelimit-remaining"] == "0"
    assert refused.headers["x-content-type-options"] == "nosniff"


async def test_operations_and_docs_are_never_limited(app_factory: Callable[..., Any]) -> None:
    application = await app_factory(rate_limit_max=1, rate_limit_window="1m")
    async with make_client(application) as http:
        for path in ["/health/live", "/health/ready", "/metrics", "/openapi.json", "/docs"] * 3:
            response = await http.get(path)
            assert response.status_code == 200, path
            assert "ratelimit-limit" not in response.headers


async def test_each_signed_in_user_has_a_budget_of_their_own(
    app_factory: Callable[..., Any],
) -> None:
    # Windows are aligned to the clock: an hour makes a boundary between the steps unlikely.
    application = await app_factory(rate_limit_max=4, rate_limit_window="1h")
    async with make_client(application) as http:
        alice = await sign_up(http)  # register + login: the IP's 2 requests
        bob = await sign_up(http)  # 2 more: the IP's budget is spent
        for _ in range(4):
            assert (await http.get("/api/v1/users/me", headers=alice.headers)).status_code == 200
        alice_refused = await http.get("/api/v1/users/me", headers=alice.headers)
        bob_served = await http.get("/api/v1/users/me", headers=bob.headers)
        anonymous = await http.get("/api/v1/users/me")

    assert_error(alice_refused, 429, "rate_limited")
    assert bob_served.status_code == 200
    assert_error(anonymous, 429, "rate_limited")


async def test_a_forged_token_counts_against_the_ip(app_factory: Callable[..., Any]) -> None:
    application = await app_factory(rate_limit_max=2, rate_limit_window="1m")
    forged = {"Authorization": "Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJl"}
    async with make_client(application) as http:
        await http.get("/api/v1/users/me", headers=forged)
        await http.get("/api/v1/users/me")
        refused = await http.get("/api/v1/users/me", headers=forged)

    assert_error(refused, 429, "rate_limited")


async def test_different_addresses_have_different_budgets(
    app_factory: Callable[..., Any],
) -> None:
    application = await app_factory(rate_limit_max=1, rate_limit_window="1m")
    async with make_client(application, peer=("198.51.100.1", 1)) as first:
        assert (await first.get("/api/v1/users/me")).status_code == 401
        assert (await first.get("/api/v1/users/me")).status_code == 429
    async with make_client(application, peer=("198.51.100.2", 1)) as second:
        assert (await second.get("/api/v1/users/me")).status_code == 401


async def test_ipv6_clients_of_one_slash_64_share_a_budget(
    app_factory: Callable[..., Any],
) -> None:
    application = await app_factory(rate_limit_max=1, rate_limit_window="1m")
    async with make_client(application, peer=("2001:db8:1:2::1", 1)) as first:
        assert (await first.get("/api/v1/users/me")).status_code == 401
    async with make_client(application, peer=("2001:db8:1:2:ffff::9", 1)) as neighbour:
        assert (await neighbour.get("/api/v1/users/me")).status_code == 429


@pytest.mark.redis
@pytest.mark.skipif(not redis_reachable(), reason="needs Redis on 127.0.0.1:6379")
async def test_two_workers_on_one_redis_share_one_budget(
    app_factory: Callable[..., Any],
) -> None:
    worker_a: FastAPI = await app_factory(
        redis_url=SHARED_REDIS_URL, rate_limit_max=4, rate_limit_window="1m"
    )
    worker_b: FastAPI = await app_factory(
        redis_url=SHARED_REDIS_URL, rate_limit_max=4, rate_limit_window="1m"
    )
    peer = random_peer()
    statuses = []
    async with make_client(worker_a, peer=peer) as a, make_client(worker_b, peer=peer) as b:
        for http in (a, b, a, b, a, b):
            statuses.append((await http.get("/api/v1/users/me")).status_code)

    assert statuses == [401, 401, 401, 401, 429, 429]


async def test_with_redis_down_requests_are_served_and_limited_per_process(
    app_factory: Callable[..., Any],
) -> None:
    application = await app_factory(
        redis_url=f"redis://127.0.0.1:{closed_port()}/0", rate_limit_max=3, rate_limit_window="1m"
    )
    async with make_client(application) as http:
        statuses = [(await http.get("/api/v1/users/me")).status_code for _ in range(4)]
        health = await http.get("/health/live")

    assert statuses == [401, 401, 401, 429]
    assert health.status_code == 200


async def clear_of_the_hours_end() -> None:
    """Wait out the last seconds of a clock hour, so an hourly window holds the whole test."""
    left = 3600 - time.time() % 3600
    if left < 5:
        await asyncio.sleep(left + 0.1)


async def workers_sharing_redis(
    app_factory: Callable[..., Any], count: int, rate_limit_max: int
) -> list[Any]:
    """`count` apps as a deployment's workers: one budget an hour, shared through Redis."""
    return [
        await app_factory(
            redis_url=SHARED_REDIS_URL, rate_limit_max=rate_limit_max, rate_limit_window="1h"
        )
        for _ in range(count)
    ]


@pytest.mark.redis
@pytest.mark.skipif(not redis_reachable(), reason="needs Redis on 127.0.0.1:6379")
async def test_a_shared_budget_is_spent_in_leases_that_count_as_used(
    app_factory: Callable[..., Any],
) -> None:
    # 300 an hour: each worker takes 3 slots from Redis at a time (decision 185).
    worker_a, worker_b = await workers_sharing_redis(app_factory, 2, 300)
    peer = random_peer()
    await clear_of_the_hours_end()
    async with make_client(worker_a, peer=peer) as a, make_client(worker_b, peer=peer) as b:
        seen_by_a = [
            (await a.get("/api/v1/users/me")).headers["ratelimit-remaining"] for _ in range(4)
        ]
        first_of_b = (await b.get("/api/v1/users/me")).headers["ratelimit-remaining"]

    # One worker alone counts exactly; the slots it leased and left unspent count as used.
    assert seen_by_a == ["299", "298", "297", "296"]
    assert first_of_b == str(300 - 7)


@pytest.mark.redis
@pytest.mark.skipif(not redis_reachable(), reason="needs Redis on 127.0.0.1:6379")
async def test_workers_spending_leases_never_serve_past_the_budget(
    app_factory: Callable[..., Any],
) -> None:
    workers = await workers_sharing_redis(app_factory, 3, 200)
    peer = random_peer()
    await clear_of_the_hours_end()
    async with (
        make_client(workers[0], peer=peer) as a,
        make_client(workers[1], peer=peer) as b,
        make_client(workers[2], peer=peer) as c,
    ):
        statuses = [(await http.get("/api/v1/users/me")).status_code for http in (a, b, c) * 70]

    served = sum(1 for status in statuses if status != 429)
    # Never past the budget; early by at most each worker's unspent lease (2 slots).
    assert 200 - 3 * 2 <= served <= 200
    assert statuses[-1] == 429


@pytest.mark.redis
@pytest.mark.skipif(not redis_reachable(), reason="needs Redis on 127.0.0.1:6379")
async def test_a_burst_of_requests_takes_one_lease(app_factory: Callable[..., Any]) -> None:
    worker_a, worker_b = await workers_sharing_redis(app_factory, 2, 300)
    peer = random_peer()
    await clear_of_the_hours_end()
    async with make_client(worker_a, peer=peer) as a, make_client(worker_b, peer=peer) as b:
        # Twenty requests at once, none of which finds a lease: one of them takes it, the
        # rest wait for it rather than each taking a lease of its own.
        burst = await asyncio.gather(*(a.get("/api/v1/users/me") for _ in range(20)))
        first_of_b = (await b.get("/api/v1/users/me")).headers["ratelimit-remaining"]

    assert sorted(int(r.headers["ratelimit-remaining"]) for r in burst)[-1] == 299
    # Worker A took 3 slots from Redis, then 3 more at a time as it spent them: 21 at most.
    assert int(first_of_b) >= 300 - 21 - 1
