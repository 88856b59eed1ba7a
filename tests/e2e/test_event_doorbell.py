"""The doorbell that wakes event streams: a commit on one application rings the bell of another
through Redis (two apps stand for two workers), and a bell that cannot hear every commit makes
its streams poll the log every second."""

from collections.abc import Callable, Iterator
from typing import Any

import anyio
import pytest
from fastapi import FastAPI

from parley.events.bell import TRUSTED_POLL_S, UNTRUSTED_POLL_S
from tests.conftest import make_client, sign_up
from tests.e2e.chat_helpers import new_session, post_text
from tests.support.servers import Redis, own_redis

DEADLINE_S = 20.0

pytestmark = pytest.mark.redis


@pytest.fixture
def redis() -> Iterator[Redis]:
    with own_redis() as server:
        yield server


async def _trusted(app: FastAPI) -> None:
    with anyio.fail_after(DEADLINE_S):
        # The bell's state is set by its subscriber task; nothing signals it.
        while app.state.resources.doorbell.poll_interval != TRUSTED_POLL_S:  # noqa: ASYNC110
            await anyio.sleep(0.05)


async def test_a_commit_on_one_worker_rings_the_others_through_redis(
    app_factory: Callable[..., Any], redis: Redis
) -> None:
    here: FastAPI = await app_factory(redis_url=redis.url)
    there: FastAPI = await app_factory(redis_url=redis.url)
    await _trusted(here)
    await _trusted(there)
    async with make_client(here) as http:
        alice = await sign_up(http)
        sid = (await new_session(http, alice))["id"]
        rung_there = there.state.resources.doorbell.current()
        rung_here = here.state.resources.doorbell.current()
        await post_text(http, alice, sid)  # the lean path rings too
    assert rung_here.is_set()  # at once, in the committing process
    assert await there.state.resources.doorbell.wait(rung_there, DEADLINE_S)


async def test_a_bell_that_may_miss_commits_makes_streams_poll(
    app_factory: Callable[..., Any], redis: Redis
) -> None:
    port = redis.port
    redis.stop()
    try:
        unreachable: FastAPI = await app_factory(redis_url=f"redis://127.0.0.1:{port}/0")
        assert unreachable.state.resources.doorbell.poll_interval == UNTRUSTED_POLL_S
    finally:
        redis.start()
    await _trusted(unreachable)  # subscribed once Redis is back
