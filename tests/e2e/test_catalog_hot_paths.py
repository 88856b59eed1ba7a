"""The catalogue's hot reads run on the lean path: one statement on the driver connection, the
visibility rule in it, and answers byte for byte what the ORM use cases render."""

from typing import Any
from uuid import UUID

import httpx
from fastapi import FastAPI

from parley.catalog.errors import SellerNotFound, VendorNotFound
from parley.catalog.repository import SellerPosition
from parley.catalog.schemas import SellerRead, VendorRead
from parley.catalog.service import SellerService, VendorService
from parley.chats.errors import ChatSessionNotFound
from parley.core.cursors import InvalidCursor, cursor_uuid, list_scope
from parley.core.schemas import Envelope, Page
from parley.db.uow import UnitOfWork
from parley.http.errors import error_response
from parley.models.user import User
from tests.conftest import Account, assert_error
from tests.e2e.catalog_helpers import API, create_seller, create_vendor, new_chat_session
from tests.support.statements import Statements, statements_sent

MISSING = "0190a0b0-0000-7000-8000-000000000000"
_CATALOG_TABLES = ("sellers", "vendors", "chat_sessions")
SELLER_QUERIES = (None, "organic", "ORGANIC", "or", "É", "école", "STRASSE", "50%_", "zzz")


def catalog_orm(sent: Statements) -> list[str]:
    """The statements sent through SQLAlchemy that touch the catalogue's tables."""
    return [s for s in sent.orm if any(table in s for table in _CATALOG_TABLES)]


async def _catalogue(http: httpx.AsyncClient, who: Account) -> tuple[str, str]:
    """Two chat sessions: one with a vendor and sellers matching in every field, one bare."""
    sid = await new_chat_session(http, who)
    bare = await new_chat_session(http, who, title="Bare")
    await create_vendor(http, who, sid, name="École Acme")
    await create_vendor(http, who, await new_chat_session(http, who), name="Organic 50%_ Co")
    sellers = [
        ("Organic Farm", {"product": "Kale"}),
        ("Kale & Co", {"product": "Organic kale"}),
        ("Beans", {"description": "All ORGANIC", "benefits": "Fair"}),
        ("Teas", {"benefits": "organic leaves", "image_url": "https://example.com/t.png"}),
        ("École du thé", {"product": "Thé vert", "description": "Straße tea"}),
        ("Strasse Shop", {"product": "50%_off bread"}),
        ("Plain", {}),
    ]
    for name, fields in sellers:
        await create_seller(http, who, sid, name, **fields)
    return sid, bare


async def _warm(http: httpx.AsyncClient, *accounts: Account) -> None:
    """One authenticated request each first, so the caller's check is in the access cache."""
    for who in accounts:
        assert (await http.get(f"{API}/sessions", headers=who.headers)).status_code == 200


async def _user(app: FastAPI, http: httpx.AsyncClient, account: Account) -> User:
    me = await http.get(f"{API}/users/me", headers=account.headers)
    async with app.state.resources.database.sessions() as db:
        user = await db.get(User, UUID(me.json()["data"]["id"]))
    assert user is not None
    return user


async def _with_orm(app: FastAPI, service: type[Any], use_case: str, **kwargs: Any) -> Any:
    """Run a catalog use case on the ORM path in its own unit of work."""
    async with app.state.resources.database.sessions() as db:
        return await getattr(service(UnitOfWork(db)), use_case)(**kwargs)


def _error_bytes(error: Any) -> bytes:
    return bytes(error_response(error).body)


# Query counts


async def test_each_catalogue_read_is_one_statement_on_the_driver(
    app: FastAPI, client: httpx.AsyncClient, alice: Account, admin: Account
) -> None:
    sid, _ = await _catalogue(client, alice)
    await _warm(client, alice, admin)
    seller_id = (await client.get(f"{API}/sellers", headers=alice.headers)).json()["data"]["items"][
        0
    ]["id"]
    for who in (alice, admin):
        first = await client.get(f"{API}/sellers", params={"limit": 2}, headers=who.headers)
        reads = [
            (f"/sellers/{seller_id}", {}),
            ("/sellers", {}),
            ("/sellers", {"q": "organic"}),
            ("/sellers", {"q": "É"}),
            ("/sellers", {"limit": 2, "cursor": first.json()["data"]["next_cursor"]}),
            (f"/sessions/{sid}/sellers", {}),
            (f"/sessions/{sid}/sellers", {"q": "ORGANIC"}),
            (f"/sessions/{sid}/vendor", {}),
            ("/vendors", {}),
            ("/vendors", {"q": "acme"}),
        ]
        for path, params in reads:
            with statements_sent(app) as sent:
                response = await client.get(f"{API}{path}", params=params, headers=who.headers)
            assert response.status_code == 200, (path, params, response.text)
            assert response.json()["data"], (path, params)
            # An owner's search reads the catalogue's version first (decision 190).
            kept = who is alice and "q" in params and "sellers" in path
            assert len(sent.lean) == (2 if kept else 1), (path, params, sent.lean)
            assert catalog_orm(sent) == [], (path, params)


async def test_an_empty_session_seller_page_asks_once_more_whether_the_session_is_visible(
    app: FastAPI, client: httpx.AsyncClient, alice: Account, bob: Account
) -> None:
    _, bare = await _catalogue(client, alice)
    await _warm(client, alice, bob)
    with statements_sent(app) as sent:
        empty = await client.get(f"{API}/sessions/{bare}/sellers", headers=alice.headers)
    assert empty.status_code == 200 and empty.json()["data"]["items"] == []
    assert len(sent.lean) == 2 and catalog_orm(sent) == []
    with statements_sent(app) as sent:
        hidden = await client.get(f"{API}/sessions/{bare}/sellers", headers=bob.headers)
    assert_error(hidden, 404, "not_found")
    assert len(sent.lean) == 2 and catalog_orm(sent) == []


# The same bytes as the ORM path


def _seller_page_bytes(
    app: FastAPI, rows: list[Any], limit: int, scope: str, searched: bool
) -> bytes:
    """The page the ORM routes rendered from SellerService's rows."""
    items = rows[:limit]
    next_cursor = None
    if len(rows) > limit:
        seller, rank = items[-1]
        position = {"rank": rank if searched else 0, "id": str(seller.id)}
        next_cursor = app.state.resources.cursors.encode(position, scope=scope)
    page = Page[SellerRead](
        items=[SellerRead.model_validate(s) for s, _ in items], next_cursor=next_cursor
    )
    return Envelope[Page[SellerRead]](message="Sellers", data=page).model_dump_json().encode()


def _after(app: FastAPI, cursor: str | None, scope: str) -> SellerPosition | None:
    if cursor is None:
        return None
    position = app.state.resources.cursors.decode(
        cursor, scope=scope, expect=frozenset({"rank", "id"})
    )
    return SellerPosition(rank=position["rank"], id=cursor_uuid(position["id"]))


async def test_seller_pages_and_searches_are_the_bytes_the_orm_path_renders(
    app: FastAPI, client: httpx.AsyncClient, alice: Account, bob: Account, admin: Account
) -> None:
    sid, _ = await _catalogue(client, alice)
    await _catalogue(client, bob)
    for account in (alice, admin):
        viewer = await _user(app, client, account)
        for q in SELLER_QUERIES:
            for in_session in (False, True):
                if in_session:
                    url = f"{API}/sessions/{sid}/sellers"
                    scope = list_scope("session-sellers", UUID(sid), q)
                else:
                    url = f"{API}/sellers"
                    scope = list_scope("sellers", viewer.id, q)
                cursor: str | None = None
                for _ in range(20):
                    params: dict[str, Any] = {"limit": 2, **({"q": q} if q else {})}
                    if cursor:
                        params["cursor"] = cursor
                    response = await client.get(url, params=params, headers=account.headers)
                    kwargs: dict[str, Any] = {
                        "viewer": viewer,
                        "q": q,
                        "limit": 3,
                        "after": _after(app, cursor, scope),
                    }
                    if in_session:
                        kwargs["chat_session_id"] = UUID(sid)
                    use_case = "list_for_chat_session" if in_session else "search"
                    rows = await _with_orm(app, SellerService, use_case, **kwargs)
                    expected = _seller_page_bytes(app, rows, 2, scope, searched=bool(q))
                    assert response.content == expected, (url, params)
                    cursor = response.json()["data"]["next_cursor"]
                    if cursor is None:
                        break
        for item in (await client.get(f"{API}/sellers", headers=alice.headers)).json()["data"][
            "items"
        ]:
            read = await client.get(f"{API}/sellers/{item['id']}", headers=account.headers)
            seller = await _with_orm(
                app, SellerService, "get", seller_id=UUID(item["id"]), viewer=viewer
            )
            body = Envelope[SellerRead](message="Seller", data=SellerRead.model_validate(seller))
            assert read.content == body.model_dump_json().encode()


async def test_vendor_reads_and_pages_are_the_bytes_the_orm_path_renders(
    app: FastAPI, client: httpx.AsyncClient, alice: Account, bob: Account, admin: Account
) -> None:
    sid, _ = await _catalogue(client, alice)
    await _catalogue(client, bob)
    cursors = app.state.resources.cursors
    for account in (alice, admin):
        viewer = await _user(app, client, account)
        read = await client.get(f"{API}/sessions/{sid}/vendor", headers=account.headers)
        vendor = await _with_orm(
            app, VendorService, "get_for_chat_session", chat_session_id=UUID(sid), viewer=viewer
        )
        body = Envelope[VendorRead](message="Vendor", data=VendorRead.model_validate(vendor))
        assert read.content == body.model_dump_json().encode()
        scope = list_scope("vendors", viewer.id)
        for q in (None, "acme", "ÉCOLE", "50%_", "+1415", "zzz"):
            cursor: str | None = None
            for _ in range(20):
                params: dict[str, Any] = {"limit": 1, **({"q": q} if q else {})}
                if cursor:
                    params["cursor"] = cursor
                response = await client.get(
                    f"{API}/vendors", params=params, headers=account.headers
                )
                after = cursors.decode_id(cursor, scope=scope)
                rows = await _with_orm(
                    app, VendorService, "list_vendors", viewer=viewer, q=q, limit=2, after=after
                )
                next_cursor = None
                if len(rows) > 1:
                    next_cursor = cursors.encode_id(rows[0].id, scope=scope)
                page = Page[VendorRead](
                    items=[VendorRead.model_validate(v) for v in rows[:1]], next_cursor=next_cursor
                )
                expected = Envelope[Page[VendorRead]](message="Vendors", data=page)
                assert response.content == expected.model_dump_json().encode(), params
                cursor = next_cursor
                if cursor is None:
                    break


async def test_refusals_are_the_envelopes_the_orm_path_answers(
    app: FastAPI, client: httpx.AsyncClient, alice: Account, bob: Account, admin: Account
) -> None:
    sid, bare = await _catalogue(client, alice)
    seller_id = (await client.get(f"{API}/sellers", headers=alice.headers)).json()["data"]["items"][
        0
    ]["id"]
    not_found = _error_bytes(ChatSessionNotFound())
    refusals = [
        (bob, f"/sellers/{seller_id}", _error_bytes(SellerNotFound())),
        (admin, f"/sellers/{MISSING}", _error_bytes(SellerNotFound())),
        (bob, f"/sessions/{sid}/sellers", not_found),
        (admin, f"/sessions/{MISSING}/sellers", not_found),
        (bob, f"/sessions/{sid}/vendor", not_found),
        (admin, f"/sessions/{MISSING}/vendor", not_found),
        (alice, f"/sessions/{bare}/vendor", _error_bytes(VendorNotFound())),
        (admin, f"/sessions/{bare}/vendor", _error_bytes(VendorNotFound())),
    ]
    for who, path, expected in refusals:
        response = await client.get(f"{API}{path}", headers=who.headers)
        assert (response.status_code, response.content) == (404, expected), path
    invalid = _error_bytes(InvalidCursor())
    other_list = await client.get(f"{API}/sellers", params={"limit": 1}, headers=alice.headers)
    foreign = other_list.json()["data"]["next_cursor"]
    for path in ("/sellers", f"/sessions/{sid}/sellers", "/vendors"):
        for cursor in ("abc.def", foreign):
            if path == "/sellers" and cursor == foreign:
                continue
            response = await client.get(
                f"{API}{path}", params={"cursor": cursor}, headers=alice.headers
            )
            assert (response.status_code, response.content) == (400, invalid), (path, cursor)
        assert_error(await client.get(f"{API}{path}"), 401, "unauthorized")
        for params in ({"limit": 0}, {"limit": 101}):
            response = await client.get(f"{API}{path}", params=params, headers=alice.headers)
            assert_error(response, 422, "validation_error")
    # The cursor is checked before the session: a bad cursor on a hidden session is 400.
    hidden = await client.get(
        f"{API}/sessions/{sid}/sellers", params={"cursor": "abc.def"}, headers=bob.headers
    )
    assert (hidden.status_code, hidden.content) == (400, invalid)
    for path in (f"/sellers/{seller_id}", f"/sessions/{sid}/vendor"):
        assert_error(await client.get(f"{API}{path}"), 401, "unauthorized")
    assert_error(
        await client.get(f"{API}/sellers/not-a-uuid", headers=alice.headers),
        422,
        "validation_error",
    )
