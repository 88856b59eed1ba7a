"""GET /events/stream when many streams share the process's one reader of the log (decision
177), against a real `parley serve` with two workers and Redis: each stream sees only its
user's events and what its filters keep, and a stream resuming from an old Last-Event-ID while
posts go on joins the live feed without a gap or a repeat."""

from collections.abc import Iterator
from contextlib import AsyncExitStack

import anyio
import pytest

from tests.support.event_streams import (
    Stream,
    call,
    new_session,
    open_stream,
    post,
    sign_up,
)
from tests.support.parley_server import PARLEY, SQLITE_PASS_ONLY, ParleyServer, running_parley
from tests.support.servers import Redis, own_redis

pytestmark = [
    SQLITE_PASS_ONLY,
    pytest.mark.slow,
    pytest.mark.redis,
    pytest.mark.skipif(not PARLEY.exists(), reason="the parley command is not installed"),
]


@pytest.fixture(scope="module")
def redis() -> Iterator[Redis]:
    with own_redis() as server:
        yield server


@pytest.fixture(scope="module")
def server(redis: Redis, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ParleyServer]:
    env = {"REDIS_URL": redis.url, "EVENT_STREAM_HEARTBEAT": "5", "RATE_LIMIT_MAX": "100000"}
    with running_parley(tmp_path_factory.mktemp("fanout"), workers=2, env=env) as running:
        yield running


async def test_many_streams_of_two_users_see_only_their_own_filtered_events(
    server: ParleyServer,
) -> None:
    base = server.base
    users = [sign_up(base), sign_up(base)]
    sessions = [(new_session(base, user), new_session(base, user)) for user in users]
    async with AsyncExitStack() as stack:
        streams: list[list[tuple[str, Stream]]] = []
        for user, (one, _two) in zip(users, sessions, strict=True):
            kinds = {
                "all": {},
                "messages": {"types": "message.created"},
                "one": {"session_id": one},
                "renames": {"types": "session.updated,message.deleted"},
            }
            streams.append(
                [
                    (kind, await stack.enter_async_context(open_stream(base, user, **params)))
                    for kind, params in kinds.items()
                    for _copy in range(3)
                ]
            )
        # Interleaved: each user's messages to both chat sessions, and a rename.
        for i in range(3):
            for user, (one, two) in zip(users, sessions, strict=True):
                post(base, user, one, f"one {i}")
                post(base, user, two, f"two {i}")
        for user, (_one, two) in zip(users, sessions, strict=True):
            renamed = call(base, "PATCH", f"/sessions/{two}", user, json={"title": "Renamed"})
            assert renamed.status_code == 200, renamed.text
        # Last, an event every stream keeps: nothing foreign can hide before it.
        for user, (one, _two) in zip(users, sessions, strict=True):
            call(base, "PATCH", f"/sessions/{one}", user, json={"title": "Last"})
        for user, (one, two), user_streams in zip(users, sessions, streams, strict=True):
            messages = [m for i in range(3) for m in ((one, f"one {i}"), (two, f"two {i}"))]
            expected = {
                "all": [("message.created", s, c) for s, c in messages]
                + [("session.updated", two, None), ("session.updated", one, None)],
                "messages": [("message.created", s, c) for s, c in messages],
                "one": [("message.created", s, c) for s, c in messages if s == one]
                + [("session.updated", one, None)],
                "renames": [("session.updated", two, None), ("session.updated", one, None)],
            }
            for kind, stream in user_streams:
                want = expected[kind]
                got = await stream.take(len(want))
                seen = [
                    (e.event, e.json()["session_id"], e.json()["data"].get("content")) for e in got
                ]
                assert seen == want, kind
            # "messages" streams see no final rename: one more post shows nothing came between.
            posted = post(base, user, one, "final")
            for kind, stream in user_streams:
                if kind != "renames":
                    (event,) = await stream.take(1)
                    assert event.json()["data"] == posted


async def test_a_stream_resuming_from_an_old_id_joins_the_live_feed_without_gap_or_repeat(
    server: ParleyServer,
) -> None:
    base = server.base
    alice = sign_up(base)
    sid = new_session(base, alice)
    history = [post(base, alice, sid, f"old {i}") for i in range(12)]
    async with open_stream(base, alice, headers={"Last-Event-ID": "0"}) as witness:
        old = await witness.take(1 + len(history))  # session.created, then the history
        assert [e.json()["data"].get("content") for e in old[1:]] == [h["content"] for h in history]
        resume_after = old[3].id
        live: list[str] = []

        async def keep_posting() -> None:
            for i in range(20):
                content = f"live {i}"
                await anyio.to_thread.run_sync(post, base, alice, sid, content)
                live.append(content)

        async with anyio.create_task_group() as posting:
            posting.start_soon(keep_posting)
            async with open_stream(base, alice, headers={"Last-Event-ID": resume_after}) as late:
                got = await late.take(len(old) - 4 + 20)
        everything = old + await witness.take(20)
    assert live == [f"live {i}" for i in range(20)]
    assert [e.id for e in got] == [e.id for e in everything[4:]]  # no gap, no repeat
    assert [e.json()["data"]["content"] for e in got][-20:] == live
