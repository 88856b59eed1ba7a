"""A chat session's sellers: many per session, names unique per session ignoring case."""

from typing import Any

import httpx
import pytest

from tests.conftest import Account, assert_error
from tests.e2e.catalog_helpers import (
    API,
    collect_pages,
    create_seller,
    new_chat_session,
    seller_count,
)

MISSING = "0190a0b0-0000-7000-8000-000000000000"
SELLER_FIELDS = {
    "id",
    "session_id",
    "name",
    "product",
    "description",
    "benefits",
    "image_url",
    "created_at",
    "updated_at",
}


@pytest.fixture
async def sid(client: httpx.AsyncClient, alice: Account) -> str:
    return await new_chat_session(client, alice)


@pytest.fixture
async def alices_seller(client: httpx.AsyncClient, alice: Account, sid: str) -> dict[str, Any]:
    return await create_seller(
        client,
        alice,
        sid,
        "Ana",
        description="Single-origin beans",
        benefits="Free delivery",
        image_url="https://cdn.example.com/ana.png",
    )


async def test_creating_a_seller_returns_every_field(
    client: httpx.AsyncClient, alice: Account, sid: str
) -> None:
    body = {
        "name": "  Ana  ",
        "product": " Coffee ",
        "description": "Roasted weekly",
        "benefits": "Free delivery",
        "image_url": "https://cdn.example.com/a.png?size=2",
    }
    response = await client.post(f"{API}/sessions/{sid}/sellers", json=body, headers=alice.headers)
    assert response.status_code == 201, response.text
    seller = response.json()["data"]
    assert set(seller) == SELLER_FIELDS
    assert seller["session_id"] == sid
    assert (seller["name"], seller["product"]) == ("Ana", "Coffee")
    assert seller["image_url"] == body["image_url"]


async def test_optional_seller_fields_default_to_null(
    client: httpx.AsyncClient, alice: Account, sid: str
) -> None:
    seller = await create_seller(client, alice, sid, "Bo")
    assert seller["description"] is None
    assert seller["benefits"] is None
    assert seller["image_url"] is None


@pytest.mark.parametrize(
    ("first", "second"), [("Ana", "ANA"), ("Ana", " ana "), ("Straße", "STRASSE")]
)
async def test_seller_names_are_unique_per_session_ignoring_case(
    client: httpx.AsyncClient, alice: Account, sid: str, first: str, second: str
) -> None:
    await create_seller(client, alice, sid, first)
    response = await client.post(
        f"{API}/sessions/{sid}/sellers",
        json={"name": second, "product": "Tea"},
        headers=alice.headers,
    )
    body = assert_error(response, 409, "conflict")
    assert [d["field"] for d in body["error"]["details"]] == ["body.name"]


async def test_the_same_seller_name_may_be_used_in_another_session(
    client: httpx.AsyncClient, alice: Account, sid: str
) -> None:
    await create_seller(client, alice, sid, "Ana")
    other = await new_chat_session(client, alice)
    assert (await create_seller(client, alice, other, "ana"))["session_id"] == other


async def test_seller_count_follows_creates_and_deletes(
    client: httpx.AsyncClient, alice: Account, sid: str
) -> None:
    created = [await create_seller(client, alice, sid, name) for name in ["A", "B", "C"]]
    conflict = await client.post(
        f"{API}/sessions/{sid}/sellers", json={"name": "a", "product": "x"}, headers=alice.headers
    )
    assert conflict.status_code == 409
    assert await seller_count(client, alice, sid) == 3
    response = await client.delete(f"{API}/sellers/{created[0]['id']}", headers=alice.headers)
    assert response.status_code == 200
    assert response.json()["status"] == "success"
    assert await seller_count(client, alice, sid) == 2
    again = await client.delete(f"{API}/sellers/{created[0]['id']}", headers=alice.headers)
    assert_error(again, 404, "not_found")
    assert await seller_count(client, alice, sid) == 2


async def test_reading_a_seller_by_id(
    client: httpx.AsyncClient, alice: Account, alices_seller: dict[str, Any]
) -> None:
    response = await client.get(f"{API}/sellers/{alices_seller['id']}", headers=alice.headers)
    assert response.status_code == 200
    assert response.json()["data"] == alices_seller
    missing = await client.get(f"{API}/sellers/{MISSING}", headers=alice.headers)
    assert_error(missing, 404, "not_found")


async def test_patching_a_seller_changes_only_the_given_fields(
    client: httpx.AsyncClient, alice: Account, alices_seller: dict[str, Any]
) -> None:
    url = f"{API}/sellers/{alices_seller['id']}"
    response = await client.patch(
        url, json={"product": " Tea ", "benefits": None}, headers=alice.headers
    )
    assert response.status_code == 200, response.text
    seller = response.json()["data"]
    assert seller["product"] == "Tea"
    assert seller["benefits"] is None
    assert seller["name"] == alices_seller["name"]
    assert seller["description"] == alices_seller["description"]
    assert seller["image_url"] == alices_seller["image_url"]
    assert seller["updated_at"] >= alices_seller["updated_at"]
    assert (await client.get(url, headers=alice.headers)).json()["data"] == seller


async def test_renaming_a_seller_to_its_own_name_in_other_case_is_allowed(
    client: httpx.AsyncClient, alice: Account, alices_seller: dict[str, Any]
) -> None:
    url = f"{API}/sellers/{alices_seller['id']}"
    response = await client.patch(url, json={"name": "ANA"}, headers=alice.headers)
    assert response.status_code == 200, response.text
    assert response.json()["data"]["name"] == "ANA"


async def test_renaming_a_seller_to_a_taken_name_is_409(
    client: httpx.AsyncClient, alice: Account, sid: str, alices_seller: dict[str, Any]
) -> None:
    other = await create_seller(client, alice, sid, "Bo")
    url = f"{API}/sellers/{other['id']}"
    body = assert_error(
        await client.patch(url, json={"name": "aNa"}, headers=alice.headers), 409, "conflict"
    )
    assert body["error"]["details"][0]["field"] == "body.name"
    assert (await client.get(url, headers=alice.headers)).json()["data"]["name"] == "Bo"


async def test_listing_a_sessions_sellers_pages_newest_first(
    client: httpx.AsyncClient, alice: Account, sid: str
) -> None:
    names = [f"Seller {i}" for i in range(5)]
    for name in names:
        await create_seller(client, alice, sid, name)
    elsewhere = await new_chat_session(client, alice)
    await create_seller(client, alice, elsewhere, "Elsewhere")
    items = await collect_pages(client, f"{API}/sessions/{sid}/sellers", alice, limit=2)
    assert [s["name"] for s in items] == list(reversed(names))


async def test_listing_a_sessions_sellers_filters_by_q(
    client: httpx.AsyncClient, alice: Account, sid: str
) -> None:
    await create_seller(client, alice, sid, "Ana", product="Coffee")
    await create_seller(client, alice, sid, "Bo", product="Tea", benefits="Organic COFFEE too")
    await create_seller(client, alice, sid, "Cy", product="Juice")
    response = await client.get(
        f"{API}/sessions/{sid}/sellers", params={"q": "coffee"}, headers=alice.headers
    )
    assert [s["name"] for s in response.json()["data"]["items"]] == ["Ana", "Bo"]


async def test_listing_sellers_spans_the_callers_sessions(
    client: httpx.AsyncClient, alice: Account, bob: Account, sid: str
) -> None:
    other = await new_chat_session(client, alice)
    await create_seller(client, alice, sid, "One")
    await create_seller(client, alice, other, "Two")
    await create_seller(client, bob, await new_chat_session(client, bob), "Bobs")
    items = await collect_pages(client, f"{API}/sellers", alice, limit=1)
    assert [s["name"] for s in items] == ["Two", "One"]


# Ownership -----------------------------------------------------------------------------------


async def test_another_users_sellers_are_404_and_stay_unchanged(
    client: httpx.AsyncClient, alice: Account, bob: Account, alices_seller: dict[str, Any]
) -> None:
    url = f"{API}/sellers/{alices_seller['id']}"
    session_url = f"{API}/sessions/{alices_seller['session_id']}/sellers"
    assert_error(await client.get(url, headers=bob.headers), 404, "not_found")
    assert_error(
        await client.patch(url, json={"name": "Mine"}, headers=bob.headers), 404, "not_found"
    )
    assert_error(await client.delete(url, headers=bob.headers), 404, "not_found")
    assert_error(await client.get(session_url, headers=bob.headers), 404, "not_found")
    created = await client.post(
        session_url, json={"name": "Intruder", "product": "x"}, headers=bob.headers
    )
    assert_error(created, 404, "not_found")
    for params in [{}, {"q": "ana"}]:
        listed = await client.get(f"{API}/sellers", params=params, headers=bob.headers)
        assert listed.json()["data"]["items"] == []
    assert (await client.get(url, headers=alice.headers)).json()["data"] == alices_seller
    names = [
        s["name"]
        for s in (await client.get(session_url, headers=alice.headers)).json()["data"]["items"]
    ]
    assert names == ["Ana"]


async def test_admins_read_every_users_sellers(
    client: httpx.AsyncClient, admin: Account, alices_seller: dict[str, Any]
) -> None:
    url = f"{API}/sellers/{alices_seller['id']}"
    session_url = f"{API}/sessions/{alices_seller['session_id']}/sellers"
    assert (await client.get(url, headers=admin.headers)).json()["data"] == alices_seller
    listed = (await client.get(session_url, headers=admin.headers)).json()["data"]["items"]
    assert listed == [alices_seller]
    for params in [{}, {"q": "ANA"}]:
        found = await client.get(f"{API}/sellers", params=params, headers=admin.headers)
        assert alices_seller["id"] in [s["id"] for s in found.json()["data"]["items"]]


async def test_admins_cannot_change_another_users_sellers(
    client: httpx.AsyncClient,
    alice: Account,
    admin: Account,
    alices_seller: dict[str, Any],
) -> None:
    url = f"{API}/sellers/{alices_seller['id']}"
    sid = alices_seller["session_id"]
    created = await client.post(
        f"{API}/sessions/{sid}/sellers",
        json={"name": "Admin", "product": "x"},
        headers=admin.headers,
    )
    assert_error(created, 403, "forbidden")
    assert_error(
        await client.patch(url, json={"name": "x"}, headers=admin.headers), 403, "forbidden"
    )
    assert_error(await client.delete(url, headers=admin.headers), 403, "forbidden")
    assert (await client.get(url, headers=alice.headers)).json()["data"] == alices_seller
    assert await seller_count(client, alice, sid) == 1


async def test_seller_routes_need_a_token(
    client: httpx.AsyncClient, alices_seller: dict[str, Any]
) -> None:
    for response in [
        await client.get(f"{API}/sellers"),
        await client.get(f"{API}/sellers/{alices_seller['id']}"),
        await client.delete(f"{API}/sellers/{alices_seller['id']}"),
        await client.get(f"{API}/sessions/{alices_seller['session_id']}/sellers"),
    ]:
        assert_error(response, 401, "unauthorized")


async def test_seller_routes_on_a_missing_session_are_404(
    client: httpx.AsyncClient, alice: Account
) -> None:
    url = f"{API}/sessions/{MISSING}/sellers"
    created = await client.post(url, json={"name": "A", "product": "B"}, headers=alice.headers)
    assert_error(created, 404, "not_found")
    assert_error(await client.get(url, headers=alice.headers), 404, "not_found")


# Bad input -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "extra",
    [
        {"user_id": MISSING},
        {"session_id": MISSING},
        {"id": MISSING},
        {"name": ""},
        {"name": "  "},
        {"name": "x" * 101},
        {"name": None},
        {"name": "A\x00na"},
        {"product": ""},
        {"product": "x" * 201},
        {"description": "x" * 4001},
        {"benefits": "x" * 4001},
        {"description": ""},
        {"benefits": "\x00"},
        {"image_url": "javascript:alert(1)"},
        {"image_url": "ftp://example.com/a.png"},
        {"image_url": "data:image/png;base64,AAAA"},
        {"image_url": "http://"},
        {"image_url": "https:///a.png"},
        {"image_url": "http:example.com/a.png"},
        {"image_url": "//example.com/a.png"},
        {"image_url": "example.com/a.png"},
        {"image_url": "https://exa mple.com/a.png"},
        {"image_url": "https://example.com/\x00.png"},
        {"image_url": "https://example.com:99999/a.png"},
        {"image_url": "https://user:secret@example.com/a.png"},
        {"image_url": "https://example.com/" + "a" * 2029},
        {"image_url": 12},
    ],
)
async def test_creating_a_seller_refuses_bad_bodies(
    client: httpx.AsyncClient, alice: Account, sid: str, extra: dict[str, Any]
) -> None:
    body = {"name": "Ana", "product": "Coffee", **extra}
    response = await client.post(f"{API}/sessions/{sid}/sellers", json=body, headers=alice.headers)
    assert_error(response, 422, "validation_error")
    assert "secret" not in response.text
    assert await seller_count(client, alice, sid) == 0


async def test_the_longest_allowed_seller_fields_are_accepted(
    client: httpx.AsyncClient, alice: Account, sid: str
) -> None:
    url = "https://example.com/" + "a" * 2028
    seller = await create_seller(
        client,
        alice,
        sid,
        "ñ" * 100,
        product="é" * 200,
        description="ü" * 4000,
        benefits="b" * 4000,
        image_url=url,
    )
    assert len(seller["image_url"]) == 2048
    assert seller["description"] == "ü" * 4000


@pytest.mark.parametrize(
    "body",
    [
        {"name": None},
        {"product": None},
        {"name": ""},
        {"session_id": MISSING},
        {"user_id": MISSING},
        {"image_url": "javascript:alert(1)"},
        {"description": "x" * 4001},
    ],
)
async def test_patching_a_seller_refuses_bad_bodies(
    client: httpx.AsyncClient, alice: Account, alices_seller: dict[str, Any], body: dict[str, Any]
) -> None:
    url = f"{API}/sellers/{alices_seller['id']}"
    assert_error(await client.patch(url, json=body, headers=alice.headers), 422, "validation_error")
    assert (await client.get(url, headers=alice.headers)).json()["data"] == alices_seller


async def test_non_uuid_seller_ids_are_422(client: httpx.AsyncClient, alice: Account) -> None:
    for response in [
        await client.get(f"{API}/sellers/nope", headers=alice.headers),
        await client.patch(f"{API}/sellers/1", json={}, headers=alice.headers),
        await client.delete(f"{API}/sellers/%00", headers=alice.headers),
        await client.get(f"{API}/sessions/nope/sellers", headers=alice.headers),
    ]:
        assert_error(response, 422, "validation_error")


@pytest.mark.parametrize("params", [{"limit": 0}, {"limit": 101}, {"q": "a\x00"}, {"q": "q" * 201}])
async def test_listing_sellers_refuses_bad_parameters(
    client: httpx.AsyncClient, alice: Account, sid: str, params: dict[str, Any]
) -> None:
    for url in [f"{API}/sellers", f"{API}/sessions/{sid}/sellers"]:
        response = await client.get(url, params=params, headers=alice.headers)
        assert_error(response, 422, "validation_error")


async def test_a_tampered_seller_cursor_is_400(
    client: httpx.AsyncClient, alice: Account, sid: str
) -> None:
    for name in ["One", "Two"]:
        await create_seller(client, alice, sid, name)
    for url in [f"{API}/sellers", f"{API}/sessions/{sid}/sellers"]:
        page = (await client.get(url, params={"limit": 1}, headers=alice.headers)).json()
        cursor = page["data"]["next_cursor"]
        payload, signature = cursor.split(".")
        for tampered in [payload + "x." + signature, payload + "." + signature[::-1], "garbage"]:
            response = await client.get(url, params={"cursor": tampered}, headers=alice.headers)
            assert_error(response, 400, "bad_request")


async def test_a_vendor_cursor_is_not_a_seller_cursor(
    client: httpx.AsyncClient, alice: Account, sid: str
) -> None:
    for name in ["One", "Two"]:
        await create_seller(client, alice, sid, name)
        vendor_sid = await new_chat_session(client, alice)
        await client.post(
            f"{API}/sessions/{vendor_sid}/vendor",
            json={"name": name, "phone_number": "+14155552671"},
            headers=alice.headers,
        )
    vendors = await client.get(f"{API}/vendors", params={"limit": 1}, headers=alice.headers)
    cursor = vendors.json()["data"]["next_cursor"]
    response = await client.get(f"{API}/sellers", params={"cursor": cursor}, headers=alice.headers)
    assert_error(response, 400, "bad_request")
