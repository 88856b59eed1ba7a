"""The conversation's hot paths run on the lean path: one statement on the driver connection
where the database allows it, and answers byte for byte what the ORM use cases render."""

import asyncio
from datetime import datetime
from typing import Any
from uuid import UUID

import httpx
import pytest
from fastapi import FastAPI

from parley.chats.errors import ChatSessionNotFound, NotChatSessionOwner
from parley.chats.schemas import ChatSessionRead, MessageRead
from parley.chats.service import ChatService
from parley.core.cursors import InvalidCursor
from parley.core.schemas import Envelope, Page
from parley.db.uow import UnitOfWork
from parley.http.errors import error_response
from parley.media.service import MediaService
from parley.models.user import User
from tests.conftest import Account, assert_error, sign_up
from tests.e2e.chat_helpers import API, MISSING, PDF, PNG, new_session, post_text, upload
from tests.support.statements import statements_sent


async def _warm(http: httpx.AsyncClient, who: Account) -> None:
    """One authenticated request first, so the caller's login session is in the access cache."""
    assert (await http.get(f"{API}/sessions", headers=who.headers)).status_code == 200


async def _conversation(http: httpx.AsyncClient, who: Account) -> str:
    """A session with text, media with and without caption, and a vendor."""
    sid: str = (await new_session(http, who, title=None))["id"]
    await post_text(http, who, sid, "Hello there", sender="customer", phone_number="+14155552671")
    assert (await upload(http, who, sid, PNG, filename="a.png", content="look")).status_code == 201
    await post_text(http, who, sid, "Price of 100% wool?")
    assert (await upload(http, who, sid, PDF, filename="terms.pdf")).status_code == 201
    await post_text(http, who, sid, 'Quotes " \\ and é, ünïcode \u2028 and\nlines')
    vendor = await http.post(
        f"{API}/sessions/{sid}/vendor",
        json={"name": "Acme", "phone_number": "+14155552671"},
        headers=who.headers,
    )
    assert vendor.status_code == 201, vendor.text
    return sid


async def _user(app: FastAPI, account: Account) -> User:
    async with app.state.resources.database.sessions() as db:
        user = await db.get(User, UUID(account.id))
    assert user is not None
    return user


async def _with_orm(app: FastAPI, use_case: str, *args: Any, **kwargs: Any) -> Any:
    """Run a ChatService use case (the ORM path) in its own unit of work."""
    resources = app.state.resources
    async with resources.database.sessions() as db:
        uow = UnitOfWork(db)
        media = MediaService(uow, storage=resources.media, max_bytes=1)
        chats = ChatService(
            uow, cursors=resources.cursors, media=media, pages=resources.message_pages
        )
        return await getattr(chats, use_case)(*args, **kwargs)


def _message_page(rows: list[Any], next_cursor: str | None) -> bytes:
    items = [MessageRead.model_validate(row) for row in rows]
    page = Envelope[Page[MessageRead]](
        message="Messages", data=Page(items=items, next_cursor=next_cursor)
    )
    return page.model_dump_json().encode()


# Query counts


async def test_a_message_page_is_one_statement_on_the_driver(
    app: FastAPI, client: httpx.AsyncClient, alice: Account
) -> None:
    sid = await _conversation(client, alice)
    await _warm(client, alice)
    for params in ({}, {"order": "desc", "limit": 2}, {"q": "WOOL"}):
        with statements_sent(app) as sent:
            response = await client.get(
                f"{API}/sessions/{sid}/messages", params=params, headers=alice.headers
            )
        assert response.status_code == 200
        assert response.json()["data"]["items"]
        assert len(sent.lean) == 1, sent.lean
        assert "EXISTS" in sent.lean[0]  # the ownership check is in the same statement
        assert sent.orm == []


async def test_an_empty_message_page_asks_once_more_whether_the_session_is_visible(
    app: FastAPI, client: httpx.AsyncClient, alice: Account, bob: Account
) -> None:
    sid = (await new_session(client, alice))["id"]
    await _warm(client, alice)
    await _warm(client, bob)
    with statements_sent(app) as sent:
        empty = await client.get(f"{API}/sessions/{sid}/messages", headers=alice.headers)
    assert empty.status_code == 200
    assert len(sent.lean) == 2 and sent.orm == []
    with statements_sent(app) as sent:
        hidden = await client.get(f"{API}/sessions/{sid}/messages", headers=bob.headers)
    assert_error(hidden, 404, "not_found")
    assert len(sent.lean) == 2 and sent.orm == []


async def test_reading_and_listing_sessions_are_one_statement_each(
    app: FastAPI, client: httpx.AsyncClient, alice: Account
) -> None:
    sid = await _conversation(client, alice)
    for n in range(3):
        await new_session(client, alice, title=f"Other {n}")
    await _warm(client, alice)
    first = (await client.get(f"{API}/sessions", params={"limit": 2}, headers=alice.headers)).json()
    cursor = first["data"]["next_cursor"]
    requests = [
        (f"/sessions/{sid}", {}),
        ("/sessions", {}),
        ("/sessions", {"q": "other", "limit": 2}),
        ("/sessions", {"cursor": cursor, "limit": 2}),
    ]
    for path, params in requests:
        with statements_sent(app) as sent:
            response = await client.get(f"{API}{path}", params=params, headers=alice.headers)
        assert response.status_code == 200, (path, params)
        assert len(sent.lean) == 1, (path, params, sent.lean)
        assert sent.orm == []


async def test_posting_a_text_message_takes_the_fewest_statements_the_database_allows(
    app: FastAPI, client: httpx.AsyncClient, alice: Account, dialect: str
) -> None:
    sid = (await new_session(client, alice))["id"]
    await _warm(client, alice)
    with statements_sent(app) as sent:
        posted = await post_text(client, alice, sid, "One round trip")
    assert sent.orm == []
    if dialect == "postgresql":
        # Lock, claim, count, insert and log the event in one statement, its own transaction.
        assert len(sent.lean) == 1 and sent.transaction == [], sent
    elif dialect == "sqlite":
        # BEGIN IMMEDIATE, claim, insert, the event, COMMIT.
        assert len(sent.lean) == 3, sent.lean
    else:
        # Claim, insert, the event writers' lock, the event, COMMIT.
        assert len(sent.lean) == 4, sent.lean
    read = (await client.get(f"{API}/sessions/{sid}", headers=alice.headers)).json()["data"]
    assert read["message_count"] == 1
    assert read["last_message_at"] == posted["created_at"]
    assert read["updated_at"] == posted["created_at"]


# The same bytes as the ORM path


async def test_message_pages_are_the_bytes_the_orm_path_renders(
    app: FastAPI, client: httpx.AsyncClient, alice: Account, admin: Account
) -> None:
    sid = await _conversation(client, alice)
    session_id = UUID(sid)
    owner = await _user(app, alice)
    for viewer_account in (alice, admin):
        viewer = owner if viewer_account is alice else None
        for order in ("asc", "desc"):
            for q in (None, "o", "100%", "É"):
                params: dict[str, Any] = {"limit": 2, "order": order}
                if q is not None:
                    params["q"] = q
                cursor: str | None = None
                while True:
                    query = {**params, **({"cursor": cursor} if cursor else {})}
                    with statements_sent(app) as sent:
                        response = await client.get(
                            f"{API}/sessions/{sid}/messages",
                            params=query,
                            headers=viewer_account.headers,
                        )
                    assert response.status_code == 200
                    assert sent.lean  # the caller's check may still read login sessions
                    assert not [s for s in sent.orm if "messages" in s or "chat_sessions" in s]
                    reader = viewer or owner
                    rows, next_cursor = await _with_orm(
                        app,
                        "list_messages",
                        session_id,
                        viewer=reader,
                        limit=2,
                        cursor=cursor,
                        descending=order == "desc",
                        q=q,
                    )
                    assert response.content == _message_page(rows, next_cursor), query
                    cursor = next_cursor
                    if cursor is None:
                        break


async def test_session_reads_and_pages_are_the_bytes_the_orm_path_renders(
    app: FastAPI, client: httpx.AsyncClient, alice: Account
) -> None:
    sid = await _conversation(client, alice)
    for n in range(4):
        await new_session(client, alice, title=f"Shop {n} 50%_off")
    owner = await _user(app, alice)

    read = await client.get(f"{API}/sessions/{sid}", headers=alice.headers)
    expected = await _with_orm(app, "get_session", UUID(sid), viewer=owner)
    body = Envelope[ChatSessionRead](
        message="Session", data=ChatSessionRead.model_validate(expected)
    )
    assert read.content == body.model_dump_json().encode()

    await new_session(client, alice, title="École d'été")
    for q in (None, "SHOP", "50%_", "ÉCOLE", "ét"):
        cursor: str | None = None
        while True:
            params: dict[str, Any] = {"limit": 2, **({"q": q} if q else {})}
            if cursor:
                params["cursor"] = cursor
            response = await client.get(f"{API}/sessions", params=params, headers=alice.headers)
            rows, next_cursor = await _with_orm(
                app, "list_sessions", owner=owner, limit=2, cursor=cursor, q=q
            )
            items = [ChatSessionRead.model_validate(row) for row in rows]
            listed = Envelope[Page[ChatSessionRead]](
                message="Sessions", data=Page(items=items, next_cursor=next_cursor)
            )
            assert response.content == listed.model_dump_json().encode(), params
            cursor = next_cursor
            if cursor is None:
                break


async def test_a_posted_message_is_the_bytes_its_read_renders(
    app: FastAPI, client: httpx.AsyncClient, alice: Account
) -> None:
    sid = (await new_session(client, alice, title=None))["id"]
    response = await client.post(
        f"{API}/sessions/{sid}/messages",
        json={"content": "  Trimmed é  ", "sender": "bot", "phone_number": "+14155552671"},
        headers=alice.headers,
    )
    assert response.status_code == 201
    posted = response.json()["data"]
    owner = await _user(app, alice)
    message = await _with_orm(app, "get_message", UUID(posted["id"]), viewer=owner)
    body = Envelope[MessageRead](message="Message posted", data=MessageRead.model_validate(message))
    assert response.content == body.model_dump_json().encode()
    titled = (await client.get(f"{API}/sessions/{sid}", headers=alice.headers)).json()["data"]
    assert titled["title"] == "Trimmed é"


def _error_bytes(error: Any) -> bytes:
    return bytes(error_response(error).body)


async def test_refusals_are_the_envelopes_the_orm_path_answers(
    app: FastAPI, client: httpx.AsyncClient, alice: Account, bob: Account, admin: Account
) -> None:
    sid = (await new_session(client, alice))["id"]
    await post_text(client, alice, sid)
    messages = f"{API}/sessions/{sid}/messages"
    not_found = _error_bytes(ChatSessionNotFound())
    for path in (f"/sessions/{sid}", f"/sessions/{MISSING}", f"/sessions/{MISSING}/messages"):
        response = await client.get(f"{API}{path}", headers=bob.headers)
        assert (response.status_code, response.content) == (404, not_found), path
    hidden = await client.get(messages, headers=bob.headers)
    assert (hidden.status_code, hidden.content) == (404, not_found)
    for who, status, error in ((bob, 404, ChatSessionNotFound()), (admin, 403, None)):
        refused = await client.post(messages, json={"content": "x"}, headers=who.headers)
        assert refused.status_code == status
        expected = error if error is not None else NotChatSessionOwner()
        assert refused.content == _error_bytes(expected)
    missing = await client.post(
        f"{API}/sessions/{MISSING}/messages", json={"content": "x"}, headers=admin.headers
    )
    assert (missing.status_code, missing.content) == (404, not_found)
    tampered = await client.get(messages, params={"cursor": "abc.def"}, headers=alice.headers)
    assert (tampered.status_code, tampered.content) == (400, _error_bytes(InvalidCursor()))
    bad_sessions_cursor = await client.get(
        f"{API}/sessions", params={"cursor": "abc.def"}, headers=alice.headers
    )
    assert bad_sessions_cursor.content == _error_bytes(InvalidCursor())
    assert_error(await client.get(messages), 401, "unauthorized")
    assert_error(await client.get(f"{API}/sessions"), 401, "unauthorized")
    for params in ({"limit": 0}, {"limit": 101}, {"order": "up"}):
        assert_error(
            await client.get(messages, params=params, headers=alice.headers),
            422,
            "validation_error",
        )
    blank = await client.post(messages, json={"content": "   "}, headers=alice.headers)
    assert_error(blank, 422, "validation_error")
    assert (await client.get(messages, headers=alice.headers)).json()["data"]["items"][0][
        "content"
    ] == "Hello"


@pytest.mark.parametrize("count", [1, 3])
async def test_concurrent_posts_by_the_lean_path_keep_order_and_counters(
    app: FastAPI, client: httpx.AsyncClient, count: int
) -> None:
    owner = await sign_up(client)
    sid = (await new_session(client, owner))["id"]
    sent = [f"m{n}" for n in range(10 * count)]
    responses = await asyncio.gather(
        *(
            client.post(
                f"{API}/sessions/{sid}/messages", json={"content": c}, headers=owner.headers
            )
            for c in sent
        )
    )
    assert [r.status_code for r in responses] == [201] * len(sent)
    page = await client.get(
        f"{API}/sessions/{sid}/messages", params={"limit": 100}, headers=owner.headers
    )
    items = page.json()["data"]["items"]
    assert sorted(m["content"] for m in items) == sorted(sent)
    times = [m["created_at"] for m in items]
    parsed = [datetime.fromisoformat(t) for t in times]
    assert parsed == sorted(parsed)  # created_at follows the order (decision 062)
    read = (await client.get(f"{API}/sessions/{sid}", headers=owner.headers)).json()["data"]
    assert read["message_count"] == len(sent)
    assert read["last_message_at"] == times[-1]


# PostgreSQL: text posts that queue together go together (decision 195)


async def test_text_posts_that_queue_together_are_answered_each_as_if_alone(
    app: FastAPI, client: httpx.AsyncClient, alice: Account, bob: Account, dialect: str
) -> None:
    if dialect != "postgresql":
        pytest.skip("text posts go to the database in groups on PostgreSQL only")
    untitled = (await new_session(client, alice, title=None))["id"]
    titled = (await new_session(client, alice, title="Shop"))["id"]
    bobs = (await new_session(client, bob))["id"]
    await _warm(client, alice)
    await _warm(client, bob)
    posts = [
        *((alice, untitled, f"u{n}") for n in range(6)),
        *((alice, titled, f"t{n}") for n in range(4)),
        *((bob, bobs, f"b{n}") for n in range(3)),
        (bob, untitled, "not bob's"),
        (alice, MISSING, "no such session"),
    ]
    with statements_sent(app) as sent:
        responses = await asyncio.gather(
            *(
                client.post(
                    f"{API}/sessions/{sid}/messages", json={"content": c}, headers=who.headers
                )
                for who, sid, c in posts
            )
        )
    assert len(sent.lean) < len(posts), sent.lean  # some went together
    assert [r.status_code for r in responses] == [201] * 13 + [404, 404]
    assert_error(responses[-1], 404, "not_found")
    for who, sid, count in ((alice, untitled, 6), (alice, titled, 4), (bob, bobs, 3)):
        session = (await client.get(f"{API}/sessions/{sid}", headers=who.headers)).json()["data"]
        page = await client.get(
            f"{API}/sessions/{sid}/messages", params={"limit": 100}, headers=who.headers
        )
        items = page.json()["data"]["items"]
        assert len(items) == count == session["message_count"]
        assert session["last_message_at"] == items[-1]["created_at"]
        created = [datetime.fromisoformat(m["created_at"]) for m in items]
        assert created == sorted(created)
        posted = {r.json()["data"]["id"]: r.json()["data"] for r in responses[:13]}
        assert items == [posted[m["id"]] for m in items]  # each answer is its message
        # Each message's event, in the messages' order, with the message as its data.
        feed = await client.get(
            f"{API}/events",
            params={"session_id": sid, "types": "message.created", "limit": 100},
            headers=who.headers,
        )
        assert [e["data"] for e in feed.json()["data"]["items"]] == items
    named = (await client.get(f"{API}/sessions/{untitled}", headers=alice.headers)).json()
    first = (
        await client.get(
            f"{API}/sessions/{untitled}/messages", params={"limit": 1}, headers=alice.headers
        )
    ).json()["data"]["items"][0]
    assert named["data"]["title"] == first["content"]  # the first message names the session


async def test_a_post_the_database_refuses_fails_alone_not_its_group(
    app: FastAPI, client: httpx.AsyncClient, alice: Account, dialect: str
) -> None:
    if dialect != "postgresql":
        pytest.skip("text posts go to the database in groups on PostgreSQL only")
    sid = (await new_session(client, alice))["id"]
    await _warm(client, alice)
    engine = app.state.resources.database.engine
    # A rule of the database's own that the API does not know of: one value it refuses.
    async with engine.begin() as connection:
        await connection.exec_driver_sql(
            "ALTER TABLE messages ADD CONSTRAINT test_refused CHECK (content <> 'refused')"
        )
    try:
        contents = ["kept 1", "kept 2", "refused", "kept 3", "kept 4"]
        responses = await asyncio.gather(
            *(
                client.post(
                    f"{API}/sessions/{sid}/messages", json={"content": c}, headers=alice.headers
                )
                for c in contents
            )
        )
    finally:
        async with engine.begin() as connection:
            await connection.exec_driver_sql("ALTER TABLE messages DROP CONSTRAINT test_refused")
    codes = dict(zip(contents, (r.status_code for r in responses), strict=True))
    assert codes.pop("refused") >= 500
    assert set(codes.values()) == {201}
    page = await client.get(f"{API}/sessions/{sid}/messages", headers=alice.headers)
    assert sorted(m["content"] for m in page.json()["data"]["items"]) == sorted(codes)
