"""Chat sessions through HTTP: titles, ownership, recency order, search and deletion."""

from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from tests.conftest import Account, assert_error
from tests.e2e.chat_helpers import API, MISSING, PNG, collect, new_session, post_text, upload
from tests.support.statements import statements_sent

SESSION_KEYS = {
    "id",
    "title",
    "user_id",
    "created_at",
    "updated_at",
    "last_message_at",
    "message_count",
    "vendor",
    "seller_count",
}


async def _get(http: httpx.AsyncClient, who: Account, sid: str) -> httpx.Response:
    return await http.get(f"{API}/sessions/{sid}", headers=who.headers)


async def test_creating_a_session_returns_it_with_a_trimmed_title(
    client: httpx.AsyncClient, alice: Account
) -> None:
    response = await client.post(
        f"{API}/sessions", json={"title": "  Spring sale  "}, headers=alice.headers
    )
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["status"] == "success"
    assert body["message"]
    session = body["data"]
    assert set(session) == SESSION_KEYS
    assert session["title"] == "Spring sale"
    assert session["user_id"] == alice.id
    assert session["message_count"] == 0
    assert session["seller_count"] == 0
    assert session["last_message_at"] is None
    assert session["vendor"] is None
    assert session["created_at"].endswith("Z") or session["created_at"].endswith("+00:00")


async def test_a_session_without_a_title_is_new_session_until_its_first_text_message(
    client: httpx.AsyncClient, alice: Account
) -> None:
    session = await new_session(client, alice, title=None)
    assert session["title"] == "New session"
    await post_text(client, alice, session["id"], "  Do you   have red shoes in size 42?  ")
    await post_text(client, alice, session["id"], "Second message does not rename")
    response = await _get(client, alice, session["id"])
    assert response.json()["data"]["title"] == "Do you have red shoes in size 42?"


async def test_a_long_first_message_names_the_session_with_whole_words_up_to_60_characters(
    client: httpx.AsyncClient, alice: Account
) -> None:
    session = await new_session(client, alice, title=None)
    content = "Hello there, I would like to order twelve boxes of the blue ceramic tiles please"
    await post_text(client, alice, session["id"], content)
    title = (await _get(client, alice, session["id"])).json()["data"]["title"]
    assert len(title) <= 60
    assert content.startswith(title)
    assert content[len(title)] == " "  # cut at a word boundary
    assert title == "Hello there, I would like to order twelve boxes of the blue"


async def test_a_single_long_word_is_cut_at_60_characters(
    client: httpx.AsyncClient, alice: Account
) -> None:
    session = await new_session(client, alice, title=None)
    await post_text(client, alice, session["id"], "x" * 100)
    assert (await _get(client, alice, session["id"])).json()["data"]["title"] == "x" * 60


async def test_a_media_caption_does_not_name_the_session(
    client: httpx.AsyncClient, alice: Account
) -> None:
    session = await new_session(client, alice, title=None)
    response = await upload(client, alice, session["id"], PNG, content="A caption")
    assert response.status_code == 201, response.text
    assert (await _get(client, alice, session["id"])).json()["data"]["title"] == "New session"


async def test_an_explicit_or_renamed_title_is_never_replaced_by_a_message(
    client: httpx.AsyncClient, alice: Account
) -> None:
    named = await new_session(client, alice, title="Wholesale")
    await post_text(client, alice, named["id"], "Something else entirely")
    assert (await _get(client, alice, named["id"])).json()["data"]["title"] == "Wholesale"
    untitled = await new_session(client, alice, title=None)
    renamed = await client.patch(
        f"{API}/sessions/{untitled['id']}", json={"title": "Mine"}, headers=alice.headers
    )
    assert renamed.status_code == 200, renamed.text
    await post_text(client, alice, untitled["id"], "Hello")
    assert (await _get(client, alice, untitled["id"])).json()["data"]["title"] == "Mine"


async def test_a_title_of_exactly_200_characters_is_accepted(
    client: httpx.AsyncClient, alice: Account
) -> None:
    session = await new_session(client, alice, title="é" * 200)
    assert session["title"] == "é" * 200


@pytest.mark.parametrize(
    "body",
    [
        {"title": ""},
        {"title": "    "},
        {"title": "x" * 201},
        {"title": "bad\x00title"},
        {"title": 5},
        {"title": ["a"]},
        {"user_id": MISSING},
        {"id": MISSING},
        {"title": "ok", "message_count": 3},
    ],
)
async def test_creating_a_session_with_bad_input_is_422(
    client: httpx.AsyncClient, alice: Account, body: dict[str, Any]
) -> None:
    response = await client.post(f"{API}/sessions", json=body, headers=alice.headers)
    assert_error(response, 422, "validation_error")


async def test_a_session_body_that_is_not_an_object_is_refused(
    client: httpx.AsyncClient, alice: Account
) -> None:
    for body in ([], None, "title"):
        response = await client.post(f"{API}/sessions", json=body, headers=alice.headers)
        assert response.status_code in {415, 422}, response.text


async def test_sessions_need_a_token(client: httpx.AsyncClient) -> None:
    response = await client.get(f"{API}/sessions")
    assert_error(response, 401, "unauthorized")
    assert response.headers["www-authenticate"] == "Bearer"


async def test_reading_a_session_by_a_non_uuid_id_is_422(
    client: httpx.AsyncClient, alice: Account
) -> None:
    assert_error(await _get(client, alice, "not-a-uuid"), 422, "validation_error")
    assert_error(await _get(client, alice, MISSING), 404, "not_found")


async def test_another_users_session_is_404_to_read_rename_and_delete(
    client: httpx.AsyncClient, alice: Account, bob: Account
) -> None:
    session = await new_session(client, alice, title="Alice's")
    sid = session["id"]
    assert_error(await _get(client, bob, sid), 404, "not_found")
    renamed = await client.patch(
        f"{API}/sessions/{sid}", json={"title": "Bob's now"}, headers=bob.headers
    )
    assert_error(renamed, 404, "not_found")
    assert_error(
        await client.delete(f"{API}/sessions/{sid}", headers=bob.headers), 404, "not_found"
    )
    after = (await _get(client, alice, sid)).json()["data"]
    assert after == session


async def test_an_admin_reads_any_session_but_cannot_change_it(
    client: httpx.AsyncClient, alice: Account, admin: Account
) -> None:
    session = await new_session(client, alice, title="Alice's")
    sid = session["id"]
    read = await _get(client, admin, sid)
    assert read.status_code == 200
    assert read.json()["data"]["user_id"] == alice.id
    renamed = await client.patch(
        f"{API}/sessions/{sid}", json={"title": "x"}, headers=admin.headers
    )
    assert_error(renamed, 403, "forbidden")
    assert_error(
        await client.delete(f"{API}/sessions/{sid}", headers=admin.headers), 403, "forbidden"
    )
    assert (await _get(client, alice, sid)).json()["data"] == session


async def test_renaming_a_session_trims_the_title_and_moves_updated_at(
    client: httpx.AsyncClient, alice: Account
) -> None:
    session = await new_session(client, alice)
    response = await client.patch(
        f"{API}/sessions/{session['id']}", json={"title": "  Renamed  "}, headers=alice.headers
    )
    assert response.status_code == 200, response.text
    data = response.json()["data"]
    assert data["title"] == "Renamed"
    assert data["updated_at"] > session["updated_at"]
    assert data["created_at"] == session["created_at"]


@pytest.mark.parametrize(
    "body",
    [{}, {"title": ""}, {"title": None}, {"title": "x" * 201}, {"title": "a", "id": MISSING}],
)
async def test_renaming_with_bad_input_is_422_and_changes_nothing(
    client: httpx.AsyncClient, alice: Account, body: dict[str, Any]
) -> None:
    session = await new_session(client, alice)
    response = await client.patch(
        f"{API}/sessions/{session['id']}", json=body, headers=alice.headers
    )
    assert_error(response, 422, "validation_error")
    assert (await _get(client, alice, session["id"])).json()["data"]["title"] == "Shop"


async def test_posting_updates_the_sessions_counters_and_times(
    client: httpx.AsyncClient, alice: Account
) -> None:
    session = await new_session(client, alice)
    message = await post_text(client, alice, session["id"])
    data = (await _get(client, alice, session["id"])).json()["data"]
    assert data["message_count"] == 1
    assert data["last_message_at"] == message["created_at"]
    assert data["updated_at"] == message["created_at"]


async def test_the_list_shows_the_callers_sessions_most_recently_active_first(
    client: httpx.AsyncClient, alice: Account, bob: Account
) -> None:
    first = await new_session(client, alice, title="first")
    second = await new_session(client, alice, title="second")
    third = await new_session(client, alice, title="third")
    await new_session(client, bob, title="bob's")
    await post_text(client, alice, first["id"])
    items = await collect(client, alice, "/sessions")
    assert [item["id"] for item in items] == [first["id"], third["id"], second["id"]]
    assert all(item["user_id"] == alice.id for item in items)


async def test_paging_through_sessions_returns_each_exactly_once(
    client: httpx.AsyncClient, alice: Account
) -> None:
    created = [await new_session(client, alice, title=f"s{n}") for n in range(7)]
    items = await collect(client, alice, "/sessions", limit=3)
    assert [item["id"] for item in items] == [s["id"] for s in reversed(created)]


async def test_an_admins_list_holds_only_the_admins_own_sessions(
    client: httpx.AsyncClient, alice: Account, admin: Account
) -> None:
    await new_session(client, alice)
    mine = await new_session(client, admin, title="admin's")
    assert [item["id"] for item in await collect(client, admin, "/sessions")] == [mine["id"]]


async def test_searching_sessions_matches_titles_case_insensitively(
    client: httpx.AsyncClient, alice: Account
) -> None:
    wanted = await new_session(client, alice, title="Summer SALE 2025")
    await new_session(client, alice, title="Winter stock")
    items = await collect(client, alice, "/sessions", q="sale")
    assert [item["id"] for item in items] == [wanted["id"]]


async def test_search_wildcards_are_taken_literally(
    client: httpx.AsyncClient, alice: Account
) -> None:
    percent = await new_session(client, alice, title="50% off")
    await new_session(client, alice, title="50 items off")
    underscore = await new_session(client, alice, title="a_b")
    await new_session(client, alice, title="axb")
    assert [i["id"] for i in await collect(client, alice, "/sessions", q="50%")] == [percent["id"]]
    assert [i["id"] for i in await collect(client, alice, "/sessions", q="a_b")] == [
        underscore["id"]
    ]
    assert await collect(client, alice, "/sessions", q="%") == [
        i for i in await collect(client, alice, "/sessions") if "%" in i["title"]
    ]


@pytest.mark.parametrize("cursor", ["garbage", "a.b", "x" * 900, "eyJpZCI6MX0.AAAA"])
async def test_a_tampered_session_cursor_is_400(
    client: httpx.AsyncClient, alice: Account, cursor: str
) -> None:
    response = await client.get(f"{API}/sessions", params={"cursor": cursor}, headers=alice.headers)
    assert_error(response, 400, "bad_request")


async def test_a_cursor_edited_by_the_client_is_400(
    client: httpx.AsyncClient, alice: Account
) -> None:
    for n in range(3):
        await new_session(client, alice, title=f"s{n}")
    page = await client.get(f"{API}/sessions", params={"limit": 1}, headers=alice.headers)
    cursor = page.json()["data"]["next_cursor"]
    payload, signature = cursor.split(".")
    forged = f"{payload[:-2]}AA.{signature}"
    response = await client.get(f"{API}/sessions", params={"cursor": forged}, headers=alice.headers)
    assert_error(response, 400, "bad_request")


@pytest.mark.parametrize("params", [{"limit": 0}, {"limit": 101}, {"limit": "x"}, {"q": "a\x00"}])
async def test_bad_list_parameters_are_422(
    client: httpx.AsyncClient, alice: Account, params: dict[str, Any]
) -> None:
    response = await client.get(f"{API}/sessions", params=params, headers=alice.headers)
    assert_error(response, 422, "validation_error")


async def test_a_session_carries_its_vendor(client: httpx.AsyncClient, alice: Account) -> None:
    session = await new_session(client, alice)
    vendor = await client.post(
        f"{API}/sessions/{session['id']}/vendor",
        json={"name": "Acme", "phone_number": "+14155552671"},
        headers=alice.headers,
    )
    assert vendor.status_code == 201, vendor.text
    read = (await _get(client, alice, session["id"])).json()["data"]
    assert read["vendor"] == vendor.json()["data"]
    listed = await collect(client, alice, "/sessions")
    assert listed[0]["vendor"] == vendor.json()["data"]


async def _listing_queries(app: FastAPI, http: httpx.AsyncClient, who: Account) -> int:
    with statements_sent(app) as sent:
        response = await http.get(f"{API}/sessions", params={"limit": 100}, headers=who.headers)
    assert response.status_code == 200
    assert sent.lean  # the page is read on the driver connection
    return len(sent.lean) + len(sent.orm)


async def test_listing_sessions_costs_the_same_queries_for_2_or_12_sessions(
    app: FastAPI, client: httpx.AsyncClient, alice: Account
) -> None:
    async def add_sessions(count: int) -> None:
        for n in range(count):
            session = await new_session(client, alice, title=f"s{n}")
            await client.post(
                f"{API}/sessions/{session['id']}/vendor",
                json={"name": f"Vendor {n}", "phone_number": "+14155552671"},
                headers=alice.headers,
            )

    await add_sessions(2)
    few = await _listing_queries(app, client, alice)
    await add_sessions(10)
    many = await _listing_queries(app, client, alice)
    assert len(await collect(client, alice, "/sessions")) == 12
    assert few == many


async def test_deleting_a_session_removes_it_its_messages_vendor_and_sellers(
    client: httpx.AsyncClient, alice: Account
) -> None:
    session = await new_session(client, alice)
    sid = session["id"]
    message = await post_text(client, alice, sid)
    vendor = await client.post(
        f"{API}/sessions/{sid}/vendor",
        json={"name": "Acme", "phone_number": "+14155552671"},
        headers=alice.headers,
    )
    seller = await client.post(
        f"{API}/sessions/{sid}/sellers",
        json={"name": "Ana", "product": "Tiles"},
        headers=alice.headers,
    )
    assert seller.status_code == 201, seller.text
    response = await client.delete(f"{API}/sessions/{sid}", headers=alice.headers)
    assert response.status_code == 200, response.text
    assert response.json()["status"] == "success"
    assert_error(await _get(client, alice, sid), 404, "not_found")
    gone = [
        f"{API}/messages/{message['id']}",
        f"{API}/vendors/{vendor.json()['data']['id']}",
        f"{API}/sellers/{seller.json()['data']['id']}",
        f"{API}/sessions/{sid}/messages",
    ]
    for path in gone:
        assert_error(await client.get(path, headers=alice.headers), 404, "not_found")
    assert await collect(client, alice, "/sessions") == []
    again = await client.delete(f"{API}/sessions/{sid}", headers=alice.headers)
    assert_error(again, 404, "not_found")
