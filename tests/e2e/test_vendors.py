"""A chat session's vendor: one per session, readable by its owner and admins only."""

from typing import Any

import httpx
import pytest

from tests.conftest import Account, assert_error
from tests.e2e.catalog_helpers import (
    API,
    OTHER_PHONE,
    PHONE,
    collect_pages,
    create_vendor,
    new_chat_session,
)

MISSING = "0190a0b0-0000-7000-8000-000000000000"


async def test_creating_a_vendor_returns_it_trimmed_and_normalised(
    client: httpx.AsyncClient, alice: Account
) -> None:
    sid = await new_chat_session(client, alice)
    response = await client.post(
        f"{API}/sessions/{sid}/vendor",
        json={"name": "  Acme  ", "phone_number": " +1 415 555 2671 "},
        headers=alice.headers,
    )
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["status"] == "success"
    assert body["message"]
    vendor = body["data"]
    assert set(vendor) == {"id", "session_id", "name", "phone_number", "created_at", "updated_at"}
    assert vendor["session_id"] == sid
    assert vendor["name"] == "Acme"
    assert vendor["phone_number"] == PHONE


async def test_a_second_vendor_for_a_session_is_409(
    client: httpx.AsyncClient, alice: Account
) -> None:
    sid = await new_chat_session(client, alice)
    first = await create_vendor(client, alice, sid)
    second = await client.post(
        f"{API}/sessions/{sid}/vendor",
        json={"name": "Other", "phone_number": OTHER_PHONE},
        headers=alice.headers,
    )
    assert_error(second, 409, "conflict")
    current = await client.get(f"{API}/sessions/{sid}/vendor", headers=alice.headers)
    assert current.json()["data"] == first


async def test_reading_a_session_without_a_vendor_is_404(
    client: httpx.AsyncClient, alice: Account
) -> None:
    sid = await new_chat_session(client, alice)
    assert_error(
        await client.get(f"{API}/sessions/{sid}/vendor", headers=alice.headers), 404, "not_found"
    )


async def test_vendor_routes_on_a_missing_session_are_404(
    client: httpx.AsyncClient, alice: Account
) -> None:
    url = f"{API}/sessions/{MISSING}/vendor"
    body = {"name": "Acme", "phone_number": PHONE}
    assert_error(await client.post(url, json=body, headers=alice.headers), 404, "not_found")
    assert_error(await client.get(url, headers=alice.headers), 404, "not_found")
    assert_error(
        await client.patch(url, json={"name": "x"}, headers=alice.headers), 404, "not_found"
    )
    assert_error(await client.delete(url, headers=alice.headers), 404, "not_found")


async def test_patching_a_vendor_changes_only_the_given_fields(
    client: httpx.AsyncClient, alice: Account
) -> None:
    sid = await new_chat_session(client, alice)
    created = await create_vendor(client, alice, sid)
    url = f"{API}/sessions/{sid}/vendor"
    renamed = await client.patch(url, json={"name": " Acme Ltd "}, headers=alice.headers)
    assert renamed.status_code == 200, renamed.text
    assert renamed.json()["data"]["name"] == "Acme Ltd"
    assert renamed.json()["data"]["phone_number"] == PHONE
    assert renamed.json()["data"]["updated_at"] >= created["updated_at"]
    renumbered = await client.patch(url, json={"phone_number": OTHER_PHONE}, headers=alice.headers)
    assert renumbered.json()["data"]["name"] == "Acme Ltd"
    assert renumbered.json()["data"]["phone_number"] == OTHER_PHONE
    unchanged = await client.patch(url, json={}, headers=alice.headers)
    assert unchanged.status_code == 200
    assert (await client.get(url, headers=alice.headers)).json()["data"][
        "phone_number"
    ] == OTHER_PHONE


async def test_patching_a_session_without_a_vendor_is_404(
    client: httpx.AsyncClient, alice: Account
) -> None:
    sid = await new_chat_session(client, alice)
    response = await client.patch(
        f"{API}/sessions/{sid}/vendor", json={"name": "x"}, headers=alice.headers
    )
    assert_error(response, 404, "not_found")


async def test_deleting_a_vendor_frees_the_session_for_a_new_one(
    client: httpx.AsyncClient, alice: Account
) -> None:
    sid = await new_chat_session(client, alice)
    created = await create_vendor(client, alice, sid)
    url = f"{API}/sessions/{sid}/vendor"
    deleted = await client.delete(url, headers=alice.headers)
    assert deleted.status_code == 200
    assert deleted.json()["status"] == "success"
    assert_error(await client.get(url, headers=alice.headers), 404, "not_found")
    assert_error(
        await client.get(f"{API}/vendors/{created['id']}", headers=alice.headers), 404, "not_found"
    )
    assert_error(await client.delete(url, headers=alice.headers), 404, "not_found")
    again = await create_vendor(client, alice, sid, name="Acme Again")
    assert again["id"] != created["id"]


async def test_reading_a_vendor_by_id(client: httpx.AsyncClient, alice: Account) -> None:
    sid = await new_chat_session(client, alice)
    created = await create_vendor(client, alice, sid)
    response = await client.get(f"{API}/vendors/{created['id']}", headers=alice.headers)
    assert response.status_code == 200
    assert response.json()["data"] == created
    assert_error(
        await client.get(f"{API}/vendors/{MISSING}", headers=alice.headers), 404, "not_found"
    )


async def test_listing_vendors_spans_the_callers_sessions_newest_first(
    client: httpx.AsyncClient, alice: Account, bob: Account
) -> None:
    names = ["North", "South", "East", "West", "Centre"]
    for name in names:
        await create_vendor(client, alice, await new_chat_session(client, alice), name=name)
    await create_vendor(client, bob, await new_chat_session(client, bob), name="Bobs")
    items = await collect_pages(client, f"{API}/vendors", alice, limit=2)
    assert [v["name"] for v in items] == list(reversed(names))
    first = (await client.get(f"{API}/vendors", params={"limit": 2}, headers=alice.headers)).json()
    assert len(first["data"]["items"]) == 2
    assert first["data"]["next_cursor"]


async def test_listing_vendors_filters_by_name_or_phone_number(
    client: httpx.AsyncClient, alice: Account
) -> None:
    await create_vendor(client, alice, await new_chat_session(client, alice), name="Blue Harbour")
    await create_vendor(
        client,
        alice,
        await new_chat_session(client, alice),
        name="Red Mill",
        phone_number=OTHER_PHONE,
    )
    await create_vendor(client, alice, await new_chat_session(client, alice), name="100% Organic")

    async def names(q: str) -> list[str]:
        response = await client.get(f"{API}/vendors", params={"q": q}, headers=alice.headers)
        assert response.status_code == 200, response.text
        return sorted(v["name"] for v in response.json()["data"]["items"])

    assert await names("HARBOUR") == ["Blue Harbour"]
    assert await names("2071838") == ["Red Mill"]
    assert await names("%") == ["100% Organic"]
    assert await names("_") == []
    assert await names("  ") == ["100% Organic", "Blue Harbour", "Red Mill"]


# Ownership -----------------------------------------------------------------------------------


@pytest.fixture
async def alices_vendor(client: httpx.AsyncClient, alice: Account) -> dict[str, Any]:
    sid = await new_chat_session(client, alice)
    return await create_vendor(client, alice, sid)


async def test_another_users_vendor_is_404_and_stays_unchanged(
    client: httpx.AsyncClient, alice: Account, bob: Account, alices_vendor: dict[str, Any]
) -> None:
    url = f"{API}/sessions/{alices_vendor['session_id']}/vendor"
    body = {"name": "Hijacked", "phone_number": OTHER_PHONE}
    assert_error(await client.get(url, headers=bob.headers), 404, "not_found")
    assert_error(await client.post(url, json=body, headers=bob.headers), 404, "not_found")
    assert_error(await client.patch(url, json=body, headers=bob.headers), 404, "not_found")
    assert_error(await client.delete(url, headers=bob.headers), 404, "not_found")
    assert_error(
        await client.get(f"{API}/vendors/{alices_vendor['id']}", headers=bob.headers),
        404,
        "not_found",
    )
    listed = await client.get(f"{API}/vendors", headers=bob.headers)
    assert listed.json()["data"]["items"] == []
    assert (await client.get(url, headers=alice.headers)).json()["data"] == alices_vendor


async def test_admins_read_every_users_vendor(
    client: httpx.AsyncClient, admin: Account, alices_vendor: dict[str, Any]
) -> None:
    url = f"{API}/sessions/{alices_vendor['session_id']}/vendor"
    assert (await client.get(url, headers=admin.headers)).json()["data"] == alices_vendor
    by_id = await client.get(f"{API}/vendors/{alices_vendor['id']}", headers=admin.headers)
    assert by_id.json()["data"] == alices_vendor
    listed = await client.get(f"{API}/vendors", params={"q": "acme"}, headers=admin.headers)
    assert alices_vendor["id"] in [v["id"] for v in listed.json()["data"]["items"]]


async def test_admins_cannot_change_another_users_vendor(
    client: httpx.AsyncClient, alice: Account, admin: Account, alices_vendor: dict[str, Any]
) -> None:
    url = f"{API}/sessions/{alices_vendor['session_id']}/vendor"
    body = {"name": "Admin's", "phone_number": OTHER_PHONE}
    assert_error(await client.post(url, json=body, headers=admin.headers), 403, "forbidden")
    assert_error(
        await client.patch(url, json={"name": "x"}, headers=admin.headers), 403, "forbidden"
    )
    assert_error(await client.delete(url, headers=admin.headers), 403, "forbidden")
    assert (await client.get(url, headers=alice.headers)).json()["data"] == alices_vendor


async def test_vendor_routes_need_a_token(
    client: httpx.AsyncClient, alices_vendor: dict[str, Any]
) -> None:
    url = f"{API}/sessions/{alices_vendor['session_id']}/vendor"
    for response in [
        await client.get(url),
        await client.post(url, json={"name": "x", "phone_number": PHONE}),
        await client.get(f"{API}/vendors"),
        await client.get(f"{API}/vendors/{alices_vendor['id']}"),
    ]:
        assert_error(response, 401, "unauthorized")
        assert response.headers["www-authenticate"] == "Bearer"


# Bad input -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "body",
    [
        {"name": "Acme", "phone_number": PHONE, "user_id": MISSING},
        {"name": "Acme", "phone_number": PHONE, "session_id": MISSING},
        {"name": "Acme", "phone_number": PHONE, "id": MISSING},
        {"name": "", "phone_number": PHONE},
        {"name": "   ", "phone_number": PHONE},
        {"name": "x" * 201, "phone_number": PHONE},
        {"name": "Ac\x00me", "phone_number": PHONE},
        {"name": "Acme"},
        {"phone_number": PHONE},
        {"name": "Acme", "phone_number": "4155552671"},
        {"name": "Acme", "phone_number": "+1"},
        {"name": "Acme", "phone_number": "+1415555\x002671"},
        {"name": "Acme", "phone_number": 14155552671},
        {"name": None, "phone_number": PHONE},
    ],
)
async def test_creating_a_vendor_refuses_bad_bodies(
    client: httpx.AsyncClient, alice: Account, body: dict[str, Any]
) -> None:
    sid = await new_chat_session(client, alice)
    response = await client.post(f"{API}/sessions/{sid}/vendor", json=body, headers=alice.headers)
    assert_error(response, 422, "validation_error")
    assert_error(
        await client.get(f"{API}/sessions/{sid}/vendor", headers=alice.headers), 404, "not_found"
    )


async def test_a_vendor_name_of_200_characters_is_accepted(
    client: httpx.AsyncClient, alice: Account
) -> None:
    sid = await new_chat_session(client, alice)
    vendor = await create_vendor(client, alice, sid, name="é" * 200)
    assert vendor["name"] == "é" * 200


@pytest.mark.parametrize(
    "body",
    [
        {"name": None},
        {"phone_number": None},
        {"name": ""},
        {"user_id": MISSING},
        {"id": MISSING},
        {"name": "x" * 201},
    ],
)
async def test_patching_a_vendor_refuses_bad_bodies(
    client: httpx.AsyncClient, alice: Account, alices_vendor: dict[str, Any], body: dict[str, Any]
) -> None:
    url = f"{API}/sessions/{alices_vendor['session_id']}/vendor"
    assert_error(await client.patch(url, json=body, headers=alice.headers), 422, "validation_error")
    assert (await client.get(url, headers=alice.headers)).json()["data"] == alices_vendor


@pytest.mark.parametrize("content", ["null", "[]", '"Acme"', "{bad json"])
async def test_a_vendor_body_must_be_a_json_object(
    client: httpx.AsyncClient, alice: Account, alices_vendor: dict[str, Any], content: str
) -> None:
    url = f"{API}/sessions/{alices_vendor['session_id']}/vendor"
    headers = {**alice.headers, "Content-Type": "application/json"}
    response = await client.patch(url, content=content, headers=headers)
    assert response.status_code in {400, 422}, response.text


async def test_non_uuid_ids_are_422(client: httpx.AsyncClient, alice: Account) -> None:
    assert_error(
        await client.get(f"{API}/sessions/nope/vendor", headers=alice.headers),
        422,
        "validation_error",
    )
    assert_error(
        await client.get(f"{API}/vendors/12345", headers=alice.headers), 422, "validation_error"
    )


@pytest.mark.parametrize(
    "params",
    [
        {"cursor": "garbage"},
        {"cursor": "eyJpZCI6IngifQ.AAAA"},
        {"cursor": "a.b.c"},
        {"cursor": "x" * 1025},
    ],
)
async def test_listing_vendors_with_a_bad_cursor_is_refused(
    client: httpx.AsyncClient, alice: Account, params: dict[str, str]
) -> None:
    response = await client.get(f"{API}/vendors", params=params, headers=alice.headers)
    assert response.status_code in {400, 422}, response.text


async def test_a_tampered_vendor_cursor_is_400(client: httpx.AsyncClient, alice: Account) -> None:
    for name in ["One", "Two"]:
        await create_vendor(client, alice, await new_chat_session(client, alice), name=name)
    page = (await client.get(f"{API}/vendors", params={"limit": 1}, headers=alice.headers)).json()
    cursor = page["data"]["next_cursor"]
    tampered = cursor[:-2] + ("AA" if not cursor.endswith("AA") else "BB")
    response = await client.get(
        f"{API}/vendors", params={"cursor": tampered}, headers=alice.headers
    )
    assert_error(response, 400, "bad_request")


@pytest.mark.parametrize(
    "params", [{"limit": 0}, {"limit": 101}, {"limit": "x"}, {"q": "a\x00b"}, {"q": "x" * 201}]
)
async def test_listing_vendors_refuses_bad_parameters(
    client: httpx.AsyncClient, alice: Account, params: dict[str, Any]
) -> None:
    response = await client.get(f"{API}/vendors", params=params, headers=alice.headers)
    assert_error(response, 422, "validation_error")


async def test_the_chat_session_shows_its_vendor(client: httpx.AsyncClient, alice: Account) -> None:
    sid = await new_chat_session(client, alice)
    vendor = await create_vendor(client, alice, sid)
    shown = await client.get(f"{API}/sessions/{sid}", headers=alice.headers)
    assert shown.json()["data"]["vendor"] == vendor
    await client.delete(f"{API}/sessions/{sid}/vendor", headers=alice.headers)
    shown = await client.get(f"{API}/sessions/{sid}", headers=alice.headers)
    assert shown.json()["data"]["vendor"] is None


async def test_deleting_a_chat_session_deletes_its_vendor_and_sellers(
    client: httpx.AsyncClient, alice: Account
) -> None:
    sid = await new_chat_session(client, alice)
    vendor = await create_vendor(client, alice, sid)
    seller = (
        await client.post(
            f"{API}/sessions/{sid}/sellers",
            json={"name": "Ana", "product": "Coffee"},
            headers=alice.headers,
        )
    ).json()["data"]
    assert (await client.delete(f"{API}/sessions/{sid}", headers=alice.headers)).status_code == 200
    assert_error(
        await client.get(f"{API}/vendors/{vendor['id']}", headers=alice.headers), 404, "not_found"
    )
    assert_error(
        await client.get(f"{API}/sellers/{seller['id']}", headers=alice.headers), 404, "not_found"
    )
    listed = await client.get(f"{API}/sellers", headers=alice.headers)
    assert listed.json()["data"]["items"] == []
