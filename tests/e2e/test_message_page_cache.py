"""Pages of messages kept in a worker: a repeated page costs no query, and every change to its
session or to who may read it shows in the next page, in this worker and, through Redis, in
the others (decision 202)."""

import asyncio
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from parley.chats.page_cache import SETTLE_S
from parley.main import create_app
from tests.conftest import Account, assert_error, make_admin, make_client, sign_up
from tests.e2e.chat_helpers import PNG, new_session, post_text, upload
from tests.e2e.test_access_cache import REDIS_URL, _redis_up, _wait_active
from tests.support.statements import statements_sent

API = "/api/v1"
NO_CACHE = {"Cache-Control": "no-cache"}


def _page(sid: str) -> str:
    return f"{API}/sessions/{sid}/messages"


async def _contents(http: httpx.AsyncClient, owner: Account, sid: str, **params: Any) -> list[str]:
    response = await http.get(_page(sid), params=params, headers=owner.headers)
    assert response.status_code == 200, response.text
    return [item["content"] for item in response.json()["data"]["items"]]


async def _conversation(http: httpx.AsyncClient, owner: Account, *contents: str) -> str:
    sid: str = (await new_session(http, owner))["id"]
    for content in contents:
        await post_text(http, owner, sid, content)
    return sid


async def test_a_repeated_page_needs_no_query(
    app: FastAPI, client: httpx.AsyncClient, alice: Account
) -> None:
    sid = await _conversation(client, alice, "one")
    first = await client.get(_page(sid), headers=alice.headers)
    with statements_sent(app) as sent:
        again = await client.get(_page(sid), headers=alice.headers)
    assert sent.lean == [] and sent.orm == []
    assert again.content == first.content
    # Another page size, order or query is another page: it is read.
    with statements_sent(app) as sent:
        assert await _contents(client, alice, sid, order="desc") == ["one"]
    assert len(sent.lean) == 1


async def test_no_cache_asks_the_database(
    app: FastAPI, client: httpx.AsyncClient, alice: Account
) -> None:
    sid = await _conversation(client, alice, "one")
    kept = await client.get(_page(sid), headers=alice.headers)
    with statements_sent(app) as sent:
        fresh = await client.get(_page(sid), headers={**alice.headers, **NO_CACHE})
    assert len(sent.lean) == 1, sent.lean
    assert fresh.content == kept.content


async def test_every_change_to_a_session_shows_in_its_next_page(
    client: httpx.AsyncClient, alice: Account
) -> None:
    sid = (await new_session(client, alice))["id"]
    first = await post_text(client, alice, sid, "one")
    assert await _contents(client, alice, sid) == ["one"]
    # A text post (the lean path).
    await post_text(client, alice, sid, "two")
    assert await _contents(client, alice, sid) == ["one", "two"]
    # A media message (the unit of work's path).
    assert (await upload(client, alice, sid, PNG, content="three")).status_code == 201
    assert len(await _contents(client, alice, sid)) == 3
    # A deleted message.
    deleted = await client.delete(f"{API}/messages/{first['id']}", headers=alice.headers)
    assert deleted.status_code == 200, deleted.text
    assert (await _contents(client, alice, sid))[0] == "two"
    # A deleted session.
    assert (await client.delete(f"{API}/sessions/{sid}", headers=alice.headers)).status_code == 200
    assert_error(await client.get(_page(sid), headers=alice.headers), 404, "not_found")


async def test_a_deleted_owner_takes_an_admins_kept_pages_with_it(
    client: httpx.AsyncClient, alice: Account, admin: Account
) -> None:
    sid = await _conversation(client, alice, "one")
    assert await _contents(client, admin, sid) == ["one"]  # kept for the admin
    gone = await client.delete(f"{API}/users/{alice.id}", headers=admin.headers)
    assert gone.status_code == 200, gone.text
    assert_error(await client.get(_page(sid), headers=admin.headers), 404, "not_found")


async def test_without_a_trusted_channel_no_page_is_kept(
    app_factory: Callable[..., Any],
) -> None:
    # One of several workers with no Redis: nothing would tell it of the others' writes.
    lone = create_app((await app_factory()).state.resources.settings, single_worker=False)
    async with lone.router.lifespan_context(lone), make_client(lone) as http:
        owner = await sign_up(http)
        sid = await _conversation(http, owner, "one")
        await http.get(_page(sid), headers=owner.headers)
        with statements_sent(lone) as sent:
            assert await _contents(http, owner, sid) == ["one"]
        assert len(sent.lean) == 1, sent.lean


@pytest.mark.redis
@pytest.mark.skipif(not _redis_up(), reason="needs Redis on 127.0.0.1:6379")
async def test_a_post_in_one_worker_reaches_the_pages_kept_by_another(
    app_factory: Callable[..., Any],
) -> None:
    worker_a: FastAPI = await app_factory(redis_url=REDIS_URL)
    worker_b: FastAPI = await app_factory(redis_url=REDIS_URL)
    for worker in (worker_a, worker_b):
        await _wait_settled(worker)
    async with make_client(worker_a) as a, make_client(worker_b) as b:
        owner = await sign_up(a)
        sid = await _conversation(a, owner, "one")
        assert await _contents(b, owner, sid) == ["one"]  # kept in B
        with statements_sent(worker_b) as sent:
            assert await _contents(b, owner, sid) == ["one"]
        assert sent.lean == []
        await post_text(a, owner, sid, "two")
        # Both workers share this process's loop here, so B reads the message from Redis on
        # its next turn; in a worker of its own it has, before the client's next request.
        for _ in range(100):
            if await _contents(b, owner, sid) == ["one", "two"]:
                break
            await asyncio.sleep(0.01)
        else:
            raise AssertionError("worker B kept serving the page from before the post")
        # An admin's page kept in B goes when A deletes the session's owner.
        admin = await make_admin(worker_b, b)
        assert await _contents(b, admin, sid) == ["one", "two"]
        deleted = await a.delete(f"{API}/users/{owner.id}", headers=admin.headers)
        assert deleted.status_code == 200, deleted.text
        for _ in range(100):
            if (await b.get(_page(sid), headers=admin.headers)).status_code == 404:
                break
            await asyncio.sleep(0.01)
        else:
            raise AssertionError("worker B kept serving a deleted user's session")


@pytest.mark.redis
@pytest.mark.skipif(not _redis_up(), reason="needs Redis on 127.0.0.1:6379")
async def test_a_worker_that_joins_keeps_no_page_from_before_a_lone_workers_post(
    app_factory: Callable[..., Any],
) -> None:
    # Alone on the channel, a worker tells no one of its changes.
    worker_a: FastAPI = await app_factory(redis_url=REDIS_URL)
    await _wait_settled(worker_a)
    for _ in range(300):
        if worker_a.state.resources.access_cache.alone_within(SETTLE_S):
            break
        await asyncio.sleep(0.01)
    else:
        raise AssertionError("a lone worker never found itself alone on the channel")
    async with make_client(worker_a) as a:
        owner = await sign_up(a)
        sid = await _conversation(a, owner, "one")
        # A second worker joins and reads the page at once; A posts before it hears of B.
        worker_b: FastAPI = await app_factory(redis_url=REDIS_URL)
        await _wait_active(worker_b)
        async with make_client(worker_b) as b:
            assert await _contents(b, owner, sid) == ["one"]
            await post_text(a, owner, sid, "two")
            assert await _contents(b, owner, sid) == ["one", "two"]
            # Once both have settled, A tells B of its changes.
            await _wait_settled(worker_b)
            for _ in range(300):
                if not worker_a.state.resources.access_cache.alone_within(SETTLE_S):
                    break
                await asyncio.sleep(0.01)
            assert await _contents(b, owner, sid) == ["one", "two"]  # kept in B
            await post_text(a, owner, sid, "three")
            for _ in range(100):
                if await _contents(b, owner, sid) == ["one", "two", "three"]:
                    break
                await asyncio.sleep(0.01)
            else:
                raise AssertionError("worker B kept serving the page from before the post")


async def _wait_settled(app: FastAPI) -> None:
    """Until the worker keeps pages: its channel trusted for SETTLE_S."""
    await _wait_active(app)
    for _ in range(300):
        if app.state.resources.access_cache.trusted_for(SETTLE_S):
            return
        await asyncio.sleep(0.01)
    raise AssertionError("the channel was not trusted for long enough")
