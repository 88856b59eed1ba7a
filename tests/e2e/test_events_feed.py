"""GET /events, the catch-up feed: the caller's chat sessions' events, oldest first, resumed
after an event id; POST /events/ticket; and the purge of events past EVENT_RETENTION."""

from datetime import timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

import parley.events.outbox
import parley.events.repository
from parley.core.clock import utcnow
from parley.events.service import purge_expired
from tests.conftest import Account, assert_error
from tests.e2e.chat_helpers import API, new_session, post_text
from tests.e2e.test_event_log import logged


async def _feed(http: httpx.AsyncClient, owner: Account, **params: Any) -> httpx.Response:
    return await http.get(f"{API}/events", params=params, headers=owner.headers)


async def test_the_feed_pages_oldest_first_and_ends_with_a_null_cursor(
    client: httpx.AsyncClient, alice: Account
) -> None:
    sid = (await new_session(client, alice))["id"]
    for i in range(4):
        await post_text(client, alice, sid, f"Message {i}")
    seen: list[dict[str, Any]] = []
    cursor: str | None = None
    pages = 0
    while True:
        response = await _feed(client, alice, limit=2, **({"cursor": cursor} if cursor else {}))
        assert response.status_code == 200
        page = response.json()["data"]
        pages += 1
        seen.extend(page["items"])
        cursor = page["next_cursor"]
        if cursor is None:
            break
        assert cursor == page["items"][-1]["id"]  # a cursor is an event id
    assert pages == 3  # 5 events: 2, 2, then 1 with the newest and a null cursor
    assert [e["type"] for e in seen] == ["session.created"] + ["message.created"] * 4
    assert [e["data"]["content"] for e in seen[1:]] == [f"Message {i}" for i in range(4)]
    ids = [e["id"] for e in seen]
    assert all(len(i) == 20 and i.isdigit() for i in ids)
    assert ids == sorted(ids) and sorted(ids, key=int) == ids
    for event in seen:
        assert set(event) == {"id", "type", "created_at", "session_id", "data"}
        assert event["session_id"] == sid and event["created_at"].endswith("Z")
    # Resuming after the newest: nothing yet, and no cursor.
    last = (await _feed(client, alice, cursor=ids[-1])).json()["data"]
    assert last == {"items": [], "next_cursor": None}
    await post_text(client, alice, sid, "Later")
    later = (await _feed(client, alice, cursor=ids[-1])).json()["data"]["items"]
    assert [e["data"]["content"] for e in later] == ["Later"]
    # A full page that holds the newest event still ends the feed.
    exact = (await _feed(client, alice, cursor=ids[-2], limit=2)).json()["data"]
    assert len(exact["items"]) == 2 and exact["next_cursor"] is None


async def test_the_feed_filters_by_type_and_session(
    client: httpx.AsyncClient, alice: Account
) -> None:
    one = (await new_session(client, alice, title="One"))["id"]
    two = (await new_session(client, alice, title="Two"))["id"]
    await post_text(client, alice, one, "to one")
    await post_text(client, alice, two, "to two")
    renamed = await client.patch(
        f"{API}/sessions/{two}", json={"title": "Zwei"}, headers=alice.headers
    )
    assert renamed.status_code == 200

    messages = (await _feed(client, alice, types="message.created")).json()["data"]["items"]
    assert [e["data"]["content"] for e in messages] == ["to one", "to two"]
    both = await _feed(client, alice, types=" session.updated , message.created,")
    assert [e["type"] for e in both.json()["data"]["items"]] == [
        "message.created",
        "message.created",
        "session.updated",
    ]
    of_two = (await _feed(client, alice, session_id=two)).json()["data"]["items"]
    assert [e["type"] for e in of_two] == ["session.created", "message.created", "session.updated"]
    assert {e["session_id"] for e in of_two} == {two}
    combined = await _feed(client, alice, session_id=two, types="message.created")
    assert [e["data"]["content"] for e in combined.json()["data"]["items"]] == ["to two"]


async def test_each_user_sees_only_their_own_sessions_events(
    client: httpx.AsyncClient, alice: Account, bob: Account, admin: Account
) -> None:
    sid = (await new_session(client, alice))["id"]
    await post_text(client, alice, sid)
    assert len(await logged(client, alice)) == 2
    assert await logged(client, bob) == []
    # Another user's session filters to nothing, without telling whether it exists.
    assert (await _feed(client, bob, session_id=sid)).json()["data"]["items"] == []
    # Admins read everyone's sessions, but the feed is of the caller's own (decision 114).
    assert await logged(client, admin) == []


@pytest.mark.parametrize(
    "cursor",
    ["abc", "-1", "1.5", " 1", "1" * 21, "99999999999999999999", "١٢", "0x10"],
)
async def test_a_malformed_cursor_is_400(
    client: httpx.AsyncClient, alice: Account, cursor: str
) -> None:
    assert_error(await _feed(client, alice, cursor=cursor), 400, "bad_request")


async def test_bad_queries_are_refused(client: httpx.AsyncClient, alice: Account) -> None:
    body = assert_error(
        await _feed(client, alice, types="message.created,nope"), 422, "validation_error"
    )
    assert body["error"]["details"][0]["field"] == "query.types"
    assert "nope" not in str(body)  # nothing the client sent is echoed
    assert_error(await _feed(client, alice, session_id="not-a-uuid"), 422, "validation_error")
    assert_error(await _feed(client, alice, limit=0), 422, "validation_error")
    assert_error(await _feed(client, alice, limit=101), 422, "validation_error")
    unauthenticated = await client.get(f"{API}/events")
    assert_error(unauthenticated, 401, "unauthorized")
    assert unauthenticated.headers["www-authenticate"] == "Bearer"
    # A cursor of 0 is the start of the log.
    assert (await _feed(client, alice, cursor="0")).status_code == 200


async def test_a_ticket_is_issued_to_a_signed_in_caller(
    client: httpx.AsyncClient, alice: Account
) -> None:
    response = await client.post(f"{API}/events/ticket", headers=alice.headers)
    assert response.status_code == 201, response.text
    data = response.json()["data"]
    assert data["expires_in"] == 60 and len(data["ticket"]) >= 32
    again = (await client.post(f"{API}/events/ticket", headers=alice.headers)).json()["data"]
    assert again["ticket"] != data["ticket"]
    assert_error(await client.post(f"{API}/events/ticket"), 401, "unauthorized")


async def test_purge_removes_events_past_retention_and_ids_never_go_back(
    app: FastAPI,
    client: httpx.AsyncClient,
    alice: Account,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    database = app.state.resources.database
    retention = app.state.resources.settings.event_retention
    assert retention == 7 * 86400  # EVENT_RETENTION's default
    eight_days_ago = utcnow() - timedelta(days=8)
    monkeypatch.setattr(parley.events.outbox, "utcnow", lambda: eight_days_ago)
    old = [(await new_session(client, alice, title=f"Old {i}"))["id"] for i in range(5)]
    monkeypatch.undo()
    recent = (await new_session(client, alice, title="Recent"))["id"]

    # Purged in batches of the oldest ids, each its own transaction.
    monkeypatch.setattr(parley.events.repository, "PURGE_BATCH", 2)
    assert await purge_expired(database, retention=retention) == 5
    assert [e["session_id"] for e in await logged(client, alice)] == [recent]
    assert await purge_expired(database, retention=retention) == 0
    last_id = (await logged(client, alice))[-1]["id"]

    assert await purge_expired(database, retention=timedelta(0)) == 1  # the log is empty now
    assert await logged(client, alice) == []
    await post_text(client, alice, recent)
    after = await logged(client, alice)
    assert len(after) == 1 and after[0]["id"] > last_id  # an id is never handed out twice
    assert recent not in old


async def test_head_on_the_stream_answers_its_headers_and_ends(
    client: httpx.AsyncClient, alice: Account
) -> None:
    response = await client.head(f"{API}/events/stream", headers=alice.headers)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/event-stream")
    assert response.headers["cache-control"] == "no-store"
    assert response.headers["x-accel-buffering"] == "no"
    assert response.content == b""
    refused = await client.head(f"{API}/events/stream")
    assert refused.status_code == 401 and refused.headers["www-authenticate"] == "Bearer"
