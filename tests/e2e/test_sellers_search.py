"""Searching the caller's sellers: best matches first, in an order pages keep."""

import httpx

from tests.conftest import Account
from tests.e2e.catalog_helpers import API, collect_pages, create_seller, new_chat_session


async def names(http: httpx.AsyncClient, account: Account, q: str) -> list[str]:
    response = await http.get(f"{API}/sellers", params={"q": q}, headers=account.headers)
    assert response.status_code == 200, response.text
    return [s["name"] for s in response.json()["data"]["items"]]


async def test_name_matches_come_before_product_before_description_and_benefits(
    client: httpx.AsyncClient, alice: Account
) -> None:
    sid = await new_chat_session(client, alice)
    other = await new_chat_session(client, alice)
    await create_seller(client, alice, sid, "Benefits", product="Tea", benefits="Mocha free")
    await create_seller(client, alice, sid, "Mocha Max", product="Tea")
    await create_seller(client, alice, other, "Product", product="mocha beans")
    await create_seller(client, alice, sid, "Describer", product="Tea", description="A MOCHA blend")
    await create_seller(client, alice, other, "THE MOCHA", product="Mocha too")
    await create_seller(client, alice, sid, "Unrelated", product="Tea")
    expected = ["THE MOCHA", "Mocha Max", "Product", "Describer", "Benefits"]
    assert await names(client, alice, "mocha") == expected
    for limit in [1, 2, 3]:
        paged = await collect_pages(client, f"{API}/sellers", alice, q="Mocha", limit=limit)
        assert [s["name"] for s in paged] == expected


async def test_the_search_order_survives_new_sellers_between_pages(
    client: httpx.AsyncClient, alice: Account
) -> None:
    sid = await new_chat_session(client, alice)
    await create_seller(client, alice, sid, "Latte One")
    await create_seller(client, alice, sid, "Plain", product="latte")
    first = await client.get(
        f"{API}/sellers", params={"q": "latte", "limit": 1}, headers=alice.headers
    )
    page = first.json()["data"]
    assert [s["name"] for s in page["items"]] == ["Latte One"]
    await create_seller(client, alice, sid, "Latte Two")
    rest = await client.get(
        f"{API}/sellers",
        params={"q": "latte", "cursor": page["next_cursor"]},
        headers=alice.headers,
    )
    assert [s["name"] for s in rest.json()["data"]["items"]] == ["Plain"]


async def test_search_is_case_insensitive_on_every_field(
    client: httpx.AsyncClient, alice: Account
) -> None:
    sid = await new_chat_session(client, alice)
    await create_seller(client, alice, sid, "Ana", product="Green TEA", description="Loose Leaf")
    await create_seller(client, alice, sid, "Bo", benefits="FREE Shipping")
    assert await names(client, alice, "ANA") == ["Ana"]
    assert await names(client, alice, "green tea") == ["Ana"]
    assert await names(client, alice, "loose LEAF") == ["Ana"]
    assert await names(client, alice, "free shipping") == ["Bo"]
    assert await names(client, alice, "nothing like it") == []


async def test_search_treats_like_wildcards_literally(
    client: httpx.AsyncClient, alice: Account
) -> None:
    sid = await new_chat_session(client, alice)
    await create_seller(client, alice, sid, "100% Arabica")
    await create_seller(client, alice, sid, "snake_case")
    await create_seller(client, alice, sid, "Back\\slash")
    await create_seller(client, alice, sid, "Plain", product="Slash/Dot")
    assert await names(client, alice, "%") == ["100% Arabica"]
    assert await names(client, alice, "_") == ["snake_case"]
    assert await names(client, alice, "\\") == ["Back\\slash"]
    assert await names(client, alice, "/") == ["Plain"]
    assert await names(client, alice, "e_c") == ["snake_case"]


async def test_search_folds_case_beyond_ascii_in_names(
    client: httpx.AsyncClient, alice: Account
) -> None:
    sid = await new_chat_session(client, alice)
    await create_seller(client, alice, sid, "Straße Café")
    await create_seller(client, alice, sid, "ÉCOLE")
    assert await names(client, alice, "STRASSE") == ["Straße Café"]
    assert await names(client, alice, "CAFÉ") == ["Straße Café"]
    assert await names(client, alice, "école") == ["ÉCOLE"]


async def test_an_empty_q_lists_everything_newest_first(
    client: httpx.AsyncClient, alice: Account
) -> None:
    sid = await new_chat_session(client, alice)
    for name in ["A", "B", "C"]:
        await create_seller(client, alice, sid, name)
    assert await names(client, alice, "   ") == ["C", "B", "A"]
