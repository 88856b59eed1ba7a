"""One table of searches, one expected answer each, whatever database the suite runs on.

Sellers, chat-session titles and vendors match a query contained in them with case folded by
Unicode's simple case mapping and accents kept (decision 095); seller names also fold like their
uniqueness (ß = ss). Short queries (under three characters, no trigram) answer the same as long
ones. The cases are the ones SQLite, PostgreSQL and MariaDB agree on; the decision lists the rest.
"""

# ruff: noqa: RUF001 - the Cyrillic and Greek letters are the point of these cases.

from typing import Any

import httpx
import pytest

from tests.conftest import Account
from tests.e2e.catalog_helpers import API, create_seller, create_vendor, new_chat_session

# (name, product, description, benefits), created in this order: later ones are newer.
CATALOGUE = [
    ("Mocha Max", "Tea", None, None),
    ("Benefits", "Tea", None, "Mocha free"),
    ("Describer", "Tea", "A MOCHA blend", None),
    ("Product", "mocha beans", None, None),
    ("THE MOCHA", "Mocha too", None, None),
    ("École Verte", "Cahiers", "Papeterie ÉCOLOGIQUE", None),
    ("Straße Café", "Kaffee", None, "Größe XL"),
    ("100% Arabica", "Coffee beans", None, None),
    ("snake_case", "Code", None, None),
    ("Back\\slash", "Tools", None, None),
    ("Plain", "Slash/Dot", None, None),
    ("Σοφία", "ΒΙΒΛΊΑ", "Москва", None),
    ("Ana", "Green TEA", "Loose Leaf", None),
    ("ÅNGSTRÖM", "Lab kit", None, None),
    ('Say "Hi"', "Quotes", None, None),
    ("Star", "5* Hotel", None, "NEAR(a b) AND c"),
]

SELLER_SEARCHES = [
    # ranking: name, then product, then description or benefits; ties newest first
    ("mocha", ["THE MOCHA", "Mocha Max", "Product", "Describer", "Benefits"]),
    ("mo", ["THE MOCHA", "Mocha Max", "Product", "Describer", "Benefits"]),
    ("tea", ["Ana", "Describer", "Benefits", "Mocha Max"]),
    # multi-word
    ("MOCHA BLEND", ["Describer"]),
    ("loose leaf", ["Ana"]),
    ("green tea", ["Ana"]),
    # Unicode case folding, long and short, no accent folding
    ("écol", ["École Verte"]),
    ("ÉCOLE", ["École Verte"]),
    ("écologique", ["École Verte"]),
    ("ecol", []),
    ("é", ["Straße Café", "École Verte"]),
    ("É", ["Straße Café", "École Verte"]),
    ("ö", ["ÅNGSTRÖM", "Straße Café"]),
    ("Ö", ["ÅNGSTRÖM", "Straße Café"]),
    ("ångström", ["ÅNGSTRÖM"]),
    ("GRÖßE", ["Straße Café"]),
    ("grösse", []),
    ("STRASSE", ["Straße Café"]),
    ("ΣΟΦΊΑ", ["Σοφία"]),
    ("βιβλία", ["Σοφία"]),
    ("МОСКВА", ["Σοφία"]),
    ("м", ["Σοφία"]),
    ("xl", ["Straße Café"]),
    # LIKE wildcards, GLOB and FTS5 syntax, all literal
    ("%", ["100% Arabica"]),
    ("0% a", ["100% Arabica"]),
    ("_", ["snake_case"]),
    ("e_c", ["snake_case"]),
    ("\\", ["Back\\slash"]),
    ("/", ["Plain"]),
    ("h/d", ["Plain"]),
    ("*", ["Star"]),
    ("5* h", ["Star"]),
    ("[", []),
    ('"hi"', ['Say "Hi"']),
    ('"', ['Say "Hi"']),
    ("near(a b)", ["Star"]),
    ("a b) and", ["Star"]),
    ("nothing like it", []),
]


async def _names(http: httpx.AsyncClient, url: str, account: Account, q: str) -> list[str]:
    response = await http.get(url, params={"q": q, "limit": 100}, headers=account.headers)
    assert response.status_code == 200, response.text
    return [item.get("name", item.get("title")) for item in response.json()["data"]["items"]]


async def _seed_catalogue(http: httpx.AsyncClient, alice: Account, bob: Account) -> list[str]:
    sessions = [await new_chat_session(http, alice), await new_chat_session(http, alice)]
    for i, (name, product, description, benefits) in enumerate(CATALOGUE):
        fields: dict[str, Any] = {"product": product}
        fields |= {"description": description} if description else {}
        fields |= {"benefits": benefits} if benefits else {}
        await create_seller(http, alice, sessions[i % 2], name, **fields)
    # Someone else's matches never show.
    theirs = await new_chat_session(http, bob)
    await create_seller(http, bob, theirs, "Mocha École", product="ΒΙΒΛΊΑ", benefits="100% _*")
    return sessions


@pytest.mark.parametrize(("q", "expected"), SELLER_SEARCHES, ids=[q for q, _ in SELLER_SEARCHES])
async def test_seller_search_answers_the_table(
    client: httpx.AsyncClient, alice: Account, bob: Account, q: str, expected: list[str]
) -> None:
    sessions = await _seed_catalogue(client, alice, bob)
    assert await _names(client, f"{API}/sellers", alice, q) == expected
    in_sessions = [
        await _names(client, f"{API}/sessions/{sid}/sellers", alice, q) for sid in sessions
    ]
    # Each session's list keeps the same order, restricted to its own sellers.
    assert sorted(name for names in in_sessions for name in names) == sorted(expected)
    for names in in_sessions:
        assert names == [name for name in expected if name in names]


TITLES = ["Café Orders", "ÉTÉ 2024", "Москва trip", "100% done", "snake_case notes", "Ana's"]

TITLE_SEARCHES = [
    ("café", ["Café Orders"]),
    ("CAFÉ ORD", ["Café Orders"]),
    ("été", ["ÉTÉ 2024"]),
    ("é", ["ÉTÉ 2024", "Café Orders"]),
    ("ete", []),
    ("москва", ["Москва trip"]),
    ("МО", ["Москва trip"]),
    ("%", ["100% done"]),
    ("0% d", ["100% done"]),
    ("_", ["snake_case notes"]),
    ("'", ["Ana's"]),
    ("a's", ["Ana's"]),
]


@pytest.mark.parametrize(("q", "expected"), TITLE_SEARCHES, ids=[q for q, _ in TITLE_SEARCHES])
async def test_title_search_answers_the_table(
    client: httpx.AsyncClient, alice: Account, bob: Account, q: str, expected: list[str]
) -> None:
    for title in TITLES:
        await new_chat_session(client, alice, title=title)
    await new_chat_session(client, bob, title="Café ÉTÉ Москва 100% _'")
    # Most recently active first: the newest session first.
    assert await _names(client, f"{API}/sessions", alice, q) == expected


VENDORS = ["Éclair Bakery", "MOSCOW Mart", "Ölmühle", "50% Off"]

VENDOR_SEARCHES = [
    ("éclair", ["Éclair Bakery"]),
    ("ÉC", ["Éclair Bakery"]),
    ("eclair", []),
    ("moscow", ["MOSCOW Mart"]),
    ("öl", ["Ölmühle"]),
    ("ÖLMÜHLE", ["Ölmühle"]),
    ("%", ["50% Off"]),
]


@pytest.mark.parametrize(("q", "expected"), VENDOR_SEARCHES, ids=[q for q, _ in VENDOR_SEARCHES])
async def test_vendor_search_answers_the_table(
    client: httpx.AsyncClient, alice: Account, q: str, expected: list[str]
) -> None:
    for name in VENDORS:
        await create_vendor(client, alice, await new_chat_session(client, alice), name=name)
    assert await _names(client, f"{API}/vendors", alice, q) == expected


async def test_edits_reach_the_search_at_once(client: httpx.AsyncClient, alice: Account) -> None:
    sid = await new_chat_session(client, alice)
    seller = await create_seller(client, alice, sid, "Ana", product="Écru linen")
    url = f"{API}/sellers/{seller['id']}"
    response = await client.patch(url, json={"product": "Ölive oil"}, headers=alice.headers)
    assert response.status_code == 200, response.text
    assert await _names(client, f"{API}/sellers", alice, "ÉCRU") == []
    assert await _names(client, f"{API}/sellers", alice, "ÖLIVE") == ["Ana"]
    response = await client.patch(
        f"{API}/sessions/{sid}", json={"title": "Été sale"}, headers=alice.headers
    )
    assert response.status_code == 200, response.text
    assert await _names(client, f"{API}/sessions", alice, "ÉTÉ SALE") == ["Été sale"]
    assert await _names(client, f"{API}/sessions", alice, "shop") == []
    assert (await client.delete(url, headers=alice.headers)).status_code == 200
    assert await _names(client, f"{API}/sellers", alice, "ÖLIVE") == []


async def test_a_deleted_chat_session_leaves_nothing_to_find(
    client: httpx.AsyncClient, alice: Account
) -> None:
    gone = await new_chat_session(client, alice, title="Éphémère")
    await create_seller(client, alice, gone, "Zèbre", product="Ébène")
    assert await _names(client, f"{API}/sellers", alice, "ÉBÈNE") == ["Zèbre"]
    response = await client.delete(f"{API}/sessions/{gone}", headers=alice.headers)
    assert response.status_code == 200, response.text
    # New rows may take the deleted rows' places (SQLite reuses the highest rowid).
    kept = await new_chat_session(client, alice, title="Plain")
    await create_seller(client, alice, kept, "Plain", product="Oak")
    assert await _names(client, f"{API}/sellers", alice, "ZÈBRE") == []
    assert await _names(client, f"{API}/sellers", alice, "ÉBÈNE") == []
    assert await _names(client, f"{API}/sessions", alice, "ÉPHÉMÈRE") == []
    assert await _names(client, f"{API}/sellers", alice, "OAK") == ["Plain"]
