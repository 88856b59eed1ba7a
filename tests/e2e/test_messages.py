"""Messages through HTTP: posting, total order, pages, search, deletion and ownership."""

import asyncio
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select, text

from parley.db import fast
from parley.models.chat import Message
from tests.conftest import Account, assert_error
from tests.e2e.chat_helpers import API, MISSING, PNG, collect, new_session, post_text, upload
from tests.support.statements import statements_sent

MESSAGE_KEYS = {
    "id",
    "session_id",
    "sender",
    "kind",
    "content",
    "phone_number",
    "media",
    "created_at",
}


async def _session(http: httpx.AsyncClient, who: Account, sid: str) -> dict[str, Any]:
    response = await http.get(f"{API}/sessions/{sid}", headers=who.headers)
    assert response.status_code == 200, response.text
    data: dict[str, Any] = response.json()["data"]
    return data


async def test_posting_a_text_message_returns_it(client: httpx.AsyncClient, alice: Account) -> None:
    session = await new_session(client, alice)
    response = await client.post(
        f"{API}/sessions/{session['id']}/messages",
        json={"content": "  Hi there  "},
        headers=alice.headers,
    )
    assert response.status_code == 201, response.text
    message = response.json()["data"]
    assert set(message) == MESSAGE_KEYS
    assert message["session_id"] == session["id"]
    assert message["content"] == "Hi there"
    assert message["sender"] == "agent"
    assert message["kind"] == "text"
    assert message["media"] is None
    assert message["phone_number"] is None


@pytest.mark.parametrize("sender", ["customer", "agent", "bot", "system"])
async def test_every_sender_is_accepted(
    client: httpx.AsyncClient, alice: Account, sender: str
) -> None:
    session = await new_session(client, alice)
    message = await post_text(client, alice, session["id"], sender=sender)
    assert message["sender"] == sender


async def test_a_phone_number_is_stored_in_e164(client: httpx.AsyncClient, alice: Account) -> None:
    session = await new_session(client, alice)
    message = await post_text(client, alice, session["id"], phone_number=" +1 415 555 2671 ")
    assert message["phone_number"] == "+14155552671"


async def test_content_of_exactly_4096_characters_is_accepted(
    client: httpx.AsyncClient, alice: Account
) -> None:
    session = await new_session(client, alice)
    message = await post_text(client, alice, session["id"], "ß" * 4096)
    assert message["content"] == "ß" * 4096


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"content": ""},
        {"content": " \n\t "},
        {"content": "x" * 4097},
        {"content": "nul\x00here"},
        {"content": 42},
        {"content": None},
        {"content": "hi", "sender": "robot"},
        {"content": "hi", "sender": "AGENT"},
        {"content": "hi", "sender": None},
        {"content": "hi", "kind": "image"},
        {"content": "hi", "user_id": MISSING},
        {"content": "hi", "session_id": MISSING},
        {"content": "hi", "id": MISSING},
        {"content": "hi", "created_at": "2020-01-01T00:00:00Z"},
        {"content": "hi", "phone_number": "12345"},
        {"content": "hi", "phone_number": "+1 000"},
    ],
)
async def test_posting_bad_input_is_422_and_adds_nothing(
    client: httpx.AsyncClient, alice: Account, body: dict[str, Any]
) -> None:
    session = await new_session(client, alice)
    response = await client.post(
        f"{API}/sessions/{session['id']}/messages", json=body, headers=alice.headers
    )
    body_out = assert_error(response, 422, "validation_error")
    assert "\x00" not in response.text
    assert body_out["error"]["details"]
    assert (await _session(client, alice, session["id"]))["message_count"] == 0


@pytest.mark.parametrize("payload", [b"[]", b"null", b'"hi"', b"3"])
async def test_a_json_body_that_is_not_an_object_is_422(
    client: httpx.AsyncClient, alice: Account, payload: bytes
) -> None:
    session = await new_session(client, alice)
    response = await client.post(
        f"{API}/sessions/{session['id']}/messages",
        content=payload,
        headers={**alice.headers, "Content-Type": "application/json"},
    )
    assert_error(response, 422, "validation_error")


async def test_malformed_json_is_400(client: httpx.AsyncClient, alice: Account) -> None:
    session = await new_session(client, alice)
    for payload in (b'{"content": ', b"\xff\xfe", b"[" * 100_000):
        response = await client.post(
            f"{API}/sessions/{session['id']}/messages",
            content=payload,
            headers={**alice.headers, "Content-Type": "application/json"},
        )
        assert_error(response, 400, "bad_request")


@pytest.mark.parametrize(
    "content_type",
    [None, "text/plain", "application/x-www-form-urlencoded", "application/xml", "image/png"],
)
async def test_a_message_body_of_another_content_type_is_415(
    client: httpx.AsyncClient, alice: Account, content_type: str | None
) -> None:
    session = await new_session(client, alice)
    headers = dict(alice.headers)
    if content_type:
        headers["Content-Type"] = content_type
    response = await client.post(
        f"{API}/sessions/{session['id']}/messages", content=b"content=hi", headers=headers
    )
    assert_error(response, 415, "unsupported_media_type")


async def test_a_json_body_over_max_body_bytes_is_413(app_factory: Any, alice: Account) -> None:
    app = await app_factory(max_body_bytes=2048)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://testserver"
    ) as http:
        session = await new_session(http, alice)
        response = await http.post(
            f"{API}/sessions/{session['id']}/messages",
            json={"content": "x" * 3000},
            headers=alice.headers,
        )
        assert_error(response, 413, "payload_too_large")
        assert (await _session(http, alice, session["id"]))["message_count"] == 0


async def test_posting_to_another_users_chat_session_is_404(
    client: httpx.AsyncClient, alice: Account, bob: Account
) -> None:
    session = await new_session(client, alice)
    response = await client.post(
        f"{API}/sessions/{session['id']}/messages", json={"content": "hi"}, headers=bob.headers
    )
    assert_error(response, 404, "not_found")
    media = await upload(client, bob, session["id"], PNG)
    assert_error(media, 404, "not_found")
    assert (await _session(client, alice, session["id"]))["message_count"] == 0


async def test_posting_to_a_missing_session_is_404_and_to_a_bad_id_422(
    client: httpx.AsyncClient, alice: Account
) -> None:
    missing = await client.post(
        f"{API}/sessions/{MISSING}/messages", json={"content": "hi"}, headers=alice.headers
    )
    assert_error(missing, 404, "not_found")
    bad = await client.post(
        f"{API}/sessions/nope/messages", json={"content": "hi"}, headers=alice.headers
    )
    assert_error(bad, 422, "validation_error")


async def test_an_admin_posting_to_another_users_session_is_403(
    client: httpx.AsyncClient, alice: Account, admin: Account
) -> None:
    session = await new_session(client, alice)
    response = await client.post(
        f"{API}/sessions/{session['id']}/messages", json={"content": "hi"}, headers=admin.headers
    )
    assert_error(response, 403, "forbidden")
    assert (await _session(client, alice, session["id"]))["message_count"] == 0


async def test_messages_come_back_in_posting_order_even_with_one_shared_timestamp(
    client: httpx.AsyncClient, alice: Account, monkeypatch: pytest.MonkeyPatch
) -> None:
    frozen = datetime(2030, 1, 1, tzinfo=UTC)
    for module in ("parley.chats.service", "parley.chats.hot_paths"):  # both paths' clock
        monkeypatch.setattr(f"{module}.utcnow", lambda: frozen)
    session = await new_session(client, alice)
    posted = [await post_text(client, alice, session["id"], f"m{n}") for n in range(25)]
    assert {m["created_at"] for m in posted} == {posted[0]["created_at"]}
    ids = [m["id"] for m in posted]
    path = f"/sessions/{session['id']}/messages"
    assert [m["id"] for m in await collect(client, alice, path, limit=4)] == ids
    descending = await collect(client, alice, path, limit=4, order="desc")
    assert [m["id"] for m in descending] == ids[::-1]


async def test_a_cursor_continues_only_the_order_it_was_made_for(
    client: httpx.AsyncClient, alice: Account
) -> None:
    session = await new_session(client, alice)
    for n in range(3):
        await post_text(client, alice, session["id"], f"m{n}")
    path = f"{API}/sessions/{session['id']}/messages"
    page = await client.get(path, params={"limit": 1}, headers=alice.headers)
    cursor = page.json()["data"]["next_cursor"]
    assert cursor
    wrong = await client.get(
        path, params={"cursor": cursor, "order": "desc"}, headers=alice.headers
    )
    assert_error(wrong, 400, "bad_request")
    right = await client.get(path, params={"cursor": cursor, "limit": 1}, headers=alice.headers)
    assert [m["content"] for m in right.json()["data"]["items"]] == ["m1"]


@pytest.mark.parametrize("cursor", ["x", "..", "a.b.c", "e30.AAAAAAAAAAAAAAAAAAAAAA"])
async def test_a_tampered_message_cursor_is_400(
    client: httpx.AsyncClient, alice: Account, cursor: str
) -> None:
    session = await new_session(client, alice)
    response = await client.get(
        f"{API}/sessions/{session['id']}/messages", params={"cursor": cursor}, headers=alice.headers
    )
    assert_error(response, 400, "bad_request")


async def test_a_sessions_cursor_is_no_message_cursor(
    client: httpx.AsyncClient, alice: Account
) -> None:
    for n in range(2):
        await new_session(client, alice, title=f"s{n}")
    cursor = (
        await client.get(f"{API}/sessions", params={"limit": 1}, headers=alice.headers)
    ).json()["data"]["next_cursor"]
    session = await new_session(client, alice)
    response = await client.get(
        f"{API}/sessions/{session['id']}/messages", params={"cursor": cursor}, headers=alice.headers
    )
    assert_error(response, 400, "bad_request")


@pytest.mark.parametrize("params", [{"order": "up"}, {"limit": 0}, {"limit": 101}, {"q": "\x00"}])
async def test_bad_message_list_parameters_are_422(
    client: httpx.AsyncClient, alice: Account, params: dict[str, Any]
) -> None:
    session = await new_session(client, alice)
    response = await client.get(
        f"{API}/sessions/{session['id']}/messages", params=params, headers=alice.headers
    )
    assert_error(response, 422, "validation_error")


async def test_searching_messages_matches_content_case_insensitively_and_literally(
    client: httpx.AsyncClient, alice: Account
) -> None:
    session = await new_session(client, alice)
    wanted = await post_text(client, alice, session["id"], "The RED shoes, 100% leather")
    await post_text(client, alice, session["id"], "Blue shoes, 100 percent leather")
    path = f"/sessions/{session['id']}/messages"
    assert [m["id"] for m in await collect(client, alice, path, q="red")] == [wanted["id"]]
    assert [m["id"] for m in await collect(client, alice, path, q="100%")] == [wanted["id"]]
    assert len(await collect(client, alice, path, q="  ")) == 2


async def test_another_users_messages_are_404_and_an_admin_reads_them(
    client: httpx.AsyncClient, alice: Account, bob: Account, admin: Account
) -> None:
    session = await new_session(client, alice)
    message = await post_text(client, alice, session["id"])
    list_path = f"{API}/sessions/{session['id']}/messages"
    assert_error(await client.get(list_path, headers=bob.headers), 404, "not_found")
    one = f"{API}/messages/{message['id']}"
    assert_error(await client.get(one, headers=bob.headers), 404, "not_found")
    assert_error(await client.delete(one, headers=bob.headers), 404, "not_found")
    assert (await client.get(one, headers=admin.headers)).json()["data"] == message
    listed = await client.get(list_path, headers=admin.headers)
    assert listed.json()["data"]["items"] == [message]
    assert_error(await client.delete(one, headers=admin.headers), 403, "forbidden")
    assert (await client.get(one, headers=alice.headers)).json()["data"] == message


async def test_reading_a_message_by_id(client: httpx.AsyncClient, alice: Account) -> None:
    session = await new_session(client, alice)
    message = await post_text(client, alice, session["id"])
    response = await client.get(f"{API}/messages/{message['id']}", headers=alice.headers)
    assert response.status_code == 200
    assert response.json()["data"] == message
    assert_error(
        await client.get(f"{API}/messages/{MISSING}", headers=alice.headers), 404, "not_found"
    )
    assert_error(
        await client.get(f"{API}/messages/1", headers=alice.headers), 422, "validation_error"
    )


async def test_deleting_a_message_lowers_the_count_and_keeps_the_order_going(
    client: httpx.AsyncClient, alice: Account
) -> None:
    session = await new_session(client, alice)
    first = await post_text(client, alice, session["id"], "one")
    second = await post_text(client, alice, session["id"], "two")
    response = await client.delete(f"{API}/messages/{second['id']}", headers=alice.headers)
    assert response.status_code == 200, response.text
    after = await _session(client, alice, session["id"])
    assert after["message_count"] == 1
    assert after["last_message_at"] == first["created_at"]
    third = await post_text(client, alice, session["id"], "three")
    listed = await collect(client, alice, f"/sessions/{session['id']}/messages")
    assert [m["id"] for m in listed] == [first["id"], third["id"]]
    assert_error(
        await client.get(f"{API}/messages/{second['id']}", headers=alice.headers), 404, "not_found"
    )
    again = await client.delete(f"{API}/messages/{second['id']}", headers=alice.headers)
    assert_error(again, 404, "not_found")
    assert (await _session(client, alice, session["id"]))["message_count"] == 2


async def test_deleting_the_only_message_clears_last_message_at(
    client: httpx.AsyncClient, alice: Account
) -> None:
    session = await new_session(client, alice)
    message = await post_text(client, alice, session["id"])
    await client.delete(f"{API}/messages/{message['id']}", headers=alice.headers)
    after = await _session(client, alice, session["id"])
    assert after["message_count"] == 0
    assert after["last_message_at"] is None


async def test_concurrent_posts_each_get_their_own_place_in_the_order(
    app: FastAPI, client: httpx.AsyncClient, alice: Account
) -> None:
    session = await new_session(client, alice)
    sid = session["id"]
    responses = await asyncio.gather(
        *(
            client.post(
                f"{API}/sessions/{sid}/messages", json={"content": f"m{n}"}, headers=alice.headers
            )
            for n in range(20)
        )
    )
    assert [r.status_code for r in responses] == [201] * 20, [r.text for r in responses]
    assert (await _session(client, alice, sid))["message_count"] == 20
    listed = await collect(client, alice, f"/sessions/{sid}/messages", limit=7)
    assert sorted(m["id"] for m in listed) == sorted(r.json()["data"]["id"] for r in responses)
    async with app.state.resources.database.sessions() as db:
        seqs = list(
            await db.scalars(
                select(Message.seq)
                .where(Message.chat_session_id == UUID(sid))
                .order_by(Message.seq)
            )
        )
    assert seqs == list(range(1, 21))


async def _page_queries(app: FastAPI, http: httpx.AsyncClient, who: Account, sid: str) -> int:
    with statements_sent(app) as sent:
        response = await http.get(
            f"{API}/sessions/{sid}/messages", params={"limit": 100}, headers=who.headers
        )
    assert response.status_code == 200
    assert sent.lean  # the page is read on the driver connection
    return len(sent.lean) + len(sent.orm)


async def test_a_message_page_costs_the_same_queries_for_2_or_12_messages(
    app: FastAPI, client: httpx.AsyncClient, alice: Account
) -> None:
    session = await new_session(client, alice)
    sid = session["id"]

    async def add(count: int) -> None:
        for n in range(count):
            await post_text(client, alice, sid, f"m{n}")
            assert (await upload(client, alice, sid, PNG, filename=f"{n}.png")).status_code == 201

    await add(1)
    few = await _page_queries(app, client, alice, sid)
    await add(6)
    many = await _page_queries(app, client, alice, sid)
    assert few == many


async def test_a_message_page_is_a_range_scan_of_the_session_seq_index(
    app: FastAPI, client: httpx.AsyncClient, alice: Account, dialect: str
) -> None:
    session = await new_session(client, alice)
    for n in range(3):
        await post_text(client, alice, session["id"], f"m{n}")
    cursor = (
        await client.get(
            f"{API}/sessions/{session['id']}/messages", params={"limit": 1}, headers=alice.headers
        )
    ).json()["data"]["next_cursor"]
    page_query = await _capture_page_query(app, client, alice, session["id"], cursor)
    plan = await _explain(app, dialect, *page_query)
    if dialect == "sqlite":
        # SQLite backs the unique constraint with an automatic index of (chat_session_id, seq).
        assert "USING INDEX" in plan, plan
        assert "(chat_session_id=? AND seq>?)" in plan, plan
        assert "TEMP B-TREE" not in plan, plan
    else:
        assert "uq_messages_chat_session_id_seq" in plan, plan
        assert "filesort" not in plan.lower(), plan
        assert "Sort " not in plan, plan


async def _capture_page_query(
    app: FastAPI, http: httpx.AsyncClient, who: Account, sid: str, cursor: str
) -> tuple[str, Any]:
    captured: list[tuple[str, Any]] = []

    def record(statement: str, parameters: Any) -> None:
        if "FROM messages" in statement and "ORDER BY messages.seq" in statement:
            captured.append((statement, parameters))

    fast.statement_observers.append(record)  # the page runs on the driver connection
    try:
        response = await http.get(
            f"{API}/sessions/{sid}/messages", params={"cursor": cursor}, headers=who.headers
        )
    finally:
        fast.statement_observers.remove(record)
    assert response.status_code == 200
    assert len(captured) == 1, captured
    return captured[0]


async def _explain(app: FastAPI, dialect: str, statement: str, parameters: Any) -> str:
    async with app.state.resources.database.engine.connect() as connection:
        raw = await connection.get_raw_connection()
        driver = raw.driver_connection
        if dialect == "sqlite":
            cursor = await driver.execute(f"EXPLAIN QUERY PLAN {statement}", parameters)
            return " ".join(str(row[-1]) for row in await cursor.fetchall())
        if dialect == "postgresql":
            # A handful of rows makes any plan cheap; ask which index the planner can use.
            await driver.execute("SET enable_seqscan = off")
            rows = await driver.fetch(f"EXPLAIN {statement}", *parameters)
            await driver.execute("RESET enable_seqscan")
            return " ".join(str(row[0]) for row in rows)
        async with driver.cursor() as cursor:
            await cursor.execute(f"EXPLAIN {statement}", parameters)
            return " ".join(str(row) for row in await cursor.fetchall())


async def test_database_rows_show_seq_unique_per_session(
    app: FastAPI, client: httpx.AsyncClient, alice: Account
) -> None:
    first = await new_session(client, alice)
    second = await new_session(client, alice)
    for sid in (first["id"], second["id"], first["id"]):
        await post_text(client, alice, sid)
    async with app.state.resources.database.engine.connect() as connection:
        rows = (
            await connection.execute(
                text("SELECT chat_session_id, seq FROM messages ORDER BY chat_session_id, seq")
            )
        ).all()
    by_session: dict[Any, list[int]] = {}
    for chat_session_id, seq in rows:
        by_session.setdefault(chat_session_id, []).append(seq)
    assert sorted(by_session.values()) == [[1], [1, 2]]
