"""The catalogue's hot reads on the lean path (db/fast.py): a seller, pages and searches of
sellers, a chat session's vendor and the page of vendors, answered as the response bytes.

Each is the same use case as in SellerService or VendorService, with the same rules, ranking,
cursors and envelope, in one transaction of the unit of work; rows go straight to JSON.
"""

from typing import Any
from uuid import UUID

from parley.catalog.errors import SellerNotFound, VendorNotFound
from parley.catalog.repository import (
    RANK_NAME,
    SELLER_RANK,
    SELLER_RANKS,
    CatalogRows,
    SellerPosition,
)
from parley.chats.errors import ChatSessionNotFound
from parley.chats.repository import ChatRows
from parley.core.cursors import CursorCodec, InvalidCursor, cursor_uuid, list_scope
from parley.core.versioned_cache import VersionedCache
from parley.db.engine import Database
from parley.db.fast import Driver, Row, envelope, reading
from parley.models.user import Role, User


class CatalogHotPaths:
    def __init__(self, database: Database, cursors: CursorCodec, searches: VersionedCache) -> None:
        self.database = database
        self.cursors = cursors
        # Pages of seller searches, by the owner's catalogue version (decision 190).
        self.searches = searches

    async def get_seller(self, seller_id: UUID, *, viewer: User) -> bytes:
        async with reading(self.database) as conn:
            row = await CatalogRows(conn, conn.dialect).seller(seller_id, viewer)
        if row is None:
            raise SellerNotFound
        return envelope("Seller", _seller(conn, row))

    async def search_sellers(
        self, *, viewer: User, q: str | None, limit: int, cursor: str | None
    ) -> bytes:
        """The viewer's sellers across chat sessions (an admin's: everyone's)."""
        scope = list_scope("sellers", viewer.id, q)
        after = self._seller_after(cursor, scope)
        return await self._seller_search(
            (scope, limit, cursor), viewer, None, q=q, limit=limit, after=after, scope=scope
        )

    async def list_session_sellers(
        self, chat_session_id: UUID, *, viewer: User, q: str | None, limit: int, cursor: str | None
    ) -> bytes:
        """A readable chat session's sellers; 404 when the viewer may not read it."""
        # `q` ranks the sellers, so a cursor holds only within the same search.
        scope = list_scope("session-sellers", chat_session_id, q)
        after = self._seller_after(cursor, scope)
        key = (scope, viewer.id, limit, cursor)  # kept only for a viewer who may read it
        return await self._seller_search(
            key, viewer, chat_session_id, q=q, limit=limit, after=after, scope=scope
        )

    async def _seller_search(
        self,
        key: tuple[Any, ...],
        viewer: User,
        chat_session_id: UUID | None,
        *,
        q: str | None,
        limit: int,
        after: SellerPosition | None,
        scope: str,
    ) -> bytes:
        """A page of sellers (of one chat session, or all the viewer's), kept under `key` at
        the viewer's catalogue version when it is a search."""
        async with reading(self.database) as conn:
            catalog = CatalogRows(conn, conn.dialect)
            version = await self._search_version(catalog, viewer, q)
            if version is not None and (page := self.searches.get(key, version)) is not None:
                return page
            rows = await catalog.seller_page(
                viewer, chat_session_id=chat_session_id, q=q, limit=limit, after=after
            )
            # The visibility test is in the page's statement: only an empty page needs asking.
            if (
                chat_session_id is not None
                and not rows
                and not await ChatRows(conn, conn.dialect).is_visible(chat_session_id, viewer)
            ):
                raise ChatSessionNotFound
        page = self._seller_page(conn, rows, limit, scope, searched=bool(q))
        if version is not None:
            self.searches.put(key, version, page)
        return page

    async def _search_version(
        self, catalog: CatalogRows, viewer: User, q: str | None
    ) -> int | None:
        """The version a search's page is kept at: the viewer's catalogue's, read before the
        page. None when the page is not kept: no search (a keyset page is one cheap indexed
        read), or an admin's (everyone's sellers, which no one owner's version covers)."""
        if not q or viewer.role == Role.ADMIN:
            return None
        return await catalog.catalog_version(viewer.id)

    async def get_session_vendor(self, chat_session_id: UUID, *, viewer: User) -> bytes:
        async with reading(self.database) as conn:
            row = await CatalogRows(conn, conn.dialect).session_vendor(chat_session_id, viewer)
        if row is None:
            raise ChatSessionNotFound
        if row[1] is None:
            raise VendorNotFound
        return envelope("Vendor", _vendor(conn, row[1:]))

    async def list_vendors(
        self, *, viewer: User, q: str | None, limit: int, cursor: str | None
    ) -> bytes:
        """The viewer's vendors across chat sessions, newest first (an admin's: everyone's)."""
        scope = list_scope("vendors", viewer.id)
        after = self.cursors.decode_id(cursor, scope=scope)
        async with reading(self.database) as conn:
            rows = await CatalogRows(conn, conn.dialect).vendor_page(
                viewer, q=q, limit=limit, after=after
            )
        next_cursor = None
        if len(rows) > limit:
            rows = rows[:limit]
            next_cursor = self.cursors.encode({"id": conn.uuid_text(rows[-1][0])}, scope=scope)
        items = [_vendor(conn, row) for row in rows]
        return envelope("Vendors", {"items": items, "next_cursor": next_cursor})

    def _seller_after(self, cursor: str | None, scope: str) -> SellerPosition | None:
        if cursor is None:
            return None
        position = self.cursors.decode(cursor, scope=scope, expect=frozenset({"rank", "id"}))
        rank = position["rank"]
        if type(rank) is not int or rank not in SELLER_RANKS:
            raise InvalidCursor
        return SellerPosition(rank=rank, id=cursor_uuid(position["id"]))

    def _seller_page(
        self, conn: Driver, rows: list[Row], limit: int, scope: str, *, searched: bool
    ) -> bytes:
        next_cursor = None
        if len(rows) > limit:
            rows = rows[:limit]
            last = rows[-1]
            rank = int(last[SELLER_RANK]) if searched else RANK_NAME
            position = {"rank": rank, "id": conn.uuid_text(last[0])}
            next_cursor = self.cursors.encode(position, scope=scope)
        items = [_seller(conn, row) for row in rows]
        return envelope("Sellers", {"items": items, "next_cursor": next_cursor})


def _seller(conn: Driver, row: Row) -> dict[str, Any]:
    return {
        "id": conn.uuid_text(row[0]),
        "session_id": conn.uuid_text(row[1]),
        "name": row[2],
        "product": row[3],
        "description": row[4],
        "benefits": row[5],
        "image_url": row[6],
        "created_at": conn.json_time(row[7]),
        "updated_at": conn.json_time(row[8]),
    }


def _vendor(conn: Driver, row: Row) -> dict[str, Any]:
    return {
        "id": conn.uuid_text(row[0]),
        "session_id": conn.uuid_text(row[1]),
        "name": row[2],
        "phone_number": row[3],
        "created_at": conn.json_time(row[4]),
        "updated_at": conn.json_time(row[5]),
    }
