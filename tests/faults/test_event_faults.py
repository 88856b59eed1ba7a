"""The event stream with Redis stopped: the log is the truth and Redis only the doorbell, so
streams on two workers of a real `parley serve` keep receiving every event, in order and once,
while Redis is down and after it is back; tickets, which live in Redis, are 503 meanwhile."""

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.event_streams import (
    call,
    new_session,
    open_stream,
    post,
    sign_up,
)
from tests.support.parley_server import PARLEY, ParleyServer, running_parley
from tests.support.servers import Redis, own_redis

pytestmark = [
    pytest.mark.slow,
    pytest.mark.redis,
    pytest.mark.skipif(not PARLEY.exists(), reason="the parley command is not installed"),
]


@pytest.fixture
def redis() -> Iterator[Redis]:
    with own_redis() as server:
        yield server


@pytest.fixture
def server(redis: Redis, tmp_path: Path) -> Iterator[ParleyServer]:
    env = {"REDIS_URL": redis.url, "RATE_LIMIT_MAX": "100000"}
    with running_parley(tmp_path, workers=2, env=env) as running:
        yield running


async def test_streams_lose_nothing_while_redis_is_down(server: ParleyServer, redis: Redis) -> None:
    alice = sign_up(server.base)
    sid = new_session(server.base, alice)
    async with (
        open_stream(server.base, alice) as one,
        open_stream(server.base, alice) as two,
        open_stream(server.base, alice) as three,
    ):
        posted = [post(server.base, alice, sid, "before")]
        redis.stop()
        # The rate limiter fails open and the access cache turns itself off (decisions 043,
        # 070): posting goes on, and so do the streams, from the log.
        posted += [post(server.base, alice, sid, f"while down {i}") for i in range(5)]
        ticket = call(server.base, "POST", "/events/ticket", alice)
        assert ticket.status_code == 503, ticket.text
        assert ticket.headers["retry-after"].isdigit()
        for stream in (one, two, three):
            got = await stream.take(len(posted))
            assert [e.json()["data"] for e in got] == posted

        redis.start()
        later = [post(server.base, alice, sid, f"after {i}") for i in range(3)]
        for stream in (one, two, three):
            got = await stream.take(len(later))
            assert [e.json()["data"] for e in got] == later
            ids = [e.id for e in stream.events]
            assert ids == sorted(ids) and len(set(ids)) == len(ids) == len(posted) + 3

    # With Redis back, tickets are issued again.
    issued = call(server.base, "POST", "/events/ticket", alice)
    assert issued.status_code == 201, issued.text
