"""The process's one reader of the event log (decision 177), driven through the live stream's
use case in the app's own process: a stream that stops taking its events delays no other
stream, and once it reads again it gets every event once, in order (its buffer overflowed and
it read the log itself). Streams over HTTP are tested in tests/integration/."""

import asyncio
from collections.abc import AsyncGenerator
from typing import Any
from uuid import UUID

import anyio
import orjson
import pytest
from fastapi import FastAPI

import parley.events.fanout
from parley.events.fanout import Filters, LiveEvent
from parley.events.service import EventService
from parley.models.user import User
from tests.conftest import Account, make_client, sign_up
from tests.e2e.chat_helpers import new_session, post_text

DEADLINE_S = 30.0
BUFFER = 4


def _open(app: FastAPI, user: User, account: Account) -> AsyncGenerator[LiveEvent | None, None]:
    resources = app.state.resources
    return EventService(resources.database).stream(
        user=user,
        login_session_id=UUID(account.session_id),
        after=0,
        filters=Filters(types=frozenset({"message.created"}), session_id=None),
        fanout=resources.event_fanout,
        cache=resources.access_cache,
        heartbeat=3600.0,
        stopping=lambda: False,
    )


async def _take(stream: AsyncGenerator[LiveEvent | None, None], count: int) -> list[LiveEvent]:
    got: list[LiveEvent] = []
    with anyio.fail_after(DEADLINE_S):
        while len(got) < count:
            event = await anext(stream)
            if event is not None:
                got.append(event)
    return got


async def test_a_stream_that_stops_reading_delays_no_other_and_misses_nothing(
    app: FastAPI, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(parley.events.fanout, "BUFFER", BUFFER)
    fanout = app.state.resources.event_fanout
    restarts: list[object] = []
    restart = fanout.restart
    monkeypatch.setattr(fanout, "restart", lambda s: (restarts.append(s), restart(s)))
    async with make_client(app) as http:
        alice = await sign_up(http)
        sid = (await new_session(http, alice))["id"]
        async with app.state.resources.database.sessions() as db:
            user = await db.get(User, UUID(alice.id))
        assert user is not None
        fast, slow = _open(app, user, alice), _open(app, user, alice)
        try:
            # Both streams joined the feed (nothing to catch up on) before the first post.
            first = [asyncio.ensure_future(_take(stream, 1)) for stream in (fast, slow)]
            await _joined(app, 2)
            await post_text(http, alice, sid, "first")
            assert [len(await taking) for taking in first] == [1, 1]
            posted: list[dict[str, Any]] = []
            for i in range(3 * BUFFER):
                posted.append(await post_text(http, alice, sid, f"burst {i}"))
                # The fast stream keeps up while the slow one takes nothing.
                (event,) = await _take(fast, 1)
                assert _content(event) == f"burst {i}"
            late = await _take(slow, 3 * BUFFER)
            assert [_content(e) for e in late] == [p["content"] for p in posted]
            more = await post_text(http, alice, sid, "after")
            assert [_content(e) for e in await _take(slow, 1)] == [more["content"]]
            assert [_content(e) for e in await _take(fast, 1)] == [more["content"]]
        finally:
            await fast.aclose()
            await slow.aclose()
    assert len(restarts) == 3  # two subscriptions, then the slow one's overflowed buffer
    assert not fanout._subscribers  # both left the feed


async def _joined(app: FastAPI, count: int) -> None:
    fanout = app.state.resources.event_fanout
    with anyio.fail_after(DEADLINE_S):
        # Subscribing leaves no signal to wait on but the subscriptions.
        while sum(len(s) for s in fanout._subscribers.values()) < count:  # noqa: ASYNC110
            await anyio.sleep(0.01)


def _content(event: LiveEvent) -> str:
    data = event.frame.split(b"\r\ndata: ", 1)[1].rstrip(b"\r\n")
    content: str = orjson.loads(data)["data"]["content"]
    return content
