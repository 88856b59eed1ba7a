"""GET /events/stream from a real `parley serve` with two workers and Redis, read by a real
Server-Sent Events client: events reach every open stream whichever worker serves it, a
reconnection with Last-Event-ID misses and repeats nothing (after a worker restart too),
heartbeats flow when idle, tickets are single-use, and ending the login session closes its
streams.

Nothing here depends on the machine's speed: every wait is a poll with a generous deadline,
except the contract's own bound (a closed login session ends its streams within 5 s)."""

import json
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import anyio
import httpx
import pytest

from tests.conftest import PASSWORD
from tests.support.event_streams import (
    API,
    DEADLINE_S,
    User,
    call,
    log_in,
    new_session,
    open_stream,
    post,
    sign_up,
)
from tests.support.parley_server import (
    PARLEY,
    SQLITE_PASS_ONLY,
    ParleyServer,
    running_parley,
    start_parley,
)
from tests.support.servers import Redis, own_redis

pytestmark = [
    SQLITE_PASS_ONLY,
    pytest.mark.slow,
    pytest.mark.redis,
    pytest.mark.skipif(not PARLEY.exists(), reason="the parley command is not installed"),
]

CLOSE_BOUND_S = 5.0  # the contract: a closed login session ends its streams within 5 s
ADMIN_EMAIL = "stream-admin@example.com"


@pytest.fixture(scope="module")
def redis() -> Iterator[Redis]:
    with own_redis() as server:
        yield server


@pytest.fixture(scope="module")
def server(redis: Redis, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ParleyServer]:
    workdir = tmp_path_factory.mktemp("stream")
    env = {
        "REDIS_URL": redis.url,
        "EVENT_STREAM_HEARTBEAT": "1",
        "RATE_LIMIT_MAX": "100000",
        "FIRST_ADMIN_EMAIL": ADMIN_EMAIL,
        "FIRST_ADMIN_PASSWORD": PASSWORD,
        # Short server timeouts, which a stream held open longer must not trip over.
        "HEADER_TIMEOUT": "2",
        "BODY_TIMEOUT": "2",
        "KEEPALIVE_TIMEOUT": "1",
    }
    with running_parley(workdir, workers=2, env=env) as running:
        yield running


async def test_events_reach_the_open_streams_of_every_worker(server: ParleyServer) -> None:
    alice = sign_up(server.base)
    sid = new_session(server.base, alice)
    async with (
        open_stream(server.base, alice, headers={"Accept-Encoding": "gzip"}) as one,
        open_stream(server.base, alice) as two,
        open_stream(server.base, alice) as three,
        open_stream(server.base, alice, types="message.created", session_id=sid) as four,
    ):
        headers = one.response.headers
        assert headers["content-type"].startswith("text/event-stream")
        assert headers["cache-control"] == "no-store"
        assert headers["x-accel-buffering"] == "no"
        assert "content-encoding" not in headers  # never gzipped, never buffered
        assert "x-request-id" in headers

        # Posted on connections of their own: the two workers share them and the streams.
        posted = [post(server.base, alice, sid, f"Live {i}") for i in range(6)]
        renamed = call(server.base, "PATCH", f"/sessions/{sid}", alice, json={"title": "New"})
        assert renamed.status_code == 200

        for stream in (one, two, three):
            got = await stream.take(7)
            assert [e.event for e in got] == ["message.created"] * 6 + ["session.updated"]
            assert [e.json()["data"] for e in got[:6]] == posted
            ids = [e.id for e in got]
            assert ids == sorted(ids) and len(set(ids)) == 7
            assert all(e.json()["id"] == e.id and e.json()["type"] == e.event for e in got)
        filtered = await four.take(6)
        assert [e.json()["data"] for e in filtered] == posted


async def test_a_reconnection_with_last_event_id_misses_and_repeats_nothing(
    server: ParleyServer,
) -> None:
    alice = sign_up(server.base)
    sid = new_session(server.base, alice)
    async with open_stream(server.base, alice) as stream:
        post(server.base, alice, sid, "first")
        post(server.base, alice, sid, "second")
        first = await stream.take(2)
    last_seen = first[-1].id
    missed = [post(server.base, alice, sid, f"while away {i}") for i in range(3)]
    async with open_stream(server.base, alice, headers={"Last-Event-ID": last_seen}) as again:
        got = await again.take(3)
        assert [e.json()["data"] for e in got] == missed
        later = post(server.base, alice, sid, "after")
        assert [e.json()["data"] for e in await again.take(1)] == [later]
    # Without Last-Event-ID a stream starts with the next event, not the history.
    async with open_stream(server.base, alice) as fresh:
        newest = post(server.base, alice, sid, "newest")
        assert [e.json()["data"] for e in await fresh.take(1)] == [newest]


async def test_an_idle_stream_sends_heartbeats_and_outlives_the_server_timeouts(
    server: ParleyServer,
) -> None:
    alice = sign_up(server.base)
    sid = new_session(server.base, alice)
    async with (
        httpx.AsyncClient(base_url=server.base, timeout=DEADLINE_S) as http,
        http.stream("GET", f"{API}/events/stream", headers=alice.headers) as response,
    ):
        assert response.status_code == 200
        lines = response.aiter_lines()
        comments = 0
        with anyio.fail_after(DEADLINE_S):
            # The opening comment, then heartbeats (one a second here) for longer than the
            # header, body and keep-alive timeouts (2, 2 and 1 s here) together.
            while comments < 7:
                line = await anext(lines)
                assert not line.startswith(("data:", "id:", "event:"))  # nothing happened
                comments += line.startswith(":")
            posted = post(server.base, alice, sid, "still there")
            while not (line := await anext(lines)).startswith("data:"):
                pass
        assert json.loads(line.removeprefix("data:"))["data"] == posted


async def test_ending_the_login_session_closes_its_streams(server: ParleyServer) -> None:
    email = f"close-{uuid.uuid4().hex[:12]}@example.com"
    alice = sign_up(server.base, email)
    with httpx.Client(base_url=server.base, timeout=DEADLINE_S) as http:
        other = log_in(http, email)  # a second login session of the same user
    async with (
        open_stream(server.base, alice) as mine,
        open_stream(server.base, other) as theirs,
    ):
        assert call(server.base, "POST", "/auth/logout", alice).status_code == 200
        started = time.monotonic()
        await mine.assert_ends(within=CLOSE_BOUND_S)
        assert time.monotonic() - started < CLOSE_BOUND_S
        # The other login session's stream stays open and live.
        sid = new_session(server.base, other)
        assert (await theirs.take(1))[0].event == "session.created"
        # Revoked from elsewhere: DELETE /auth/sessions/{id}.
        with httpx.Client(base_url=server.base, timeout=DEADLINE_S) as http:
            third = log_in(http, email)
        revoked = call(server.base, "DELETE", f"/auth/sessions/{other.login_session_id}", third)
        assert revoked.status_code == 200, revoked.text
        await theirs.assert_ends(within=CLOSE_BOUND_S)
        assert sid


async def test_a_password_change_or_a_disabled_account_closes_streams(
    server: ParleyServer,
) -> None:
    email = f"close-{uuid.uuid4().hex[:12]}@example.com"
    alice = sign_up(server.base, email)
    with httpx.Client(base_url=server.base, timeout=DEADLINE_S) as http:
        other = log_in(http, email)
        admin = log_in(http, ADMIN_EMAIL)
    async with open_stream(server.base, other) as stream:
        changed = call(
            server.base,
            "POST",
            "/auth/password/change",
            alice,
            json={"current_password": PASSWORD, "new_password": "another horse battery staple"},
        )
        assert changed.status_code == 200, changed.text
        await stream.assert_ends(within=CLOSE_BOUND_S)  # the other login sessions end
    async with open_stream(server.base, alice) as stream:
        me = call(server.base, "GET", "/users/me", alice).json()["data"]["id"]
        disabled = call(server.base, "PATCH", f"/users/{me}", admin, json={"is_active": False})
        assert disabled.status_code == 200, disabled.text
        await stream.assert_ends(within=CLOSE_BOUND_S)


async def test_a_ticket_opens_one_stream_once(server: ParleyServer) -> None:
    alice = sign_up(server.base)
    issued = call(server.base, "POST", "/events/ticket", alice)
    assert issued.status_code == 201, issued.text
    ticket = issued.json()["data"]["ticket"]
    async with open_stream(server.base, None, ticket=ticket) as stream:
        sid = new_session(server.base, alice)
        assert (await stream.take(1))[0].json()["session_id"] == sid
        # Used: refused, whichever worker is asked.
        for _ in range(4):
            reused = call(server.base, "GET", "/events/stream", params={"ticket": ticket})
            assert reused.status_code == 401
            assert reused.json()["error"]["code"] == "unauthorized"
            assert reused.headers["www-authenticate"] == "Bearer"
        # The ticket's stream belongs to the login session that asked for it.
        assert call(server.base, "POST", "/auth/logout", alice).status_code == 200
        await stream.assert_ends(within=CLOSE_BOUND_S)
    unknown = call(server.base, "GET", "/events/stream", params={"ticket": "x" * 43})
    assert unknown.status_code == 401


async def test_a_stream_refuses_what_it_cannot_serve(server: ParleyServer) -> None:
    alice = sign_up(server.base)
    anonymous = call(server.base, "GET", "/events/stream")
    assert anonymous.status_code == 401 and anonymous.headers["www-authenticate"] == "Bearer"
    malformed = call(
        server.base, "GET", "/events/stream", alice, headers={"Last-Event-ID": "not-an-id"}
    )
    assert malformed.status_code == 400, malformed.text
    assert malformed.json()["error"]["code"] == "bad_request"
    unknown = call(server.base, "GET", "/events/stream", alice, params={"types": "nope"})
    assert unknown.status_code == 422
    assert unknown.json()["error"]["code"] == "validation_error"


async def test_streams_resume_after_a_worker_restart(redis: Redis, tmp_path: Path) -> None:
    env = {"REDIS_URL": redis.url, "EVENT_STREAM_HEARTBEAT": "1"}
    server = start_parley(tmp_path, workers=2, env=env)
    try:
        server.wait_until_serving()
        alice = sign_up(server.base)
        sid = new_session(server.base, alice)
        async with open_stream(server.base, alice) as stream:
            post(server.base, alice, sid, "before")
            (seen,) = await stream.take(1)
            # A stream open when the server stops does not hold the shutdown up.
            assert await anyio.to_thread.run_sync(server.terminate) == 0
            await stream.assert_ends(within=DEADLINE_S)
    finally:
        server.kill()
    server = start_parley(tmp_path, workers=2, env=env, port=server.port)
    try:
        server.wait_until_serving()
        after = [post(server.base, alice, sid, f"after {i}") for i in range(2)]
        async with open_stream(server.base, alice, headers={"Last-Event-ID": seen.id}) as again:
            assert [e.json()["data"] for e in await again.take(2)] == after
    finally:
        server.kill()


def new_key(base: str, user: User, scope: str) -> tuple[str, str]:
    """A new API key of the user: its id and the key."""
    created = call(base, "POST", "/api-keys", user, json={"name": "bot", "scope": scope})
    assert created.status_code == 201, created.text
    return created.json()["data"]["id"], created.json()["data"]["key"]


async def test_an_api_key_opens_a_stream_that_lives_as_long_as_the_key(
    server: ParleyServer,
) -> None:
    alice = sign_up(server.base)
    key_id, key = new_key(server.base, alice, "read")  # a GET: reading is enough
    sid = new_session(server.base, alice)
    async with (
        httpx.AsyncClient(base_url=server.base, timeout=DEADLINE_S) as http,
        http.stream("GET", f"{API}/events/stream", headers={"X-API-Key": key}) as response,
    ):
        assert response.status_code == 200
        lines = response.aiter_lines()
        comments = 0
        with anyio.fail_after(DEADLINE_S):
            # Heartbeats (one a second here) for several of the stream's checks of its key.
            while comments < 7:
                line = await anext(lines)
                comments += line.startswith(":")
            posted = post(server.base, alice, sid, "still open")
            while not (line := await anext(lines)).startswith("data:"):
                pass
        assert json.loads(line.removeprefix("data:"))["data"] == posted
        revoked = call(server.base, "DELETE", f"/api-keys/{key_id}", alice)
        assert revoked.status_code == 200, revoked.text
        with anyio.fail_after(CLOSE_BOUND_S):
            async for line in lines:
                assert not line.startswith("data:")
    refused = call(server.base, "GET", "/events/stream", headers={"X-API-Key": key})
    assert refused.status_code == 401


async def test_disabling_the_user_closes_the_streams_of_their_keys(server: ParleyServer) -> None:
    alice = sign_up(server.base)
    _key_id, key = new_key(server.base, alice, "write")
    with httpx.Client(base_url=server.base, timeout=DEADLINE_S) as http:
        admin = log_in(http, ADMIN_EMAIL)
    async with open_stream(server.base, None, headers={"Authorization": f"Bearer {key}"}) as stream:
        me = call(server.base, "GET", "/users/me", alice).json()["data"]["id"]
        disabled = call(server.base, "PATCH", f"/users/{me}", admin, json={"is_active": False})
        assert disabled.status_code == 200, disabled.text
        await stream.assert_ends(within=CLOSE_BOUND_S)
