"""A cursor belongs to the list that made it: every other list refuses it with a 400."""

from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from tests.conftest import Account, assert_error, log_in, make_admin
from tests.e2e.chat_helpers import API, new_session, post_text

VENDOR_PHONE = "+14155552671"


async def _cursor(http: httpx.AsyncClient, who: Account, path: str, **params: Any) -> str:
    """The next_cursor of a one-item first page of a list."""
    response = await http.get(f"{API}{path}", params={"limit": 1, **params}, headers=who.headers)
    assert response.status_code == 200, response.text
    cursor: str | None = response.json()["data"]["next_cursor"]
    assert cursor, f"{path} should have a second page"
    return cursor


async def _page(
    http: httpx.AsyncClient, who: Account, path: str, cursor: str, **params: Any
) -> httpx.Response:
    return await http.get(
        f"{API}{path}", params={"limit": 1, "cursor": cursor, **params}, headers=who.headers
    )


async def _accepted(
    http: httpx.AsyncClient, who: Account, path: str, cursor: str, **params: Any
) -> None:
    response = await _page(http, who, path, cursor, **params)
    assert response.status_code == 200, response.text
    assert len(response.json()["data"]["items"]) == 1


async def _refused(
    http: httpx.AsyncClient, who: Account, path: str, cursor: str, **params: Any
) -> None:
    body = assert_error(await _page(http, who, path, cursor, **params), 400, "bad_request")
    assert body["message"] == "Invalid cursor"


async def _session_with_messages(http: httpx.AsyncClient, owner: Account) -> str:
    sid: str = (await new_session(http, owner))["id"]
    for text in ("one", "two", "three"):
        await post_text(http, owner, sid, text)
    return sid


async def _session_with_sellers(http: httpx.AsyncClient, owner: Account) -> str:
    sid: str = (await new_session(http, owner))["id"]
    for name in ("Ana lamp", "Bo lamp", "Cy desk"):
        response = await http.post(
            f"{API}/sessions/{sid}/sellers",
            json={"name": name, "product": "lamp"},
            headers=owner.headers,
        )
        assert response.status_code == 201, response.text
    return sid


async def test_a_message_cursor_is_refused_by_another_sessions_messages(
    client: httpx.AsyncClient, alice: Account
) -> None:
    first = await _session_with_messages(client, alice)
    second = await _session_with_messages(client, alice)
    cursor = await _cursor(client, alice, f"/sessions/{first}/messages")

    await _accepted(client, alice, f"/sessions/{first}/messages", cursor)
    await _refused(client, alice, f"/sessions/{second}/messages", cursor)


async def test_a_message_cursor_holds_only_for_its_order(
    client: httpx.AsyncClient, alice: Account
) -> None:
    sid = await _session_with_messages(client, alice)
    path = f"/sessions/{sid}/messages"
    ascending = await _cursor(client, alice, path, order="asc")
    descending = await _cursor(client, alice, path, order="desc")

    await _accepted(client, alice, path, descending, order="desc")
    await _refused(client, alice, path, descending, order="asc")
    await _refused(client, alice, path, descending)  # asc is the default
    await _refused(client, alice, path, ascending, order="desc")


async def test_a_message_cursor_is_refused_by_the_other_lists(
    client: httpx.AsyncClient, alice: Account
) -> None:
    sid = await _session_with_messages(client, alice)
    await _session_with_sellers(client, alice)
    cursor = await _cursor(client, alice, f"/sessions/{sid}/messages")

    for path in ("/sessions", f"/sessions/{sid}/sellers", "/sellers", "/vendors", "/auth/sessions"):
        await _refused(client, alice, path, cursor)


async def test_a_seller_cursor_is_refused_by_another_sessions_sellers(
    client: httpx.AsyncClient, alice: Account
) -> None:
    first = await _session_with_sellers(client, alice)
    second = await _session_with_sellers(client, alice)
    cursor = await _cursor(client, alice, f"/sessions/{first}/sellers")

    await _accepted(client, alice, f"/sessions/{first}/sellers", cursor)
    await _refused(client, alice, f"/sessions/{second}/sellers", cursor)
    await _refused(client, alice, "/sellers", cursor)


async def test_a_seller_cursor_holds_only_for_its_search(
    client: httpx.AsyncClient, alice: Account
) -> None:
    sid = await _session_with_sellers(client, alice)
    for path in (f"/sessions/{sid}/sellers", "/sellers"):
        plain = await _cursor(client, alice, path)
        searched = await _cursor(client, alice, path, q="lamp")

        await _accepted(client, alice, path, searched, q="lamp")
        await _refused(client, alice, path, searched)
        await _refused(client, alice, path, searched, q="desk")
        await _refused(client, alice, path, plain, q="lamp")


async def test_a_sellers_search_cursor_is_refused_by_another_users_search(
    client: httpx.AsyncClient, alice: Account, bob: Account
) -> None:
    await _session_with_sellers(client, alice)
    await _session_with_sellers(client, bob)
    cursor = await _cursor(client, alice, "/sellers")

    await _accepted(client, alice, "/sellers", cursor)
    await _refused(client, bob, "/sellers", cursor)


async def test_a_sessions_cursor_is_refused_by_another_users_sessions(
    client: httpx.AsyncClient, alice: Account, bob: Account
) -> None:
    for owner in (alice, alice, bob, bob):
        await new_session(client, owner)
    cursor = await _cursor(client, alice, "/sessions")

    await _accepted(client, alice, "/sessions", cursor)
    await _refused(client, bob, "/sessions", cursor)


async def test_a_vendors_cursor_is_refused_by_another_users_vendors(
    client: httpx.AsyncClient, alice: Account, bob: Account
) -> None:
    for owner in (alice, alice, bob, bob):
        sid = (await new_session(client, owner))["id"]
        response = await client.post(
            f"{API}/sessions/{sid}/vendor",
            json={"name": "Shop", "phone_number": VENDOR_PHONE},
            headers=owner.headers,
        )
        assert response.status_code == 201, response.text
    cursor = await _cursor(client, alice, "/vendors")

    await _accepted(client, alice, "/vendors", cursor)
    await _refused(client, bob, "/vendors", cursor)
    await _refused(client, alice, "/sessions", cursor)


async def test_a_login_sessions_cursor_is_refused_by_another_users_login_sessions(
    client: httpx.AsyncClient, alice: Account, bob: Account
) -> None:
    await log_in(client, email=alice.email)
    await log_in(client, email=bob.email)
    cursor = await _cursor(client, alice, "/auth/sessions")

    await _accepted(client, alice, "/auth/sessions", cursor)
    await _refused(client, bob, "/auth/sessions", cursor)


@pytest.mark.parametrize("other", ["/sessions", "/vendors", "/sellers", "/auth/sessions"])
async def test_the_users_list_and_the_other_lists_refuse_each_others_cursors(
    app: FastAPI, client: httpx.AsyncClient, alice: Account, bob: Account, other: str
) -> None:
    admin = await make_admin(app, client)
    for _ in range(2):
        await log_in(client, email=admin.email)
        await new_session(client, admin)
        sid = (await new_session(client, admin))["id"]
        response = await client.post(
            f"{API}/sessions/{sid}/vendor",
            json={"name": "Shop", "phone_number": VENDOR_PHONE},
            headers=admin.headers,
        )
        assert response.status_code == 201, response.text
    await _session_with_sellers(client, admin)
    users_cursor = await _cursor(client, admin, "/users")
    other_cursor = await _cursor(client, admin, other)

    await _accepted(client, admin, "/users", users_cursor)
    await _refused(client, admin, other, users_cursor)
    await _refused(client, admin, "/users", other_cursor)
